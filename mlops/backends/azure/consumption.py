"""Azure budgets (Microsoft.Consumption/budgets) through the real `azure-mgmt-consumption` SDK.

Budgets are applied by the SDK, not rendered into the ARM templates: the ARM resource
schemas the templates are checked against have no Microsoft.Consumption/budgets, and a
template resource for it would need the budget's start date, which moves every month.
Bodies go in and come out as plain dicts in the REST shape (`properties.amount`, ...), so
nothing above this module sees an SDK model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops.backends.azure.calls import call

if TYPE_CHECKING:
    from azure.mgmt.consumption import ConsumptionManagementClient

    from mlops.backends.azure.clients import AzureClients

#: the budget API version the SDK speaks (azure-mgmt-consumption 11: "2024-08-01"); the
#: service documents the same body for every version since 2019-10-01
#: (learn.microsoft.com/rest/api/consumption/budgets/create-or-update)
API_VERSION = "2024-08-01"
DENIED_HINT = (
    "budgets need Microsoft.Consumption/budgets/write on the scope: Cost Management"
    " Contributor, Contributor or Owner (learn.microsoft.com/azure/cost-management-billing/"
    "costs/tutorial-acm-create-budgets#prerequisites)"
)


class Budgets:
    """Read and write budgets at any scope: a subscription, a resource group, a management
    group. `get` returns None when the scope has no budget of that name."""

    def __init__(self, client: ConsumptionManagementClient) -> None:
        self._client = client

    @classmethod
    def from_clients(cls, clients: AzureClients, subscription_id: str) -> Budgets:
        from azure.mgmt.consumption import ConsumptionManagementClient

        kwargs = dict(clients.options)
        if clients.transport is not None:
            kwargs["transport"] = clients.transport
        return cls(ConsumptionManagementClient(clients.credential, subscription_id, **kwargs))

    def get(self, scope: str, name: str) -> dict[str, Any] | None:
        from azure.core.exceptions import ResourceNotFoundError

        def read() -> dict[str, Any] | None:
            try:
                found = self._client.budgets.get(scope, name)
            except ResourceNotFoundError:
                return None
            return found.as_dict()

        return call(read, f"reading budget {name} on {scope}", denied_hint=DENIED_HINT)

    def create_or_update(self, scope: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """PUT the budget; `body` may carry the `eTag` read before, so a change made since
        fails (412) instead of being overwritten (the API's optimistic concurrency)."""
        from azure.mgmt.consumption.models import Budget

        def write() -> dict[str, Any]:
            return self._client.budgets.create_or_update(scope, name, Budget(body)).as_dict()

        return call(write, f"writing budget {name} on {scope}", denied_hint=DENIED_HINT)
