"""Azure ML CLI v2 pipelines as plain data: parse, check bindings, and plan local execution.

Pure: reads YAML files, imports no SDK. `mlops.backends.aml_yaml` runs the SDK's own loaders.
"""
