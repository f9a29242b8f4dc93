"""ARM deployment stacks through the real SDK: read a stack, apply one, report its progress.

A stack at resource-group scope deploys its template as an ARM deployment and remembers the
resources it manages: one removed from the template is detached or deleted on the next update
(actionOnUnmanage), and deny settings make Azure refuse writes by anyone not excluded.
Everything returned is the project's own types (mlops.plan.stacks), never an SDK model.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from mlops.backends.azure.arm import OnOperation, failed_operations, parse_resource_id
from mlops.backends.azure.arm import report_operations as _report_operations
from mlops.backends.azure.calls import call as _call
from mlops.backends.azure.calls import error_text as _error_text
from mlops.errors import BackendError
from mlops.plan.stacks import StackSettings, StackState

if TYPE_CHECKING:
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient
    from azure.mgmt.resource.deploymentstacks import DeploymentStacksClient

#: what to run to look at a stack, and what stands in for "cancel" (there is none for stacks)
SHOW = "az stack group show -g {rg} -n {name}"
RETRY_HINT = "fix the cause and run `mlops provision` again: what was created is kept"


def get(client: DeploymentStacksClient, resource_group: str, name: str) -> StackState | None:
    """The stack as ARM reports it; None when there is none (or no resource group yet)."""
    try:
        stack = _call(
            lambda: _get_raw(client, resource_group, name),
            f"reading deployment stack {name} in {resource_group}",
        )
    except _NotFound:
        return None
    return _state(stack)


class _NotFound(Exception):
    """A 404 (no such stack, or no resource group yet), kept apart from the error mapping."""


def _get_raw(client: DeploymentStacksClient, resource_group: str, name: str) -> Any:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return client.deployment_stacks.get_at_resource_group(resource_group, name)
    except ResourceNotFoundError:
        raise _NotFound() from None


def _state(stack: Any) -> StackState:
    props = stack.properties
    system = stack.system_data
    started = None
    if system is not None:
        when = system.last_modified_at or system.created_at
        started = when.isoformat() if when is not None else None
    failed = []
    for item in (props.failed_resources if props else None) or []:
        rtype, rname = parse_resource_id(item.id or "")
        message = _error_text(item.error)
        failed.append(f"{rtype}/{rname}: {message}".rstrip(": "))
    deployment = props.deployment_id if props else None
    return StackState(
        name=stack.name or "",
        provisioning_state=_value(props.provisioning_state) if props else None,
        correlation_id=props.correlation_id if props else None,
        started_at=started,
        resources=tuple(r.id for r in (props.resources if props else None) or [] if r.id),
        deny_mode=_value(props.deny_settings.mode) if props and props.deny_settings else None,
        action_on_unmanage=(
            _value(props.action_on_unmanage.resources)
            if props and props.action_on_unmanage
            else None
        ),
        error=_error_text(props.error) if props and props.error else None,
        failed=tuple(failed),
        deployment_name=deployment.rstrip("/").rsplit("/", 1)[-1] if deployment else None,
    )


def _value(enum_or_str: Any) -> str | None:
    if enum_or_str is None:
        return None
    return str(getattr(enum_or_str, "value", enum_or_str))


def deploy(
    client: DeploymentStacksClient,
    deployments: DeploymentsMgmtClient,
    resource_group: str,
    name: str,
    template: dict[str, Any],
    parameters: dict[str, Any],
    settings: StackSettings,
    *,
    tags: dict[str, str] | None = None,
    on_operation: OnOperation | None = None,
    poll_seconds: float = 5.0,
) -> StackState:
    """Create or update the stack and wait for it, reporting each resource operation.

    Progress comes from the operations of the deployment the stack runs, best effort: a
    listing that fails is skipped and the stack itself is polled on. On failure the error
    names each failed resource with Azure's message; created resources stay, so a re-run
    completes the rest. A KeyboardInterrupt propagates: the stack keeps deploying in Azure.
    """
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.resource.deploymentstacks.models import (
        ActionOnUnmanage,
        DenySettings,
        DeploymentStack,
        DeploymentStackProperties,
    )

    action = settings.action_on_unmanage
    deny = DenySettings(mode=settings.deny_mode)
    if settings.deny_mode != "none":
        deny.excluded_principals = list(settings.excluded_principals)
        if settings.excluded_actions:
            deny.excluded_actions = list(settings.excluded_actions)
    body = DeploymentStack(
        tags=tags or None,
        properties=DeploymentStackProperties(
            template=template,
            parameters=parameters,
            action_on_unmanage=ActionOnUnmanage(
                resources=action, resource_groups=action, management_groups="detach"
            ),
            deny_settings=deny,
            description="managed by mlops: generated from mlops.yaml by `mlops provision`",
        ),
    )
    poller = _call(
        lambda: client.deployment_stacks.begin_create_or_update_at_resource_group(
            resource_group, name, body
        ),
        f"deployment stack {name} in {resource_group}",
    )
    seen: dict[tuple[str, str], str] = {}
    deployment: list[str] = []  # the stack's deployment name, once known

    def report() -> None:
        if on_operation is None:
            return
        if not deployment:
            try:
                found = _state(client.deployment_stacks.get_at_resource_group(resource_group, name))
            except Exception:  # progress is best effort: keep polling the stack
                return
            if found.deployment_name is None:
                return
            deployment.append(found.deployment_name)
        _report_operations(deployments, resource_group, deployment[0], seen, on_operation)

    try:
        while not poller.done():
            poller.wait(poll_seconds)
            report()
        poller.result()
    except HttpResponseError as exc:
        raise _failure(client, deployments, resource_group, name, exc) from None
    report()
    final = get(client, resource_group, name)
    assert final is not None
    return final


def _failure(
    client: DeploymentStacksClient,
    deployments: DeploymentsMgmtClient,
    resource_group: str,
    name: str,
    exc: Any,
) -> BackendError:
    """The stack's failure as one message: its failed resources, else the deployment's failed
    operations, else the stack's own error."""
    state = None
    with contextlib.suppress(Exception):  # the error below still says what ARM answered
        state = _state(client.deployment_stacks.get_at_resource_group(resource_group, name))
    failures = list(state.failed) if state else []
    if not failures and state and state.deployment_name:
        failures = failed_operations(deployments, resource_group, state.deployment_name)
    detail = "; ".join(failures) or (state.error if state else None) or ""
    detail = detail or _error_text(getattr(exc, "error", None)) or str(exc.message)
    return BackendError(
        f"deployment stack {name} in {resource_group} failed: {detail}", hint=RETRY_HINT
    )


__all__ = ["SHOW", "deploy", "get"]
