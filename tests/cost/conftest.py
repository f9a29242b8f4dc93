"""The Azure ML fake and signed-in clients of tests/aml, for the off-hours tests."""

from tests.aml.conftest import aml, clients  # noqa: F401 (fixtures, used by name)
