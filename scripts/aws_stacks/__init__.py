"""Deploy both stacks to AWS from a parameters file, or tear a project down.

deploy: create or update `<project>-prep`, package the Lambda zips and upload them (and the
pipeline template, too big to pass inline) to its Lambda-code bucket, then create or update
`<project>-pipeline` with the uploaded object versions, so changed code updates the functions.
destroy: delete the SageMaker endpoints, endpoint configurations and models the pipeline made,
empty the stacks' versioned buckets, then delete both stacks; safe to run again.
Credentials, region and endpoint come from the usual AWS environment (AWS_PROFILE, AWS_REGION or
AWS_DEFAULT_REGION, AWS_ENDPOINT_URL).
Usage: python -m scripts.aws_stacks deploy --params deploy/parameters.json [--dist dist/lambdas]
       python -m scripts.aws_stacks destroy --project NAME [--yes]
"""
