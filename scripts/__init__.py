"""The project's command-line scripts, importable so tests and each other use them as modules."""
