"""Programs a local step runs inside its own environment: stdlib-only modules, each run as
`python -m mlops_local_drivers.<name>` from a copy of this package (`drivers.shim`), so an
environment that holds only the component's packages can run them. No module here imports
anything from mlops, nor anything outside the standard library at module level.
"""
