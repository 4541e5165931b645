"""pv: validate, lint and verify falsifiable contracts for ML training pipelines."""

__version__ = "0.1.0"
