"""The pipelines of a model repository bound to a platform (issue 21, item 4): they name the
team's service connections, environments and pipelines and run on the platform's pools, the
very objects the platform repository's `mlops provision` makes and authorizes for them, and
they check the platform repository out where the binding finds the platform's mlops.yaml."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops.config.loader import LoadedConfig, load_config
from mlops.config.teams import team_pipeline
from mlops.plan.devops import devops_spec
from mlops.render.files import compare, render
from tests.conftest import run_cli
from tests.devops.ado_schema import problems
from tests.devops.conftest import with_purposes
from tests.devops.test_teams import TEAMS
from tests.infra.conftest import copy_config

REPO = Path(__file__).parents[2]
BINDING = """\
project: {name: fraud}
platform:
  path: ../platform/mlops.yaml
  repository: platform
  team: fraud
  model_repository: fraud-model
"""
KINDS = ("ci", "ct", "cd")


@pytest.fixture
def platform(tmp_path: Path) -> LoadedConfig:
    """The vnet platform (prefix contoso, dev, test and prod) with teams fraud and risk."""
    path = with_purposes(copy_config("vnet", tmp_path / "platform"))
    path.write_text(path.read_text() + TEAMS)
    return load_config(path)


@pytest.fixture
def model(platform: LoadedConfig, tmp_path: Path) -> LoadedConfig:
    """fraud's model repository `fraud-model`, checked out beside the platform."""
    path = tmp_path / "fraud-model" / "mlops.yaml"
    path.parent.mkdir()
    path.write_text(BINDING)
    return load_config(path)


def rendered(loaded: LoadedConfig, folder: Path) -> dict[str, Path]:
    """The .azuredevops files of a config, written under `folder`."""
    out = {}
    for f in render(loaded.config):
        if f.path.startswith(".azuredevops/"):
            target = folder / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f.text, encoding="utf-8")
            out[f.path.removeprefix(".azuredevops/")] = target
    return out


def documents(loaded: LoadedConfig, folder: Path) -> dict[str, dict[str, Any]]:
    return {n: yaml.safe_load(p.read_text()) for n, p in rendered(loaded, folder).items()}


def found(node: Any, key: str) -> set[str]:
    """Every value of `key` anywhere in a document."""
    if isinstance(node, dict):
        own = {str(node[key])} if key in node and not isinstance(node[key], dict | list) else set()
        return own.union(*(found(v, key) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(found(v, key) for v in node))
    return set()


def connections(document: dict[str, Any]) -> set[str]:
    return found(document, "serviceConnection") | found(document, "azureSubscription")


def pools(document: dict[str, Any]) -> set[str]:
    return {
        pool["name"] for pool in _all(document, "pool") if isinstance(pool, dict) and "name" in pool
    }


def _all(node: Any, key: str) -> list[Any]:
    if isinstance(node, dict):
        return ([node[key]] if key in node else []) + [
            x for v in node.values() for x in _all(v, key)
        ]
    if isinstance(node, list):
        return [x for v in node for x in _all(v, key)]
    return []


def test_a_bound_repository_renders_ci_ct_and_cd_only_each_valid_for_azure_pipelines(
    model: LoadedConfig, tmp_path: Path
) -> None:
    files = rendered(model, tmp_path / "out")

    # no infra.yml: the platform's infra pipeline provisions the team's infrastructure
    assert set(files) == {
        "ci.yml",
        "ct.yml",
        "cd.yml",
        "templates/setup.yml",
        "templates/azure.yml",
    }
    for name, path in files.items():
        assert problems(path) == [], name


def test_a_bound_repositorys_pipelines_name_only_its_teams_connections_and_environments(
    model: LoadedConfig, tmp_path: Path
) -> None:
    docs = documents(model, tmp_path / "out")

    assert connections(docs["ct.yml"]) == {"contoso-team-fraud-dev", "contoso-team-fraud-promotion"}
    assert connections(docs["cd.yml"]) == {"contoso-team-fraud-test", "contoso-team-fraud-prod"}
    assert connections(docs["ci.yml"]) == set()
    assert found(docs["cd.yml"], "environment") == {"fraud-test", "fraud-prod"}
    # cd follows this repository's own ct
    (ct,) = docs["cd.yml"]["resources"]["pipelines"]
    assert ct["source"] == "fraud-model-ct"
    # the platform provisions no variable group per team: cd carries the values inline
    assert found(docs["cd.yml"], "group") == set()
    assert found(docs["ct.yml"], "group") == set()  # nobody provisions a group per team
    assert found(docs["cd.yml"], "name") >= {"AZUREML_WORKSPACE", "AZURE_RESOURCE_GROUP"}


def test_every_object_a_bound_pipeline_names_is_one_the_platform_authorizes_it_to_use(
    platform: LoadedConfig, model: LoadedConfig, tmp_path: Path
) -> None:
    docs = documents(model, tmp_path / "out")
    spec = devops_spec(platform.config)
    users = dict(spec.authorizations)

    for kind in KINDS:
        document, pipeline = docs[f"{kind}.yml"], team_pipeline("fraud-model", kind)
        uses = [
            *(("endpoint", c) for c in connections(document)),
            *(("environment", e) for e in found(document, "environment")),
            *(("queue", p) for p in pools(document)),
        ]
        assert uses, kind
        for resource in uses:
            assert pipeline in users.get(resource, ()), (kind, resource)
    # and the platform provisions those pipelines, from this repository's files
    (fraud,) = [t for t in spec.team_objects if t.team == "fraud"]
    assert {(n, p) for n, p, r in fraud.pipelines if r == "fraud-model"} == {
        (f"fraud-model-{k}", f"/.azuredevops/{k}.yml") for k in KINDS
    }


def test_a_bound_repository_runs_on_the_platforms_pools(
    platform: LoadedConfig, model: LoadedConfig, tmp_path: Path
) -> None:
    docs = documents(model, tmp_path / "out")
    theirs = documents(platform, tmp_path / "platform-out")

    for kind in KINDS:
        assert pools(docs[f"{kind}.yml"]) == pools(theirs[f"{kind}.yml"]), kind


def test_the_platform_repository_is_checked_out_where_the_binding_finds_its_file(
    model: LoadedConfig, tmp_path: Path
) -> None:
    docs = documents(model, tmp_path / "out")

    for kind in KINDS:
        assert docs[f"{kind}.yml"]["resources"]["repositories"] == [
            {"repository": "platform", "type": "git", "name": "platform", "ref": "refs/heads/main"}
        ], kind
    steps = docs["templates/setup.yml"]["steps"]
    self_step, platform_step = steps[0], steps[1]
    # `self` keeps $(Pipeline.Workspace)/s: every step's working directory and relative path
    # (pyproject.toml, coverage.xml, test-results.xml) stays as in a single checkout
    assert self_step == {"checkout": "self", "path": "s", "fetchDepth": 0}
    assert platform_step["checkout"] == "platform"
    binding = model.config.platform
    assert binding is not None
    from_self = posixpath.normpath(posixpath.join("s", binding.path))
    assert from_self == posixpath.join(platform_step["path"], "mlops.yaml")
    assert not any("checkout" in s for s in steps[2:])


def test_a_binding_without_the_platform_repository_checks_out_this_repository_only(
    model: LoadedConfig, tmp_path: Path
) -> None:
    model.path.write_text(BINDING.replace("  repository: platform\n", ""))
    docs = documents(load_config(model.path), tmp_path / "out")

    assert [s for s in docs["templates/setup.yml"]["steps"] if "checkout" in s] == [
        {"checkout": "self", "fetchDepth": 0}
    ]
    assert all("repositories" not in d.get("resources", {}) for d in docs.values())


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # the platform beside this repository, named through the folder above them both
        ("../../{here}/platform/mlops.yaml", "leaves the pipeline's workspace"),
        ("platform/mlops.yaml", "a folder the pipeline already uses"),
        ("../ct/mlops.yaml", "a folder the pipeline already uses"),
    ],
)
def test_a_platform_path_no_checkout_can_reach_is_refused_naming_the_binding(
    model: LoadedConfig, path: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = path.format(here=model.path.parent.parent.name)
    there = model.path.parent / path  # the platform's file is there: only the path is wrong
    if not there.is_file():
        there.parent.mkdir(parents=True, exist_ok=True)
        there.write_text((model.path.parent / "../platform/mlops.yaml").read_text())
    model.path.write_text(BINDING.replace("../platform/mlops.yaml", path))
    monkeypatch.chdir(model.path.parent)

    result = run_cli("config", "validate")

    assert result.exit_code == 2
    assert "mlops.yaml:3:9: error: platform.path: " in result.stderr, result.stderr
    assert expected in result.stderr


def test_the_platforms_own_pipelines_are_the_same_with_teams_and_current_in_this_repository(
    platform: LoadedConfig, tmp_path: Path
) -> None:
    alone = tmp_path / "alone" / "mlops.yaml"
    alone.parent.mkdir()
    alone.write_text(platform.path.read_text().replace(TEAMS, ""))

    with_teams = {n: p.read_bytes() for n, p in rendered(platform, tmp_path / "a").items()}
    without = {n: p.read_bytes() for n, p in rendered(load_config(alone), tmp_path / "b").items()}

    assert with_teams == without
    ours = render(load_config(REPO / "mlops.yaml").config)
    assert [p for p in compare(REPO, ours).stale if p.startswith(".azuredevops/")] == []
