"""Backends: where SDKs are imported (lazily) and mapped to the project's own types."""
