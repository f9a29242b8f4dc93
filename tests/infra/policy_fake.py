"""The Policy Insights part of the ARM fake: remediation tasks at resource-group scope.

Answers like the service (REST api 2019-07-01, the one azure-mgmt-policyinsights 1.0 sends):
a task names a policy assignment that exists in the resource group and, for an assignment of
an initiative, one of the initiative's policyDefinitionReferenceIds; a single definition's
task names none. A task is immutable once created: a second PUT of the same name is refused.
"""

from __future__ import annotations

from typing import Any

from azure.mgmt.policyinsights.models import Remediation

from tests.infra.arm_fake import FakeArm, _error, _strict

#: policyDefinitionReferenceIds of the built-in initiative 0884adba-2312-4468-abeb-5422caed1038
#: ("Enable allLogs category group resource logging for supported resources to Log
#: Analytics") for the resource types the platform deploys, as Microsoft publishes them:
#: github.com/Azure/azure-policy built-in-policies/policySetDefinitions/Monitoring/
#: AzureMonitor_DiagSettings_logAnalytics_allLogs.json
INITIATIVE = (
    "/providers/microsoft.authorization/policysetdefinitions/0884adba-2312-4468-abeb-5422caed1038"
)
REFERENCE_IDS = frozenset(
    {
        "containerregistry-registries",
        "insights-components",
        "keyvault-vaults",
        "machinelearningservices-registries",
        "machinelearningservices-workspaces",
        "machinelearningservices-workspaces-onlineendpoints",
        "network-azurefirewalls",
        "network-bastionhosts",
        "network-networksecuritygroups",
        "network-publicipaddresses",
        "network-virtualnetworkgateways",
        "network-virtualnetworks",
        "operationalinsights-workspaces",
    }
)


def remediation(
    arm: FakeArm, method: str, rg: str, name: str, body: Any
) -> tuple[int, Any, dict[str, str]]:
    tasks = arm.remediations.setdefault(rg.lower(), {})
    if method == "GET":
        if name not in tasks:
            return 404, _error("RemediationNotFound", f"Remediation '{name}' not found."), {}
        return 200, tasks[name], {}
    assert method == "PUT", method
    if name in tasks:
        message = f"A remediation with name '{name}' already exists."
        return 400, _error("InvalidCreateRemediationRequest", message), {}
    model = _strict(Remediation, body)
    assignment = model.policy_assignment_id.rstrip("/")
    prefix = f"/resourcegroups/{rg.lower()}/providers/microsoft.authorization/policyassignments/"
    assert prefix in assignment.lower(), f"assignment outside {rg}: {assignment}"
    deployed = arm.resources.get(
        (
            rg.lower(),
            "microsoft.authorization/policyassignments",
            assignment.rsplit("/", 1)[1].lower(),
        )
    )
    if deployed is None:
        return 404, _error("PolicyAssignmentNotFound", assignment), {}
    definition = deployed["properties"]["policyDefinitionId"].lower()
    reference = model.policy_definition_reference_id
    if definition == INITIATIVE:
        if reference not in REFERENCE_IDS:
            message = f"The policy definition reference '{reference}' is not in the initiative."
            return 400, _error("InvalidPolicyDefinitionReferenceId", message), {}
    elif reference is not None:
        return 400, _error("InvalidPolicyDefinitionReferenceId", "not an initiative"), {}
    assert model.resource_discovery_mode in (None, "ExistingNonCompliant", "ReEvaluateCompliance")
    sub = assignment.split("/")[2]
    stored = {
        "id": f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.PolicyInsights"
        f"/remediations/{name}",
        "name": name,
        "type": "Microsoft.PolicyInsights/remediations",
        "properties": {**body["properties"], "provisioningState": "Accepted"},
    }
    tasks[name] = stored
    return 201, stored, {}
