"""The governance model: who may do what, where. Pure: no SDK, no I/O.

`permissions` evaluates Azure RBAC's action patterns, `builtin` holds the published built-in
roles the model uses, `model` derives the personas' roles, scopes and assignments from
mlops.yaml, and `check` answers whether a persona may perform an operation.
"""
