"""The embedded default: pipeline runs, MLflow on SQLite and step reuse under `.mlops/`."""
