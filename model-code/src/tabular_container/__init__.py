"""A generic tabular scikit-learn container speaking SageMaker's training and serving contracts."""

__version__ = "0.1.0"
