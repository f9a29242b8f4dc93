"""Constrained string types for mlops.yaml: each rejects bad input with an Azure-aware message."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, WithJsonSchema
from pydantic_core import PydanticCustomError


class Section(BaseModel):
    """Base of every mlops.yaml section: unknown keys are rejected, assignments re-validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _constrained(
    kind: str, pattern: str, expected: str, example: str, hint: str | None = None, flags: int = 0
):
    """A `str` type that must fully match `pattern`, with a message naming what was expected."""
    regex = re.compile(pattern, flags)

    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise PydanticCustomError(
                kind,
                "expected {expected}, for example '{example}'; got '{value}'",
                {"expected": expected, "example": example, "value": value, "hint": hint or ""},
            )
        return value

    schema = {"type": "string", "pattern": f"^(?:{pattern})$", "examples": [example]}
    if flags & re.IGNORECASE:
        schema.pop("pattern")
    return Annotated[str, AfterValidator(check), WithJsonSchema(schema)]


GUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

Guid = Annotated[
    _constrained(
        "guid",
        GUID_PATTERN,
        "a GUID",
        "00000000-0000-0000-0000-000000000000",
        "copy it from the Azure portal or `az ... show --query id -o tsv`",
    ),
    AfterValidator(str.lower),
]
ProjectName = _constrained(
    "project_name",
    r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*",
    "lowercase letters, digits and single hyphens, starting with a letter",
    "churn",
    "the project name becomes part of every Azure resource name",
)
NamePrefix = _constrained(
    "name_prefix",
    r"(?:[a-z][a-z0-9]{0,9})?",
    "up to 10 lowercase letters or digits, starting with a letter (or empty)",
    "contoso",
)
EnvironmentName = _constrained(
    "environment_name",
    r"[a-z][a-z0-9]{1,9}",
    "2 to 10 lowercase letters or digits, starting with a letter",
    "dev",
    "environment names become part of Azure resource names, which forbid most punctuation",
)
Location = _constrained(
    "location",
    r"[a-z][a-z0-9]+",
    "an Azure region's programmatic name",
    "westeurope",
    "list them with `az account list-locations --query [].name -o tsv`",
)
ResourceGroupName = _constrained(
    "resource_group",
    r"[-\w.()]{0,89}[-\w()]",
    "1 to 90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.'",
    "rg-churn-dev",
)
VM_SIZE_PATTERN = r"Standard_[A-Za-z0-9_]+"
VmSize = _constrained(
    "vm_size",
    VM_SIZE_PATTERN,
    "an Azure VM size",
    "Standard_DS3_v2",
    "list them with `az vm list-sizes --location <region> -o table`",
)
ComputeName = _constrained(
    "compute_name",
    r"[a-zA-Z][a-zA-Z0-9-]{0,14}[a-zA-Z0-9]",
    "2 to 16 letters, digits or hyphens, starting with a letter, not ending with a hyphen",
    "cpu-cluster",
)
AssetName = _constrained(
    "asset_name",
    r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}",
    "an Azure ML asset name: letters, digits, '-', '_' or '.', starting with a letter or digit",
    "churn-data",
)
EndpointName = _constrained(
    "endpoint_name",
    r"[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]",
    "3 to 32 letters, digits or hyphens, starting with a letter, not ending with a hyphen",
    "churn-online",
    "Azure ML online endpoint names must be unique within the region",
)
MetricName = _constrained(
    "metric_name", r"[A-Za-z_][A-Za-z0-9_.\-/ ]{0,254}", "an MLflow metric name", "roc_auc"
)
TeamName = _constrained(
    "team_name",
    r"[a-z][a-z0-9]{1,11}",
    "2 to 12 lowercase letters or digits, starting with a letter",
    "fraud",
    "team names become part of Azure resource names (workspaces, storage accounts, Kubernetes"
    " namespaces, budgets), where punctuation is mostly forbidden and length is scarce",
)
Email = _constrained(
    "email",
    r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;.]+",
    "an email address",
    "ml-fraud@contoso.com",
    "budget alerts go to these addresses",
)
#: a repository resource's ref in Azure Pipelines: a full branch or tag name
#: (/azure/devops/pipelines/yaml-schema/resources-repositories-repository, "ref")
GitRef = _constrained(
    "git_ref",
    r"refs/(?:heads|tags)/(?!/)(?!.*//)(?!.*\.\.)[A-Za-z0-9._/-]+(?<!/)(?<!\.lock)",
    "a full git ref: refs/heads/<branch> or refs/tags/<tag>",
    "refs/heads/main",
)
OrganizationUrl = _constrained(
    "organization_url",
    r"https://dev\.azure\.com/[A-Za-z0-9][A-Za-z0-9-]{0,48}/?"
    r"|https://[A-Za-z0-9][A-Za-z0-9-]{0,48}\.visualstudio\.com/?",
    "an Azure DevOps organization URL",
    "https://dev.azure.com/contoso",
)
DevOpsName = _constrained(
    "devops_name",
    r"[^\\/:*?\"<>|;#$`,'&=+@%]{1,64}",
    "1 to 64 characters without \\ / : * ? \" < > | ; # $ ` , ' & = + @ %",
    "ml-platform",
)
BranchName = _constrained(
    "branch_name",
    r"(?!/)(?!.*//)(?!.*\.\.)[A-Za-z0-9._/-]+(?<!/)(?<!\.lock)",
    "a git branch name",
    "main",
)
DataPath = _constrained(
    "azure_path",
    r"(?:azureml|https|abfss|wasbs)://\S+|azureml:[a-zA-Z0-9][a-zA-Z0-9_.-]*(?::[^\s:@]+|@latest)",
    "an Azure ML data URI (azureml://..., https://..., abfss://..., wasbs://)"
    " or an asset reference (azureml:NAME:VERSION, azureml:NAME@latest)",
    "azureml://datastores/workspaceblobstore/paths/churn/",
)
PrivateDnsZoneId = _constrained(
    "resource_id",
    r"/subscriptions/" + GUID_PATTERN + r"/resourceGroups/[-\w.()]+"
    r"/providers/Microsoft\.Network/privateDnsZones/[a-z0-9.-]+",
    "a private DNS zone resource id",
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-dns"
    "/providers/Microsoft.Network/privateDnsZones/privatelink.api.azureml.ms",
    flags=re.IGNORECASE,
)
DevCenterProjectId = _constrained(
    "resource_id",
    r"/subscriptions/" + GUID_PATTERN + r"/resourceGroups/[-\w.()]+"
    r"/providers/Microsoft\.DevCenter/projects/[a-zA-Z0-9][a-zA-Z0-9_.-]{2,62}",
    "a Dev Center project resource id",
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-devcenter"
    "/providers/Microsoft.DevCenter/projects/ml-platform",
    flags=re.IGNORECASE,
)


def _cidr(value: str) -> str:
    try:
        network = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        raise PydanticCustomError(
            "cidr",
            "expected an IPv4 address range in CIDR notation, for example '10.0.0.0/16'; "
            "got '{value}'",
            {"value": value, "hint": ""},
        ) from None
    if "/" not in value or str(network) != value:
        raise PydanticCustomError(
            "cidr",
            "'{value}' is not a network address",
            {"value": value, "hint": f"did you mean '{network}'?"},
        )
    return value


Cidr = Annotated[
    str,
    AfterValidator(_cidr),
    WithJsonSchema({"type": "string", "pattern": r"^\d+\.\d+\.\d+\.\d+/\d+$"}),
]
