"""Use cases: each command of the CLI calls one function here."""
