"""ARM deployments through the real SDK: resource groups, what-if, incremental deployments.

Everything returned is the project's own plan types, so nothing above this module sees an
SDK model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlops.backends.azure.calls import call as _call
from mlops.backends.azure.calls import error_text as _error_text
from mlops.errors import BackendError
from mlops.plan.changes import PropertyChange, ResourceChange, WhatIfChanges

if TYPE_CHECKING:
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient
    from azure.mgmt.resource.resources import ResourceManagementClient

#: (resource type, name, provisioning state) -> None, called as operations progress
OnOperation = Callable[[str, str, str], None]

_ACTIONS = {
    "Create": "create",
    "Modify": "modify",
    "Delete": "delete",
    "NoChange": "no-change",
    "Ignore": "ignore",
    "Deploy": "deploy",
    "Unsupported": "unsupported",
}


def parse_resource_id(resource_id: str) -> tuple[str, str]:
    """`(type, name)` of an ARM id; child and extension resources included."""
    parts = resource_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    start = len(lowered) - 1 - lowered[::-1].index("providers")
    namespace, rest = parts[start + 1], parts[start + 2 :]
    types = [namespace, *rest[0::2]]
    names = rest[1::2]
    return "/".join(types), "/".join(names)


def resource_group_exists(client: ResourceManagementClient, name: str) -> bool:
    return bool(
        _call(
            lambda: client.resource_groups.check_existence(name), f"checking resource group {name}"
        )
    )


def ensure_resource_group(
    client: ResourceManagementClient, name: str, location: str, tags: dict[str, str]
) -> bool:
    """Create the resource group when it is missing; True when it was created."""
    if resource_group_exists(client, name):
        return False
    _call(
        lambda: client.resource_groups.create_or_update(name, {"location": location, "tags": tags}),
        f"creating resource group {name}",
    )
    return True


def what_if(
    client: DeploymentsMgmtClient,
    resource_group: str,
    deployment: str,
    template: dict[str, Any],
    parameters: dict[str, Any],
) -> WhatIfChanges:
    """ARM's own prediction of what an incremental deployment would change, classified as
    Microsoft documents it: a Modify with only no-effect or known-noise differences is
    "noise" (mlops.plan.noise), `Unsupported` stays "unsupported" with its reason, each of
    `potentialChanges` is "may-change", and `diagnostics` ride along as text."""
    from azure.mgmt.resource.deployments.models import (
        DeploymentWhatIf,
        DeploymentWhatIfProperties,
        DeploymentWhatIfSettings,
    )

    body = DeploymentWhatIf(
        properties=DeploymentWhatIfProperties(
            mode="Incremental",
            template=template,
            parameters=parameters,
            what_if_settings=DeploymentWhatIfSettings(result_format="FullResourcePayloads"),
        )
    )
    result = _call(
        lambda: client.deployments.begin_what_if(resource_group, deployment, body).result(),
        f"what-if of {resource_group}",
    )
    if result.error is not None:
        raise BackendError(f"what-if of {resource_group} failed: {_error_text(result.error)}")
    props = result.properties
    changes = [_change(c) for c in (props.changes if props else None) or []]
    changes += [
        _change(c, "may-change") for c in (props.potential_changes if props else None) or []
    ]
    diagnostics = [_diagnostic(d) for d in (props.diagnostics if props else None) or []]
    return WhatIfChanges(changes, diagnostics)


def _change(change: Any, action: str | None = None) -> ResourceChange:
    """One what-if change as the plan's type; `action` overrides ARM's change type."""
    from mlops.plan.noise import classify

    rtype, name = parse_resource_id(change.resource_id or "")
    kind = _value(change.change_type)
    return classify(
        ResourceChange(
            action=action or _ACTIONS.get(kind, "unsupported"),  # type: ignore[arg-type]
            type=rtype,
            name=name,
            resource_id=change.resource_id,
            properties=tuple(_flatten(change.delta or [], "")),
            reason=change.unsupported_reason
            or (f"Azure reports it may change ({kind})" if action == "may-change" else None),
        )
    )


def _diagnostic(d: Any) -> str:
    """A diagnostic as the plan prints it: `LEVEL code: message (target)`."""
    text = f"{_value(d.level).upper()} {d.code}: {d.message}"
    return f"{text} ({d.target})" if d.target else text


def _value(enum_or_str: Any) -> str:
    """An SDK enum member or plain string as the service spells it."""
    return str(getattr(enum_or_str, "value", enum_or_str))


def _flatten(delta: list[Any], prefix: str, in_array: bool = False) -> list[PropertyChange]:
    """Leaf property differences with Azure's paths: an Array's children come with their
    index as path ("0"), shown as `subnets[0]`; their own children are dotted below it."""
    out = []
    for item in delta:
        step = str(item.path)
        if in_array and step.isdigit():
            step = f"[{step}]"
        separator = "." if prefix and not step.startswith("[") else ""
        path = f"{prefix}{separator}{step}"
        kind = _value(item.property_change_type).lower().replace("noeffect", "no-effect")
        if item.children:
            out.extend(_flatten(item.children, path, in_array=kind == "array"))
        else:
            out.append(PropertyChange(path, kind, item.before, item.after))
    return out


def _operations(client: DeploymentsMgmtClient, resource_group: str, deployment: str) -> list:
    """The deployment's operations, or [] when they cannot be listed: progress is best effort,
    and a failed listing (throttling, 5xx after retries, a 404 while ARM creates the
    deployment) must not end a deployment that ARM keeps running."""
    try:
        return list(client.deployment_operations.list(resource_group, deployment))
    except Exception:  # any failure: the caller keeps polling the deployment itself
        return []


def report_operations(
    client: DeploymentsMgmtClient,
    resource_group: str,
    deployment: str,
    seen: dict[tuple[str, str], str],
    on_operation: OnOperation | None,
) -> None:
    """Call `on_operation` for each resource operation whose state changed since `seen`."""
    if on_operation is None:
        return
    for op in _operations(client, resource_group, deployment):
        target = op.properties.target_resource if op.properties else None
        if target is None or not op.properties.provisioning_state:
            continue
        key = (target.resource_type or "", target.resource_name or "")
        state = op.properties.provisioning_state
        if seen.get(key) != state:
            seen[key] = state
            on_operation(key[0], key[1], state)


def failed_operations(
    client: DeploymentsMgmtClient, resource_group: str, deployment: str
) -> list[str]:
    """`type/name: code: message` of each failed operation ([] when they cannot be listed)."""
    out = []
    for op in _operations(client, resource_group, deployment):
        props = op.properties
        if props is None or props.provisioning_state != "Failed" or not props.target_resource:
            continue
        target = props.target_resource
        message = ""
        status = props.status_message
        if status is not None and status.error is not None:
            message = _error_text(status.error)
        out.append(f"{target.resource_type}/{target.resource_name}: {message}".rstrip(": "))
    return out


__all__ = [
    "ensure_resource_group",
    "failed_operations",
    "parse_resource_id",
    "report_operations",
    "what_if",
]


# --- Azure ML workspace-level quotas (mlops.plan.quotas): actions, not ARM resources ------
#: the api-version of the workspaces in the templates (render/infra/_common.py API["ml"])
ML_API = "2024-10-01"
_ML_LOCATION = "/subscriptions/{sub}/providers/Microsoft.MachineLearningServices/locations/{loc}"
QUOTA_DENIED_HINT = (
    "setting a workspace-level quota needs subscription-level permissions"
    " (Microsoft.MachineLearningServices/locations/updateQuotas/action on the subscription:"
    " /azure/machine-learning/how-to-manage-quotas, 'Workspace-level quotas')"
)


def _ml_send(
    client: ResourceManagementClient, method: str, path: str, what: str, body: Any = None
) -> Any:
    """One Azure ML management call through the ARM client's pipeline (credential, retries,
    transport): the resources SDK has no quota operations, `send_request` sends any."""
    from azure.core.rest import HttpRequest

    def send() -> Any:
        request = HttpRequest(method, path, params={"api-version": ML_API}, json=body)
        response = client.send_request(request)
        response.raise_for_status()
        return response.json()

    return _call(send, what, denied_hint=QUOTA_DENIED_HINT)


def ml_vm_families(client: ResourceManagementClient, subscription: str, location: str) -> dict:
    """VM size (lowercase) to the VM family Azure ML counts its cores under, in `location`
    (REST "Virtual Machine Sizes - List": `value[].name`, `value[].family`)."""
    path = _ML_LOCATION.format(sub=subscription, loc=location) + "/vmSizes"
    found = _ml_send(client, "GET", path, f"reading Azure ML VM sizes in {location}")
    return {
        str(s["name"]).lower(): str(s["family"])
        for s in found.get("value") or []
        if s.get("name") and s.get("family")
    }


def ml_quotas(
    client: ResourceManagementClient, subscription: str, location: str
) -> dict[str, int | None]:
    """Quota id (lowercase) to its limit, workspace-level ones included (REST "Quotas -
    List": `value[]` of `{id, type, limit, unit, name}`, paged by `nextLink`)."""
    out: dict[str, int | None] = {}
    path: str | None = _ML_LOCATION.format(sub=subscription, loc=location) + "/quotas"
    while path:
        page = _ml_send(client, "GET", path, f"reading Azure ML quotas in {location}")
        for quota in page.get("value") or []:
            if quota.get("id"):
                out[str(quota["id"]).lower()] = quota.get("limit")
        path = page.get("nextLink")
    return out


def update_ml_quotas(
    client: ResourceManagementClient,
    subscription: str,
    location: str,
    quotas: list[dict[str, Any]],
) -> None:
    """Set workspace-level quotas (REST "Quotas - Update"); Azure answers each with a
    `status`, and anything but Success (InvalidQuotaExceedsSubscriptionLimit,
    InvalidVMFamilyName, ...) is an error naming the quota."""
    path = _ML_LOCATION.format(sub=subscription, loc=location) + "/updateQuotas"
    body = {"value": quotas, "location": location}
    result = _ml_send(client, "POST", path, f"setting Azure ML quotas in {location}", body)
    failed = [
        f"{q.get('id', '?').rsplit('/workspaces/', 1)[-1]}: {q.get('status')}"
        for q in result.get("value") or []
        if str(q.get("status", "")).lower() != "success"
    ]
    if failed:
        raise BackendError(
            "Azure refused workspace quotas: " + "; ".join(failed),
            hint="a workspace quota cannot exceed the subscription's quota of the VM family:"
            " lower teams.<team>.quotas.cores or request more quota (az ml ... / portal)",
        )
