"""The infrastructure tests' fixtures (configs, the ARM fake and clients), for the DevOps tests."""

from tests.infra.conftest import arm, clients, vnet_project

__all__ = ["arm", "clients", "vnet_project"]
