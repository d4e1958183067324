"""The model registry from a shell: list, show, approve and reject the project's versions."""
