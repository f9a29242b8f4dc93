"""Resource logs to the environment's Log Analytics workspace, through Azure Policy.

Microsoft's answer for diagnostic settings at scale is Azure Policy: built-in
DeployIfNotExists policies that write a diagnostic setting onto every supported resource in
the scope (/azure/azure-monitor/platform/diagnostics-settings-policies-deployifnotexists).
Each environment's resource group gets assignments of them, each with a system-assigned
identity holding exactly the roles the definitions name. Rendering the diagnostic settings
ourselves is not possible here: the vendored ARM schemas describe no
Microsoft.Insights/diagnosticSettings, and the schema check refuses a type it cannot check.

DeployIfNotExists acts on resources created or updated after the assignment is in effect;
the ones already there need a remediation task, one per policyDefinitionReferenceId of an
initiative ("For an initiative, you must create a remediation task for each policy in the
initiative", same page). `mlops provision` creates them after the stack is applied, from
`remediations()` below.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlops.config.root import Config
from mlops.render.arm import Resource, Template, quote

API_POLICY = "2025-03-01"  # Microsoft.Authorization/policyAssignments in the ARM schemas
API_ROLES = "2022-04-01"  # Microsoft.Authorization/roleAssignments in the ARM schemas

#: Built-in roles (the same ids in every tenant:
#: /azure/role-based-access-control/built-in-roles/monitor)
MONITORING_CONTRIBUTOR = "749f88d5-cbae-40b8-bcfc-e573ddc772fa"
LOG_ANALYTICS_CONTRIBUTOR = "92aaf0da-9dab-42b6-94a3-d43ce8d16293"
ROLE_NAMES = {
    MONITORING_CONTRIBUTOR: "Monitoring Contributor",
    LOG_ANALYTICS_CONTRIBUTOR: "Log Analytics Contributor",
}

#: Marks the role assignments a stack deploys (for the policy identities), so the roles plan
#: (mlops.plan.roles) leaves them to the stack rather than listing them as unmanaged.
STACK_MARKER = "Deployed by an mlops stack"


@dataclass(frozen=True)
class LogPolicy:
    """One built-in policy (or initiative) assigned at the environment's resource group."""

    key: str
    definition_id: str
    display_name: str
    #: assignment parameters besides the workspace (`logAnalytics` in every one of them)
    parameters: dict
    #: roleDefinitionIds the definitions name: the assignment's identity gets exactly these
    roles: tuple[str, ...]
    initiative: bool


POLICIES = (
    # "Enable allLogs category group resource logging for supported resources to Log
    # Analytics": github.com/Azure/azure-policy built-in-policies/policySetDefinitions/
    # Monitoring/AzureMonitor_DiagSettings_logAnalytics_allLogs.json (parameters effect,
    # diagnosticSettingName, resourceLocationList, logAnalytics, resourceTypeList). Its member
    # definitions name Log Analytics Contributor (e.g. DiagSettings_logAnalytics_firewall_DINE)
    # and, for writing the setting onto the resource, Monitoring Contributor.
    LogPolicy(
        "resource-logs",
        "/providers/Microsoft.Authorization/policySetDefinitions/"
        "0884adba-2312-4468-abeb-5422caed1038",
        "Enable allLogs category group resource logging to Log Analytics",
        {},
        (MONITORING_CONTRIBUTOR, LOG_ANALYTICS_CONTRIBUTOR),
        True,
    ),
    # Storage is not in that initiative (its "Supported resources" table): the blob and file
    # services each have their own built-in definition, whose roleDefinitionIds are Monitoring
    # Contributor and Log Analytics Contributor (built-in-policies/policyDefinitions/Storage/
    # BlobServicesLogsToWorkspace_DINE.json, FileServicesLogsToWorkspace_DINE.json)
    LogPolicy(
        "blob-logs",
        "/providers/Microsoft.Authorization/policyDefinitions/b4fe1a3b-0715-4c6c-a5ea-ffc33cf823cb",
        "Configure diagnostic settings for Blob Services to Log Analytics workspace",
        {},
        (MONITORING_CONTRIBUTOR, LOG_ANALYTICS_CONTRIBUTOR),
        False,
    ),
    LogPolicy(
        "file-logs",
        "/providers/Microsoft.Authorization/policyDefinitions/25a70cc8-2bd4-47f1-90b6-1478e4662c96",
        "Configure diagnostic settings for File Services to Log Analytics workspace",
        {},
        (MONITORING_CONTRIBUTOR, LOG_ANALYTICS_CONTRIBUTOR),
        False,
    ),
)

#: Resource types the platform deploys that the initiative covers, each with its
#: policyDefinitionReferenceId in the initiative (its "Supported resources" table, and the
#: initiative's policyDefinitions[].policyDefinitionReferenceId: the type without
#: "microsoft.", '/' as '-'). Types absent here have no allLogs policy (NAT gateways, private
#: endpoints, DNS zones, route tables, AKS, VMs) or are covered by POLICIES' own definitions.
INITIATIVE_REFERENCES = {
    "microsoft.machinelearningservices/workspaces": "machinelearningservices-workspaces",
    "microsoft.machinelearningservices/registries": "machinelearningservices-registries",
    "microsoft.keyvault/vaults": "keyvault-vaults",
    "microsoft.containerregistry/registries": "containerregistry-registries",
    "microsoft.insights/components": "insights-components",
    "microsoft.operationalinsights/workspaces": "operationalinsights-workspaces",
    "microsoft.network/networksecuritygroups": "network-networksecuritygroups",
    "microsoft.network/virtualnetworks": "network-virtualnetworks",
    "microsoft.network/azurefirewalls": "network-azurefirewalls",
    "microsoft.network/bastionhosts": "network-bastionhosts",
    "microsoft.network/publicipaddresses": "network-publicipaddresses",
    "microsoft.network/virtualnetworkgateways": "network-virtualnetworkgateways",
}
#: the resource types each single-definition policy remediates
SINGLE_TARGETS = {
    "blob-logs": "microsoft.storage/storageaccounts",
    "file-logs": "microsoft.storage/storageaccounts",
}


@dataclass(frozen=True)
class Remediation:
    """A remediation task `mlops provision` creates: the assignment (its name in the resource
    group) and, for an initiative, the policyDefinitionReferenceId it remediates."""

    assignment: str
    reference_id: str | None

    @property
    def label(self) -> str:
        return f"{self.assignment}/{self.reference_id or 'all'}"


def assignment_name(config: Config, policy: LogPolicy) -> str:
    """Per project, so projects sharing a resource group keep their own (64 characters at
    most at resource-group scope: /azure/governance/policy/concepts/assignment-structure)."""
    return f"mlops-{config.project.name}-{policy.key}"[:64]


def resource_logs(template: Template, config: Config, logs: Resource) -> None:
    """The policy assignments with their identities' role assignments at the resource group.

    Each role assignment is scoped to the resource group: the policies write diagnostic
    settings onto resources there and read the workspace, which is there too."""
    for policy in POLICIES:
        name = assignment_name(config, policy)
        assignment = template.add(
            Resource(
                "Microsoft.Authorization/policyAssignments",
                API_POLICY,
                name,
                {
                    "displayName": f"{config.project.name}: {policy.display_name}",
                    "description": f"{STACK_MARKER}: resource logs of this resource group to"
                    " its Log Analytics workspace.",
                    "policyDefinitionId": policy.definition_id,
                    "enforcementMode": "Default",
                    # a template variable: the schema's ParameterValuesValue.value is
                    # oneOf [{}, expression], which an expression string matches twice
                    "parameters": template.variable(
                        f"policy-parameters-{policy.key}",
                        {
                            "logAnalytics": {"value": logs.id},
                            **{k: {"value": v} for k, v in policy.parameters.items()},
                        },
                    ),
                },
                # the location is "only required when utilizing managed identity" (schema)
                identity={"type": "SystemAssigned"},
                tags=False,
                depends_on=(logs,),
            )
        )
        principal = (
            f"reference({assignment.id_ref}, {quote(API_POLICY)}, 'full').identity.principalId"
        )
        for role in policy.roles:
            template.add(
                Resource(
                    "Microsoft.Authorization/roleAssignments",
                    API_ROLES,
                    f"[guid(resourceGroup().id, {quote(name)}, {quote(role)})]",
                    {
                        "roleDefinitionId": "[subscriptionResourceId("
                        f"'Microsoft.Authorization/roleDefinitions', {quote(role)})]",
                        "principalId": f"[{principal}]",
                        "principalType": "ServicePrincipal",
                        "description": f"{STACK_MARKER}: {ROLE_NAMES[role]} for the policy"
                        f" assignment {name}",
                    },
                    location=None,
                    tags=False,
                    depends_on=(assignment,),
                )
            )


def remediations(template: Template) -> tuple[Remediation, ...]:
    """The remediation tasks for the resources this template holds: one per initiative
    member that covers one of its types, one per single-definition policy whose type it
    holds. Empty when the template assigns no log policy."""
    assigned = {
        r.name: r
        for r in template.resources
        if r.type == "Microsoft.Authorization/policyAssignments"
    }
    types = {r.type.lower() for r in template.resources}
    out = []
    for policy in POLICIES:
        name = next((n for n in assigned if n.endswith(f"-{policy.key}")), None)
        if name is None:
            continue
        if policy.initiative:
            out += [
                Remediation(name, ref)
                for rtype, ref in INITIATIVE_REFERENCES.items()
                if rtype in types
            ]
        elif SINGLE_TARGETS[policy.key] in types:
            out.append(Remediation(name, None))
    return tuple(out)
