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
