"""Azure backends: the only place Azure SDKs are imported (lazily, never at CLI start-up)."""
