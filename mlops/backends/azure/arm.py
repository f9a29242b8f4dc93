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
from mlops.plan.changes import PropertyChange, ResourceChange

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
    return bool(client.resource_groups.check_existence(name))


def ensure_resource_group(
    client: ResourceManagementClient, name: str, location: str, tags: dict[str, str]
) -> bool:
    """Create the resource group when it is missing; True when it was created."""
    if resource_group_exists(client, name):
        return False
    client.resource_groups.create_or_update(name, {"location": location, "tags": tags})
    return True


def what_if(
    client: DeploymentsMgmtClient,
    resource_group: str,
    deployment: str,
    template: dict[str, Any],
    parameters: dict[str, Any],
) -> tuple[ResourceChange, ...]:
    """ARM's own prediction of what an incremental deployment would change."""
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
    changes = []
    for change in (result.properties.changes if result.properties else None) or []:
        rtype, name = parse_resource_id(change.resource_id or "")
        changes.append(
            ResourceChange(
                action=_ACTIONS.get(_value(change.change_type), "unsupported"),  # type: ignore[arg-type]
                type=rtype,
                name=name,
                resource_id=change.resource_id,
                properties=tuple(_flatten(change.delta or [], "")),
            )
        )
    return tuple(changes)


def _value(enum_or_str: Any) -> str:
    """An SDK enum member or plain string as the service spells it."""
    return str(getattr(enum_or_str, "value", enum_or_str))


def _flatten(delta: list[Any], prefix: str) -> list[PropertyChange]:
    out = []
    for item in delta:
        # array items come as "[0]": appended to their parent without a dot
        separator = "." if prefix and not item.path.startswith("[") else ""
        path = f"{prefix}{separator}{item.path}"
        kind = _value(item.property_change_type).lower().replace("noeffect", "no-effect")
        if item.children:
            out.extend(_flatten(item.children, path))
        else:
            out.append(PropertyChange(path, kind, item.before, item.after))
    return out


def deploy(
    client: DeploymentsMgmtClient,
    resource_group: str,
    deployment: str,
    template: dict[str, Any],
    parameters: dict[str, Any],
    on_operation: OnOperation | None = None,
    poll_seconds: float = 5.0,
) -> None:
    """Run an incremental deployment, reporting each resource operation as it progresses.

    On failure the error names the resource that failed and Azure's own message; resources
    that were created stay (incremental mode), so a re-run completes the rest.
    """
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.resource.deployments.models import Deployment, DeploymentProperties

    body = Deployment(
        properties=DeploymentProperties(
            mode="Incremental", template=template, parameters=parameters
        )
    )
    poller = _call(
        lambda: client.deployments.begin_create_or_update(resource_group, deployment, body),
        f"deployment into {resource_group}",
    )
    seen: dict[tuple[str, str], str] = {}

    def report() -> None:
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

    try:
        while not poller.done():
            poller.wait(poll_seconds)
            report()
        poller.result()
    except HttpResponseError as exc:
        failures = _failed_operations(client, resource_group, deployment)
        if failures:
            detail = "; ".join(failures)
            raise BackendError(
                f"deployment into {resource_group} failed: {detail}",
                hint="fix the cause and run `mlops provision` again: what was created is kept",
            ) from None
        raise BackendError(
            f"deployment into {resource_group} failed: {_error_text(exc.error) or exc.message}",
            hint="fix the cause and run `mlops provision` again: what was created is kept",
        ) from None
    report()


def _operations(client: DeploymentsMgmtClient, resource_group: str, deployment: str) -> list:
    return list(client.deployment_operations.list(resource_group, deployment))


def _failed_operations(
    client: DeploymentsMgmtClient, resource_group: str, deployment: str
) -> list[str]:
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


__all__ = ["deploy", "ensure_resource_group", "parse_resource_id", "what_if"]
