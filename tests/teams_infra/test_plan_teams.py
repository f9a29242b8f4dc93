"""`mlops plan` groups its changes by team, and onboarding a fourth team shows that team's
objects, and only those, as creates."""

from __future__ import annotations

import json
from pathlib import Path

from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import load_config
from mlops.plan.teams import PLATFORM
from mlops.services import infra
from tests.conftest import run_cli
from tests.infra.arm_fake import FakeCredential
from tests.teams_infra.conftest import loaded
from tests.teams_infra.quota_fake import FakeAzure

OPS_DS = "0c000000-0000-4000-8000-0000000000d1"
OPS_CLIENT, OPS_OBJECT = (
    "1e000000-0000-4000-8000-0000000000d2",
    "0e000000-0000-4000-8000-0000000000d2",
)


def test_an_offline_plan_groups_every_change_by_team_then_the_platform(tmp_path: Path) -> None:
    project = loaded("teams", tmp_path)

    plan = infra.offline_plan(project, None, "--offline")

    grouped = plan.meta["teams"]
    assert list(grouped) == ["churn", "fraud", "risk", PLATFORM]
    assert sum(len(v) for v in grouped.values()) == sum(len(s.changes) for s in plan.stacks)
    names = {team: {c["name"] for c in changes} for team, changes in grouped.items()}
    for team in ("churn", "fraud", "risk"):
        others = [n for t, ns in names.items() if t not in (team, PLATFORM) for n in ns]
        assert not [n for n in others if f"-{team}-" in n or n.startswith(f"mlw-{team}")]
        stacks = {c["stack"] for c in grouped[team]}
        assert {"dev", "test", "prod", "roles"} <= stacks
    # budgets for the teams that declare one
    assert "mlops-lending-team-fraud" in names["fraud"]
    assert "mlops-lending-team-churn" in names["churn"]
    assert not [n for n in names["risk"] if n.startswith("mlops-lending-team")]
    assert "mlw-acme-lending-dev" in names[PLATFORM]


def test_the_plan_command_prints_and_saves_the_grouping(tmp_path: Path) -> None:
    project = loaded("teams", tmp_path)

    table = run_cli("-c", str(project.path), "plan", "--offline")
    document = run_cli("-c", str(project.path), "-o", "json", "plan", "--offline")

    assert table.exit_code == 0, table.stderr
    by_team = table.stdout[table.stdout.index("by team") :]
    assert "  churn: " in by_team and "  (platform): " in by_team
    assert "dev: Microsoft.MachineLearningServices/workspaces  mlw-fraud-dev-" in by_team
    assert set(json.loads(document.stdout)["meta"]["teams"]) == {
        "churn",
        "fraud",
        "risk",
        PLATFORM,
    }


def test_onboarding_a_fourth_team_plans_only_that_teams_objects_as_creates(
    tmp_path: Path,
) -> None:
    azure = FakeAzure()  # ARM, and Azure ML's quota API (fraud sets one)
    clients = AzureClients(FakeCredential(), azure, {"polling_interval": 0})
    project = loaded("teams", tmp_path)
    infra.provision(project, "dev", clients, poll_seconds=0.01)
    assert not infra.plan(project, "dev", clients).has_changes  # converged

    added = run_cli(
        "-c", str(project.path), "team", "add", "ops",
        "--data-scientists", f"sg-ops-ds={OPS_DS}",
        "--repository", "ops-model",
        "--identity", f"dev={OPS_CLIENT}:{OPS_OBJECT}",
    )  # fmt: skip
    assert added.exit_code == 0, added.stderr
    plan = infra.plan(load_config(project.path), "dev", clients)

    grouped = plan.meta["teams"]
    creates = {t: [c for c in v if c["action"] == "create"] for t, v in grouped.items()}
    assert {t for t, c in creates.items() if c} == {"ops"}
    made = {(c["stack"], c["type"], c["name"].split("/")[0]) for c in creates["ops"]}
    assert ("dev", "Microsoft.MachineLearningServices/workspaces") in {m[:2] for m in made}
    assert ("dev", "Microsoft.Storage/storageAccounts") in {m[:2] for m in made}
    assert [c for c in creates["ops"] if c["stack"] == "roles" and "sg-ops-ds" in c["name"]]
    # nothing of the other teams changes; the platform's changes are the owners' condition,
    # which now lets them assign roles to the new team's principals
    for team in ("churn", "fraud", "risk"):
        assert {c["action"] for c in grouped[team]} == {"no-change"}, team
    platform_writes = [
        (c["action"], c["name"].split(" -> ")[0])
        for c in grouped[PLATFORM]
        if c["action"] != "no-change"
    ]
    assert platform_writes == [
        ("modify", "Role Based Access Control Administrator"),  # dev's resource group
        ("modify", "Role Based Access Control Administrator"),  # the shared one
    ]


def test_a_platform_without_a_subscription_plans_offline_and_says_its_budgets_wait(
    tmp_path: Path,
) -> None:
    project = loaded("teams", tmp_path)
    text = project.path.read_text()
    line = "  subscription_id: 22222222-2222-2222-2222-222222222222\n"
    assert line in text
    project.path.write_text(text.replace(line, ""))

    result = run_cli("-c", str(project.path), "plan", "--output", "json")

    assert result.exit_code == 0, result.stdout + result.stderr
    plan = result.json()
    assert plan["offline"] is True
    (budgets,) = [s for s in plan["stacks"] if s["stack"] == "budgets"]
    assert budgets["changes"] == []
    (note,) = budgets["diagnostics"]
    assert "budgets not planned" in note and "set azure.subscription_id" in note
    # everything else is listed as usual
    assert any(s["stack"] == "dev" and s["changes"] for s in plan["stacks"])
