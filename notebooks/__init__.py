"""The walkthrough notebook and its helpers, importable as `notebooks.walkthrough`."""
