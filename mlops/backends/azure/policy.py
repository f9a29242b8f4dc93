"""Azure Policy remediation tasks through the real SDK (azure-mgmt-policyinsights).

A DeployIfNotExists assignment acts on resources created or updated after it is in effect;
a remediation task brings the ones already there into line
(/azure/governance/policy/how-to/remediate-resources). Tasks are named per template, so a
re-run of the same apply finds its task and creates none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops.backends.azure.calls import call as _call

if TYPE_CHECKING:
    from azure.mgmt.policyinsights import PolicyInsightsClient

    from mlops.backends.azure.clients import AzureClients

#: "ReEvaluateCompliance": the task evaluates the resources itself rather than waiting for
#: the compliance scan that follows a new assignment (about 30 minutes)
#: (/azure/governance/policy/how-to/remediate-resources; the remediation's
#: resourceDiscoveryMode, REST api 2019-07-01)
DISCOVERY = "ReEvaluateCompliance"


def client(clients: AzureClients, subscription_id: str) -> PolicyInsightsClient:
    """A Policy Insights client with the factory's credential, transport and options."""
    from azure.mgmt.policyinsights import PolicyInsightsClient

    kwargs: dict[str, Any] = dict(clients.options)
    if clients.transport is not None:
        kwargs["transport"] = clients.transport
    return PolicyInsightsClient(clients.credential, subscription_id, **kwargs)


def remediate(
    client: PolicyInsightsClient,
    resource_group: str,
    name: str,
    assignment_id: str,
    reference_id: str | None,
) -> bool:
    """Create remediation task `name` in the resource group unless it exists; True when
    created. The task runs in Azure on its own: nothing waits for it."""
    from azure.core.exceptions import ResourceNotFoundError
    from azure.mgmt.policyinsights.models import Remediation

    def exists() -> bool:
        try:
            client.remediations.get_at_resource_group(resource_group, name)
        except ResourceNotFoundError:
            return False
        return True

    if _call(exists, f"reading remediation task {name} in {resource_group}"):
        return False
    body = Remediation(
        policy_assignment_id=assignment_id,
        policy_definition_reference_id=reference_id,
        resource_discovery_mode=DISCOVERY,
    )
    _call(
        lambda: client.remediations.create_or_update_at_resource_group(resource_group, name, body),
        f"creating remediation task {name} in {resource_group}",
        denied_hint="the signed-in identity needs Microsoft.PolicyInsights/remediations/write"
        " on the resource group (Owner, or Resource Policy Contributor)",
    )
    return True


__all__ = ["DISCOVERY", "client", "remediate"]
