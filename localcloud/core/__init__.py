"""What every local AWS service shares: HTTP serving, SigV4 checks, model validation, errors."""
