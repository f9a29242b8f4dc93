"""Tests of step environments: resolving what components declare, building with uv."""
