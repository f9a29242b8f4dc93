"""mlops: an Azure-native MLOps platform scaffold and CLI."""

__version__ = "0.1.0"
