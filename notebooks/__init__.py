"""The walkthrough notebook and its helpers (`walkthrough`), importable as `notebooks.walkthrough`."""
