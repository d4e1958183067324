"""The local CodePipeline: pipeline definition, runner, local build and the job API."""
