"""The walkthrough notebook's helpers, one job a module, so each cell stays short.

`connect` reads the deployed system (the stacks on AWS, `connection.json` locally) into a
`Config`; everything after goes through it. Only `walkthrough.local` imports the local cloud:
on the project's SageMaker notebook instance this folder sits next to the notebook, without it.
"""
