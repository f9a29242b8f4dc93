"""What `mlops plan` shows, through the real ARM SDK against a fake that answers what-if like
ARM: noise, changes Azure cannot predict, diagnostics, Azure's paths, folded values, the
summary line, and the exit codes and refusals that follow from them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mlops.backends.azure import clients as azure_clients
from mlops.backends.azure.clients import AzureClients
from mlops.cli import _output
from mlops.cli.infra import show_plan, summary_line
from mlops.config.loader import LoadedConfig, load_config
from mlops.plan.changes import PropertyChange, ResourceChange, StackPlan, same_changes
from mlops.plan.noise import RULES, classify
from mlops.services import infra, rbac
from tests.conftest import CliResult, run_cli
from tests.infra.arm_fake import FakeArm

WORKSPACE = "log-contoso-churn-dev"
VNET = "vnet-contoso-churn-dev"
DEV_RG = "rg-contoso-churn-dev"


@pytest.fixture
def converged(vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm) -> LoadedConfig:
    """The dev platform (shared and dev stacks, roles) as an earlier provision left it; the
    fake has recorded no request yet."""
    stacks = infra.select(vnet_project, "dev")
    for s in stacks:
        arm.hold(s.resource_group, s.arm())
    scopes = [rbac.ManagedScope(s.subscription_id or "", s.resource_group, True) for s in stacks]
    _, targeted = rbac.plan_roles(vnet_project, "dev", clients, scopes)
    rbac.apply_roles(vnet_project, clients, targeted, prune=False, notify=lambda *_: None)
    arm.requests.clear()
    return vnet_project


@pytest.fixture
def mlops_cli(
    converged: LoadedConfig, clients: AzureClients, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliResult]:
    """`mlops ...` in the project's folder, signed in to the fake ARM."""
    monkeypatch.chdir(converged.path.parent)
    monkeypatch.setattr(azure_clients, "default_clients", lambda *_a, **_k: clients)
    return run_cli


def _words(text: str) -> str:
    """The output with runs of spaces (column padding) as one."""
    return " ".join(text.split())


def _stored(arm: FakeArm, name: str) -> dict:
    return next(r for (rg, _, n), r in arm.resources.items() if rg == DEV_RG.lower() and n == name)


def test_a_noisy_unchanged_platform_exits_0_and_provision_writes_nothing(
    mlops_cli: Callable[..., CliResult], arm: FakeArm
) -> None:
    arm.noisy = True  # Azure fills in workspace properties; subnets gain a NoEffect `type`

    plan = mlops_cli("plan", "--env", "dev", "--detailed-exitcode")

    assert plan.exit_code == 0, plan.stdout + plan.stderr
    assert f"~ noise Microsoft.OperationalInsights/workspaces {WORKSPACE}" in _words(plan.stdout)
    assert "- properties.createdDate:" in plan.stdout  # shown, marked as noise
    assert "Plan: 0 to add, 0 to change, 0 to destroy" in plan.stdout
    assert "no changes: Azure matches mlops.yaml" in plan.stdout
    as_json = mlops_cli("plan", "--env", "dev", "-o", "json").json()
    dev = next(s for s in as_json["stacks"] if s["stack"] == "dev")
    noisy = {c["name"]: c for c in dev["changes"] if c["action"] == "noise"}
    assert set(noisy) == {WORKSPACE, VNET}
    sources = {p["path"]: p["noise"] for p in noisy[WORKSPACE]["properties"]}
    assert sources["properties.createdDate"].endswith("/arm-template-whatif/issues/101")

    provision = mlops_cli("provision", "--env", "dev", "--yes")

    assert provision.exit_code == 0, provision.stdout + provision.stderr
    assert arm.writes() == []


def test_noise_never_hides_a_value_mlops_yaml_sets(
    converged: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    arm.noisy = True
    _stored(arm, WORKSPACE)["properties"]["retentionInDays"] = 90  # changed by hand

    plan = infra.plan(converged, "dev", clients)

    dev = plan.stack("dev")
    assert dev is not None
    (workspace,) = [c for c in dev.changes if c.name == WORKSPACE]
    assert workspace.action == "modify"
    real = [p for p in workspace.properties if p.noise is None]
    assert [(p.path, p.before, p.after) for p in real] == [("properties.retentionInDays", 90, 30)]
    assert plan.has_changes


def test_noise_rules_cover_only_deletes_and_each_cites_microsoft() -> None:
    assert RULES
    for rule in RULES:
        assert rule.kinds == {"delete"}  # a delete: the template does not set the property
        assert rule.source.startswith("https://github.com/Azure/arm-template-whatif/issues/")
    set_by_template = ResourceChange(
        "modify",
        "microsoft.operationalinsights/WORKSPACES",  # types compare case-insensitively
        WORKSPACE,
        properties=(PropertyChange("properties.features.legacy", "modify", 0, 1),),
    )
    assert classify(set_by_template).action == "modify"
    filled_in = ResourceChange(
        "modify",
        "microsoft.operationalinsights/WORKSPACES",
        WORKSPACE,
        properties=(PropertyChange("properties.features.legacy", "delete", 0),),
    )
    assert classify(filled_in).action == "noise"


def test_an_unsupported_change_exits_3_and_shows_may_change(
    mlops_cli: Callable[..., CliResult], arm: FakeArm
) -> None:
    arm.unsupported = {WORKSPACE: "The resource provider does not support what-if."}

    plan = mlops_cli("plan", "--env", "dev", "--detailed-exitcode")

    assert plan.exit_code == 3
    assert f"? unsupported Microsoft.OperationalInsights/workspaces {WORKSPACE}" in _words(
        plan.stdout
    )
    assert "(The resource provider does not support what-if.)" in plan.stdout
    assert "1 may change" in plan.stdout
    assert "changes pending: some may change" in plan.stdout


def test_potential_changes_are_planned_as_may_change(
    mlops_cli: Callable[..., CliResult], arm: FakeArm
) -> None:
    arm.potential = {VNET}

    result = mlops_cli("plan", "--env", "dev", "-o", "json", "--detailed-exitcode")

    assert result.exit_code == 3
    plan = result.json()
    dev = next(s for s in plan["stacks"] if s["stack"] == "dev")
    (maybe,) = [c for c in dev["changes"] if c["action"] == "may-change"]
    assert maybe["name"] == VNET
    assert plan["summary"]["may_change"] == 1
    assert plan["summary"]["has_unknown"] is True
    table = mlops_cli("plan", "--env", "dev")
    assert f"? may-change Microsoft.Network/virtualNetworks {VNET}" in _words(table.stdout)


def test_what_if_diagnostics_are_printed_with_their_stack(
    mlops_cli: Callable[..., CliResult], arm: FakeArm
) -> None:
    arm.what_if_diagnostics = [
        {
            "level": "Warning",
            "code": "NestedDeploymentSkippedFromWhatIf",
            "message": "The nested deployment could not be evaluated.",
            "target": "/subscriptions/sub/resourceGroups/rg/deployments/inner",
        }
    ]

    plan = mlops_cli("plan", "--env", "dev")

    assert plan.exit_code == 0
    assert (
        "! WARNING NestedDeploymentSkippedFromWhatIf: The nested deployment could not be"
        " evaluated. (/subscriptions/sub/resourceGroups/rg/deployments/inner)"
    ) in plan.stdout
    as_json = mlops_cli("plan", "--env", "dev", "-o", "json").json()
    dev = next(s for s in as_json["stacks"] if s["stack"] == "dev")
    assert dev["diagnostics"][0].startswith("WARNING NestedDeploymentSkippedFromWhatIf: ")


def test_unattended_provision_refuses_changes_azure_cannot_predict(
    mlops_cli: Callable[..., CliResult], arm: FakeArm
) -> None:
    arm.unsupported = {WORKSPACE: "The resource provider does not support what-if."}

    refused = mlops_cli("provision", "--env", "dev", "--yes")

    assert refused.exit_code == 2
    assert f"Microsoft.OperationalInsights/workspaces/{WORKSPACE}" in refused.stderr
    assert "mlops plan --out plan.json" in refused.stderr
    assert "mlops provision --plan plan.json --yes" in refused.stderr
    assert "1 may change" in refused.stdout  # the plan was shown first
    assert arm.writes() == []

    # reviewed and saved, the same unknowns are accepted
    assert mlops_cli("plan", "--env", "dev", "--out", "plan.json").exit_code == 0
    applied = mlops_cli("provision", "--plan", "plan.json", "--yes")

    assert applied.exit_code == 0, applied.stdout + applied.stderr
    assert arm.writes()


def test_array_properties_print_with_azure_paths(
    converged: LoadedConfig,
    clients: AzureClients,
    arm: FakeArm,
    capsys: pytest.CaptureFixture[str],
) -> None:
    subnet = _stored(arm, VNET)["properties"]["subnets"][0]["properties"]
    declared = subnet["addressPrefix"]
    subnet["addressPrefix"] = "10.20.9.0/24"  # changed by hand

    plan = infra.plan(converged, "dev", clients)

    dev = plan.stack("dev")
    assert dev is not None
    (vnet,) = [c for c in dev.changes if c.name == VNET]
    assert vnet.action == "modify"
    (diff,) = vnet.properties
    assert diff.path == "properties.subnets[0].properties.addressPrefix"
    show_plan(plan)
    out = capsys.readouterr().out
    assert f"~ properties.subnets[0].properties.addressPrefix: 10.20.9.0/24 -> {declared}" in out
    assert "subnets.0" not in out


def test_a_long_value_is_folded_onto_indented_lines_not_cut(
    converged: LoadedConfig,
    clients: AzureClients,
    arm: FakeArm,
    capsys: pytest.CaptureFixture[str],
) -> None:
    long = "x" * 150 + "y" * 150 + "z" * 150
    _stored(arm, WORKSPACE)["tags"]["note"] = long  # a tag added by hand: removed on apply

    show_plan(infra.plan(converged, "dev", clients))

    width = _output.stdout().width
    lines = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(lines) if "- tags.note: " in line)
    folded = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith(" " * 10):
            break
        folded.append(line)
    assert len(folded) > 1
    assert all(len(line) <= width for line in folded)
    assert "".join(line.strip() for line in folded) == f"- tags.note: {long}"
    assert "..." not in "".join(lines)


def test_the_summary_line_counts_each_kind_of_change(
    converged: LoadedConfig,
    clients: AzureClients,
    arm: FakeArm,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = converged.path
    path.write_text(path.read_text().replace("max_nodes: 4", "max_nodes: 8"))
    arm.unsupported = {WORKSPACE: "not supported"}
    arm.noisy = True

    plan = infra.plan(load_config(path), "dev", clients)

    actions = [c.action for s in plan.stacks for c in s.changes]
    unchanged = sum(a in ("no-change", "noise", "ignore") for a in actions)
    assert actions.count("modify") == 1 and actions.count("unsupported") == 1
    assert actions.count("noise") == 1  # the virtual network: only NoEffect differences
    expected = (
        "Plan: 0 to add, 1 to change, 0 to destroy, 0 to detach, 1 may change,"
        f" {unchanged} unchanged."
    )
    assert summary_line(plan) == expected
    assert plan.to_dict()["summary"] == {
        "add": 0,
        "change": 1,
        "destroy": 0,
        "detach": 0,
        "may_change": 1,
        "unchanged": unchanged,
        "has_unknown": True,
    }
    show_plan(plan)
    assert expected in capsys.readouterr().out


def test_resources_outside_the_template_are_counted_and_listed_with_verbose(
    mlops_cli: Callable[..., CliResult], arm: FakeArm
) -> None:
    by_hand = {"type": "Microsoft.Storage/storageAccounts", "name": "stmadebyhand"}
    arm.resources[(DEV_RG.lower(), by_hand["type"].lower(), by_hand["name"])] = by_hand

    quiet = mlops_cli("plan", "--env", "dev", "--detailed-exitcode")
    verbose = mlops_cli("-v", "plan", "--env", "dev")

    assert quiet.exit_code == 0
    assert "stmadebyhand" not in quiet.stdout
    assert "1 ignore" in quiet.stdout
    assert "* ignore Microsoft.Storage/storageAccounts stmadebyhand" in _words(verbose.stdout)


def test_a_saved_plan_is_not_stale_because_noise_moved() -> None:
    def stack(*created: str) -> StackPlan:
        changes = tuple(
            ResourceChange(
                "noise",
                "Microsoft.OperationalInsights/workspaces",
                WORKSPACE,
                properties=(
                    PropertyChange("properties.createdDate", "delete", c, noise=RULES[0].source),
                ),
            )
            for c in created
        )
        return StackPlan("dev", DEV_RG, "sub", True, changes)

    assert same_changes(stack("2026-01-01"), stack("2026-02-02"))
    assert same_changes(stack("2026-01-01"), stack())  # noise is never applied
