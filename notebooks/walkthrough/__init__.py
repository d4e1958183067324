"""The walkthrough notebook's helpers, one job a module, so each cell stays short.

`connect` reads the deployed system (the stacks on AWS, `connection.json` locally) into a
`Config`; everything after goes through it. Only `walkthrough.local` starts or reads the local
cloud: on the project's SageMaker notebook instance this folder sits next to the notebook,
without it. `registry` and `monitoring` import project modules the instance does not have yet
(`model_registry`; `localcloud.monitoring_runs`, SageMaker API calls only): see the README.
"""
