"""The deployment stacks of `mlops provision`: their settings from mlops.yaml, what a stack
releases when mlops.yaml drops a resource, and the lock that keeps two runs of one project
apart (a stack of the project still deploying refuses the next run)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlops.config.loader import LoadedConfig
from mlops.errors import BackendError
from mlops.plan.changes import ResourceChange
from mlops.plan.stacks import (
    DEFAULT_DENY,
    EXCLUDED_ACTIONS,
    FALLBACK_DENY,
    MAX_EXCLUDED_PRINCIPALS,
    StackSettings,
    StackState,
)
from mlops.render.files import SHARED

if TYPE_CHECKING:
    from mlops.backends.azure.clients import AzureClients
    from mlops.services.infra import Stack


def stack_settings(loaded: LoadedConfig, stack: str, *, prune: bool) -> StackSettings:
    """actionOnUnmanage and deny settings of one stack, from mlops.yaml (azure.stacks)."""
    config = loaded.config
    spec = config.azure.stacks
    deny = spec.deny.get(stack) or DEFAULT_DENY.get(stack, FALLBACK_DENY)
    return StackSettings(
        action_on_unmanage="delete" if prune else spec.action_on_unmanage,
        deny_mode=deny,
        excluded_principals=excluded_principals(loaded),
        # the environments' resource-log policies write diagnostic settings onto managed
        # resources; the shared stack assigns none
        excluded_actions=EXCLUDED_ACTIONS if stack != SHARED else (),
    )


def excluded_principals(loaded: LoadedConfig) -> tuple[str, ...]:
    """The platform identity (it applies the stacks) and the break-glass principals."""
    platform = loaded.config.identities.platform
    ids = [platform.object_id] if platform is not None else []
    ids += loaded.config.azure.stacks.break_glass
    return tuple(dict.fromkeys(ids))


def issues(loaded: LoadedConfig) -> list[Any]:
    """azure.stacks problems Azure would refuse later (exit 2 before any call)."""
    config = loaded.config
    problems = []
    excluded = excluded_principals(loaded)
    if len(excluded) > MAX_EXCLUDED_PRINCIPALS:
        problems.append(
            loaded.issue(
                ("azure", "stacks", "break_glass"),
                f"with identities.platform makes {len(excluded)} excluded principals; Azure"
                f" allows {MAX_EXCLUDED_PRINCIPALS} per deployment stack",
                "name at most one Entra group of break-glass accounts instead of each account",
            )
        )
    known = {SHARED, *config.environments.azure}
    for name in config.azure.stacks.deny:
        if name not in known:
            problems.append(
                loaded.issue(
                    ("azure", "stacks", "deny", name),
                    "is not a stack of this platform",
                    "use one of: " + ", ".join(sorted(known)),
                )
            )
    return problems


def unmanaged(
    changes: tuple[ResourceChange, ...], state: StackState, action: str
) -> tuple[ResourceChange, ...]:
    """The what-if's changes plus each resource the stack manages that the template no longer
    holds, as a "detach" or "delete" (what the stack update will do to it). What-if itself
    reports such a resource as Ignore (incremental mode): that entry is replaced."""
    from mlops.backends.azure.arm import parse_resource_id

    in_template = {(c.resource_id or "").lower() for c in changes if c.action != "ignore"}
    released = [rid for rid in state.resources if rid.lower() not in in_template]
    gone = {rid.lower() for rid in released}
    kept = tuple(c for c in changes if (c.resource_id or "").lower() not in gone)
    verb = "delete" if action == "delete" else "detach"
    return kept + tuple(
        ResourceChange(verb, *parse_resource_id(rid), resource_id=rid) for rid in released
    )


def running_message(stack: Stack, state: StackState) -> str:
    return (
        f"deployment stack {stack.deployment_name} in {stack.resource_group} is"
        f" {state.provisioning_state} (started {state.started_at or 'at an unknown time'},"
        f" correlation id {state.correlation_id or 'unknown'})"
    )


def refuse_if_running(stacks: Sequence[Stack], states: dict[str, StackState | None]) -> None:
    """The lock: another run's stack of this project still deploying stops this one (exit 1),
    since ARM offers no compare-and-swap on a stack and two updates would race."""
    for s in stacks:
        state = states.get(s.name)
        if state is not None and state.running:
            raise BackendError(
                f"{running_message(s, state)}: another `mlops provision` of this project"
                " is running",
                hint=f"see it with `{s.show_command}`, then run `mlops provision` again once"
                " it has finished",
            )


def check_unlocked(stacks: Sequence[Stack], clients: AzureClients) -> None:
    """Re-read every selected stack (none of ours is running now): roles and Azure DevOps
    are written only while no other run of this project is deploying a stack."""
    from mlops.backends.azure import stacks as arm_stacks

    states = {}
    for s in stacks:
        assert s.subscription_id
        states[s.name] = arm_stacks.get(
            clients.stacks(s.subscription_id), s.resource_group, s.deployment_name
        )
    refuse_if_running(stacks, states)


class ProvisionInterrupted(BaseException):
    """Ctrl-C or SIGTERM (a cancelled pipeline) while a deployment stack was being applied:
    the stack continues in Azure. `cause` is what stopped mlops, so the CLI exits as that
    signal asks (130 or 143)."""

    def __init__(self, stack: Stack, cause: BaseException) -> None:
        self.cause = cause
        self.message = (
            f"interrupted: deployment stack {stack.deployment_name} continues in Azure"
            f" (resource group {stack.resource_group}); mlops stopped waiting for it"
        )
        self.hint = (
            f"see it with `{stack.show_command}`. A deployment stack has no cancel operation;"
            " `az stack group delete` is not one (it removes the stack and detaches or deletes"
            " what it manages). Once it has finished, run `mlops provision` again."
        )
        super().__init__(self.message)
