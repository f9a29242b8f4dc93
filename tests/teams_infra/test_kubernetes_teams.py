"""The shared AKS cluster: each team's Kubernetes compute in its own namespace, with its
quota and a network policy that admits only its own pods and the inference router; Flux
applies the namespaces before Azure ML attaches the computes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops.errors import ConfigError
from mlops.render.files import stacks
from mlops.render.infra.namespaces import manifests
from tests.conftest import run_cli
from tests.teams_infra.conftest import files, loaded, resources, templates

COMPUTES = "Microsoft.MachineLearningServices/workspaces/computes"
FLUX = "Microsoft.KubernetesConfiguration/fluxConfigurations"


def _objects(project, env: str, kind: str) -> dict[str, dict]:
    items = manifests(project.config, env)["items"]
    return {
        i["metadata"].get("namespace", i["metadata"]["name"]): i for i in items if i["kind"] == kind
    }


def test_each_team_workspace_attaches_the_environments_cluster_in_the_teams_namespace(
    tmp_path: Path,
) -> None:
    project = loaded("teams-aks", tmp_path)
    template = templates(project)["prod"]

    variables = template["variables"]
    attached = {}
    for compute in resources(template, COMPUTES):
        body = variables.get(compute["properties"][len("[variables('") : -len("')]")])
        if body and body["computeType"] == "Kubernetes":
            attached[compute["name"].split("/")[0]] = (compute, body)
    cluster_id = (
        "[resourceId('Microsoft.ContainerService/managedClusters', 'aks-acme-lending-prod')]"
    )
    teams = {ws.split("-")[1]: v for ws, v in attached.items() if not ws.startswith("mlw-acme")}
    assert sorted(teams) == ["churn", "fraud", "risk"]
    for team, (compute, body) in teams.items():
        assert body["resourceId"] == cluster_id  # one cluster, shared
        props = body["properties"]
        assert props["namespace"] == f"team-{team}"
        instance = props["defaultInstanceType"]
        assert props["instanceTypes"][instance]["resources"] == {
            "requests": {"cpu": "100m", "memory": "2Gi"},
            "limits": {"cpu": "2", "memory": "2Gi"},
        }
        # attached only once Flux has created the namespace
        flux = "[extensionResourceId(resourceId('Microsoft.ContainerService/managedClusters',"
        assert any(d.startswith(flux) and d.endswith("'teams')]") for d in compute["dependsOn"])
    # the platform's own compute keeps the azureml namespace
    (platform,) = [v for ws, v in attached.items() if ws.startswith("mlw-acme")]
    assert platform[1]["properties"]["namespace"] == "azureml"


def test_flux_reconciles_the_environments_folder_of_the_platform_repository_and_waits(
    tmp_path: Path,
) -> None:
    project = loaded("teams-aks", tmp_path)

    for env in ("dev", "test", "prod"):
        (flux,) = resources(templates(project)[env], FLUX)
        props = flux["properties"]
        assert props["gitRepository"]["url"] == "https://dev.azure.com/acme/lending/_git/lending"
        assert props["gitRepository"]["provider"] == "Azure"  # workload identity, no PAT
        assert props["kustomizations"]["teams"]["path"] == f"./infra/{env}/kubernetes"
        assert props["kustomizations"]["teams"]["prune"] is True
        assert props["waitForReconciliation"] is True
        # what the one-time federated credential of the platform identity names
        outputs = templates(project)[env]["outputs"]
        assert outputs["fluxFederatedSubject"]["value"] == (
            "system:serviceaccount:flux-system:source-controller"
        )
        assert outputs["kubernetesOidcIssuer"]["value"].endswith(".oidcIssuerProfile.issuerURL]")
    rendered = files(project)
    kustomization = json.loads(rendered["infra/prod/kubernetes/kustomization.yaml"])
    assert kustomization["resources"] == ["teams.json"]
    assert json.loads(rendered["infra/prod/kubernetes/teams.json"]) == manifests(
        project.config, "prod"
    )


def test_each_namespace_quota_follows_the_teams_endpoint_instances_there(tmp_path: Path) -> None:
    project = loaded("teams-aks", tmp_path)

    prod = _objects(project, "prod", "ResourceQuota")
    # fraud: 4 instances in prod, churn: 2; risk declares none, so no quota
    assert prod["team-fraud"]["spec"]["hard"] == {
        "requests.cpu": "400m",
        "requests.memory": "8Gi",
        "limits.cpu": "8",
        "limits.memory": "8Gi",
    }
    assert prod["team-churn"]["spec"]["hard"]["limits.cpu"] == "4"
    assert "team-risk" not in prod
    assert sorted(_objects(project, "test", "ResourceQuota")) == ["team-fraud"]
    # with a quota, containers without limits get defaults rather than being refused
    assert sorted(_objects(project, "prod", "LimitRange")) == [
        "team-churn",
        "team-fraud",
        "team-risk",
    ]


def test_a_teams_pods_admit_ingress_only_from_its_own_namespace_and_the_inference_router(
    tmp_path: Path,
) -> None:
    project = loaded("teams-aks", tmp_path)

    policies = _objects(project, "dev", "NetworkPolicy")
    assert sorted(policies) == ["team-churn", "team-fraud", "team-risk"]
    for policy in policies.values():
        spec = policy["spec"]
        assert spec["podSelector"] == {} and spec["policyTypes"] == ["Ingress"]
        (rule,) = spec["ingress"]
        assert rule["from"] == [
            {"podSelector": {}},
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "azureml"}}},
        ]
        assert "ports" not in rule


def test_flux_needs_the_platform_identity_named(tmp_path: Path) -> None:
    project = loaded("teams-aks", tmp_path)
    lines = project.path.read_text().splitlines(keepends=True)
    project.path.write_text("".join(x for x in lines if not x.startswith("  platform: ")))
    from mlops.config.loader import load_config

    with pytest.raises(ConfigError) as raised:
        stacks(load_config(project.path).config)
    assert [i.loc for i in raised.value.issues] == [("identities", "platform")]


def test_render_check_flags_the_teams_kubernetes_objects_left_after_the_last_team_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = loaded("teams-aks", tmp_path)
    monkeypatch.chdir(tmp_path)
    assert run_cli("render").exit_code == 0
    assert (tmp_path / "infra/prod/kubernetes/teams.json").is_file()
    project.path.write_text(project.path.read_text().split("teams:\n")[0])

    result = run_cli("render", "--check", "--output", "json")

    assert result.exit_code == 1
    assert result.json()["extra"] == [
        f"infra/{env}/kubernetes/{name}"
        for env in ("dev", "prod", "test")
        for name in ("kustomization.yaml", "teams.json")
    ]
    assert run_cli("render").exit_code == 0
    assert not (tmp_path / "infra/prod/kubernetes").exists()
    assert run_cli("render", "--check").exit_code == 0


SIZED = (
    "    quotas: {cores: {dev: 32}, endpoint_instances: {test: 2, prod: 4}, monthly_budget: 3000}\n"
)


def _sized(tmp_path: Path, size: str):
    """teams-aks with the fraud team's instance type sized `size` (a YAML flow mapping)."""
    project = loaded("teams-aks", tmp_path)
    text = project.path.read_text()
    assert SIZED in text
    project.path.write_text(
        text.replace(
            SIZED, SIZED.replace("monthly_budget", f"instance_type: {size}, monthly_budget")
        )
    )
    return project


def test_a_team_sizes_its_instance_type_and_its_namespace_quota_follows(tmp_path: Path) -> None:
    from mlops.config.loader import load_config

    project = load_config(_sized(tmp_path, "{cpu: 1.5, memory: 3Gi}").path)
    size = {"cpu": "1.5", "memory": "3Gi"}

    types = _objects(project, "prod", "InstanceType")
    assert types["fraudinstancetype"]["spec"]["resources"] == {"requests": size, "limits": size}
    # another team keeps Microsoft's default
    assert types["churninstancetype"]["spec"]["resources"]["requests"]["cpu"] == "100m"
    # 4 instances of 1.5 cores and 3Gi in prod, requested and limited alike
    assert _objects(project, "prod", "ResourceQuota")["team-fraud"]["spec"]["hard"] == {
        "requests.cpu": "6",
        "requests.memory": "12Gi",
        "limits.cpu": "6",
        "limits.memory": "12Gi",
    }
    # the workspace's Kubernetes compute declares the same instance type
    template = templates(project)["prod"]
    bodies = [v for v in template["variables"].values() if isinstance(v, dict)]
    (fraud,) = [
        b
        for b in bodies
        if b.get("computeType") == "Kubernetes" and b["properties"]["namespace"] == "team-fraud"
    ]
    assert fraud["properties"]["instanceTypes"]["fraudinstancetype"]["resources"] == {
        "requests": size,
        "limits": size,
    }


@pytest.mark.parametrize(
    ("size", "field", "says"),
    [
        ("{cpu: 2 cores, memory: 4Gi}", "cpu", "expected a Kubernetes quantity above zero"),
        ("{cpu: 0, memory: 4Gi}", "cpu", "got '0'"),
        ("{cpu: 2, memory: 4GB}", "memory", "got '4GB'"),
        ("{cpu: 2, memory: 512m}", None, "did you mean '512Mi'?"),
        ("{cpu: 2}", "memory", ""),
    ],
)
def test_a_bad_instance_type_size_exits_2_at_its_line_and_nothing_is_written(
    tmp_path: Path, size: str, field: str | None, says: str
) -> None:
    project = _sized(tmp_path, size)
    line = next(
        n for n, text in enumerate(project.path.read_text().splitlines(), 1) if size in text
    )

    result = run_cli("-c", str(project.path), "render")

    assert result.exit_code == 2, result.stdout + result.stderr
    where = "teams.fraud.quotas.instance_type" + (f".{field}" if field else "")
    assert f"mlops.yaml:{line}:" in result.stderr and where in result.stderr, result.stderr
    assert says in result.stderr
    assert not (tmp_path / "infra").exists()
