"""`mlops render`: one ARM template per environment plus the shared stack, never stale."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from mlops.config.loader import load_config
from mlops.render.files import render
from tests.conftest import REPO, run_cli
from tests.infra.conftest import CONFIGS, copy_config

ALL_CONFIGS = [REPO / "mlops.yaml", *sorted(CONFIGS.glob("*.yaml"))]
COMPUTES = "Microsoft.MachineLearningServices/workspaces/computes"


def _templates(path: Path) -> dict[str, dict]:
    files = render(load_config(path).config)
    return {f.path: json.loads(f.text) for f in files if f.path.endswith("/main.json")}


def _resources(template: dict, rtype: str) -> list[dict]:
    return [r for r in template["resources"] if r["type"] == rtype]


def test_render_writes_a_template_and_parameters_per_stack_and_the_custom_role(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_config("vnet", tmp_path)
    monkeypatch.chdir(tmp_path)
    result = run_cli("render")
    assert result.exit_code == 0, result.stderr
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("infra/*/*"))
    governance = ("infra/roles/", "infra/policies/")
    assert [p for p in written if not p.startswith(governance)] == sorted(
        f"infra/{stack}/{name}"
        for stack in ("dev", "prod", "shared", "test")
        for name in ("main.json", "main.parameters.json")
    )
    assert "infra/roles/data-scientist.json" in written  # the custom roles: tests/infra/test_rbac
    assert "infra/policies/deny-serverless-spark.json" in written  # and the Spark deny policy
    params = json.loads((tmp_path / "infra/prod/main.parameters.json").read_text())
    assert params["parameters"]["location"] == {"value": "westeurope"}  # the env's override
    assert run_cli("render", "--check").exit_code == 0


def test_render_check_names_stale_missing_and_orphaned_files_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_config("vnet", tmp_path)
    monkeypatch.chdir(tmp_path)
    run_cli("render")
    (tmp_path / "infra/dev/main.json").write_text("{}\n")
    (tmp_path / "infra/test/main.parameters.json").unlink()
    (tmp_path / "infra/qa").mkdir()
    (tmp_path / "infra/qa/main.json").write_text("{}\n")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    result = run_cli("render", "--check", "--output", "json")

    assert result.exit_code == 1
    assert result.json() == {
        "ok": False,
        "changed": ["infra/dev/main.json"],
        "missing": ["infra/test/main.parameters.json"],
        "extra": ["infra/qa/main.json"],
    }
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert run_cli("render").exit_code == 0
    assert not (tmp_path / "infra/qa").exists()
    assert run_cli("render", "--check").exit_code == 0


def test_the_committed_infra_of_this_repository_is_current() -> None:
    result = run_cli("--config", str(REPO / "mlops.yaml"), "render", "--check")
    assert result.exit_code == 0, result.stderr


def test_rendering_is_deterministic() -> None:
    first = render(load_config(CONFIGS / "vnet.yaml").config)
    second = render(load_config(CONFIGS / "vnet.yaml").config)
    assert first == second


@pytest.mark.parametrize("config", ALL_CONFIGS, ids=lambda p: p.stem)
def test_nothing_is_reachable_from_the_public_internet(config: Path) -> None:
    teams = load_config(config).config.teams
    for path, template in _templates(config).items():
        if path == "infra/shared/main.json":
            (registry,) = template["resources"]
            assert registry["properties"]["publicNetworkAccess"] == "Disabled"
            continue
        # the platform's workspace and storage, and each team's (tests/teams_infra)
        workspaces = _resources(template, "Microsoft.MachineLearningServices/workspaces")
        assert len(workspaces) == 1 + len(teams)
        for ws in workspaces:
            assert ws["identity"] == {"type": "SystemAssigned"}
            assert ws["properties"]["publicNetworkAccess"] == "Disabled"
        storages = _resources(template, "Microsoft.Storage/storageAccounts")
        assert len(storages) == 1 + len(teams)
        for st in storages:
            # Disabled, except the training environment's, which admits only the shared
            # registry (see the test of resource instance rules below): nothing public
            assert st["properties"]["networkAcls"]["defaultAction"] == "Deny"
            assert st["properties"]["networkAcls"].get("ipRules", []) == []
            assert st["properties"]["allowBlobPublicAccess"] is False
            assert st["properties"]["minimumTlsVersion"] == "TLS1_2"
            assert st["properties"]["supportsHttpsTrafficOnly"] is True
        (kv,) = _resources(template, "Microsoft.KeyVault/vaults")
        assert kv["properties"]["enableRbacAuthorization"] is True
        assert kv["properties"]["enablePurgeProtection"] is True
        assert kv["properties"]["publicNetworkAccess"] == "Disabled"
        (cr,) = _resources(template, "Microsoft.ContainerRegistry/registries")
        assert cr["sku"]["name"] == "Premium"
        assert cr["properties"]["adminUserEnabled"] is False
        assert cr["properties"]["publicNetworkAccess"] == "Disabled"
        groups = sorted(
            c["properties"]["groupIds"][0]
            for pe in _resources(template, "Microsoft.Network/privateEndpoints")
            for c in pe["properties"]["privateLinkServiceConnections"]
        )
        # the workspace's storage (blob, file), vault and registry, the model registry, and
        # the model registry's own storage (blob) and container registry (registry); each
        # team's workspace and storage (blob, file)
        per_team = ["amlworkspace", "blob", "file"] * len(teams)
        assert groups == sorted(
            [
                "amlregistry",
                "amlworkspace",
                "blob",
                "blob",
                "file",
                "registry",
                "registry",
                "vault",
                *per_team,
            ]
        )
        clusters = [
            v
            for v in template["variables"].values()
            if isinstance(v, dict) and v.get("computeType") == "AmlCompute"
        ]
        assert clusters
        for cluster in clusters:
            assert cluster["properties"]["enableNodePublicIp"] is False
            assert cluster["properties"]["scaleSettings"]["minNodeCount"] == 0
        (pool,) = _resources(template, "Microsoft.DevOpsInfrastructure/pools")
        fabric = template["variables"]["agents-fabric"]
        assert "snet-build-agents" in fabric["networkProfile"]["subnetId"]
        assert pool["properties"]["fabricProfile"] == "[variables('agents-fabric')]"


def test_managed_mode_limits_outbound_and_vnet_mode_trains_in_our_subnet() -> None:
    managed = _templates(REPO / "mlops.yaml")["infra/dev/main.json"]
    (ws,) = _resources(managed, "Microsoft.MachineLearningServices/workspaces")
    assert ws["properties"]["managedNetwork"]["isolationMode"] == "AllowOnlyApprovedOutbound"
    assert (
        managed["variables"]["outbound-rules"]["model-registry"]["destination"]["subresourceTarget"]
        == "amlregistry"
    )

    vnet = _templates(CONFIGS / "vnet.yaml")["infra/dev/main.json"]
    (ws,) = _resources(vnet, "Microsoft.MachineLearningServices/workspaces")
    assert ws["properties"]["managedNetwork"] == {"isolationMode": "Disabled"}
    cluster = vnet["variables"]["compute-gpu-cluster"]["properties"]
    assert "snet-training" in cluster["subnet"]["id"]
    assert cluster["vmPriority"] == "LowPriority"
    # two zones come from the hub, the rest are created and linked to the network
    zones = [r["name"] for r in _resources(vnet, "Microsoft.Network/privateDnsZones")]
    assert "privatelink.blob.core.windows.net" not in zones
    assert "privatelink.api.azureml.ms" in zones
    blob_group = next(
        r for r in vnet["resources"] if r["name"] == "pe-contoso-churn-dev-blob/default"
    )
    (zone,) = blob_group["properties"]["privateDnsZoneConfigs"]
    assert zone["properties"]["privateDnsZoneId"].startswith("/subscriptions/3333")


def test_kubernetes_target_adds_a_private_aks_cluster_attached_to_the_workspace() -> None:
    template = _templates(CONFIGS / "kubernetes.yaml")["infra/dev/main.json"]
    (aks,) = _resources(template, "Microsoft.ContainerService/managedClusters")
    assert aks["properties"]["apiServerAccessProfile"]["enablePrivateCluster"] is True
    user = next(p for p in aks["properties"]["agentPoolProfiles"] if p["mode"] == "User")
    assert user["enableAutoScaling"] is True
    # the Azure ML extension does not support disabling local accounts
    # (/azure/machine-learning/how-to-deploy-kubernetes-extension)
    assert aks["properties"]["disableLocalAccounts"] is False
    assert aks["properties"]["aadProfile"]["enableAzureRBAC"] is True
    # outbound through the environment's egress: the NAT gateway on the cluster's subnet
    assert aks["properties"]["networkProfile"]["outboundType"] == "userAssignedNATGateway"
    (extension,) = _resources(template, "Microsoft.KubernetesConfiguration/extensions")
    assert extension["properties"]["extensionType"] == "Microsoft.AzureML.Kubernetes"
    settings = extension["properties"]["configurationSettings"]
    # an internal load balancer: the documented values of the extension's settings
    assert settings["inferenceRouterServiceType"] == "loadBalancer"
    assert settings["internalLoadBalancerProvider"] == "azure"
    assert template["variables"]["compute-aks"]["computeType"] == "Kubernetes"
    # every checkov skip carries its written justification
    for resource in template["resources"]:
        for skip in resource.get("metadata", {}).get("checkov", []):
            check, _, why = skip.removeprefix("checkov:skip=").partition(":")
            assert check.startswith("CKV_") and len(why) > 40


def test_names_that_break_azure_rules_exit_2_and_nothing_is_rendered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mlops.yaml").write_text(
        "project: {name: a-very-long-project-name-indeed}\nazure: {name_prefix: contosoltd}\n"
    )
    monkeypatch.chdir(tmp_path)
    result = run_cli("render")
    assert result.exit_code == 2
    assert "project.name" in result.stderr and "characters" in result.stderr
    assert not (tmp_path / "infra").exists()


def test_the_custom_role_is_assignable_in_every_environments_resource_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copy_config("vnet", tmp_path)
    other = "44444444-4444-4444-4444-444444444444"
    own_subscription = f"prod: {{subscription_id: {other},"
    path.write_text(path.read_text().replace("prod: {location: westeurope,", own_subscription))
    monkeypatch.chdir(tmp_path)
    assert run_cli("render").exit_code == 0

    template = json.loads((tmp_path / "infra/roles/data-scientist.json").read_text())

    assert template["$schema"].endswith("/subscriptionDeploymentTemplate.json#")
    [role] = template["resources"]
    assert role["type"] == "Microsoft.Authorization/roleDefinitions"
    uuid.UUID(role["name"])
    props = role["properties"]
    assert props["roleName"] == "contoso-churn Data Scientist"
    assert props["assignableScopes"] == [
        "[format('{0}/resourceGroups/{1}', subscription().id, 'rg-contoso-churn-dev')]",
        "[format('{0}/resourceGroups/{1}', subscription().id, 'rg-contoso-churn-test')]",
        f"/subscriptions/{other}/resourceGroups/rg-contoso-churn-prod",  # its own subscription
    ]
    not_actions = props["permissions"][0]["notActions"]
    assert "Microsoft.MachineLearningServices/workspaces/computes/write" in not_actions


@pytest.mark.parametrize("config", ALL_CONFIGS, ids=lambda p: p.stem)
def test_only_the_training_environments_storage_admits_the_registry_so_promotion_can_copy(
    config: Path,
) -> None:
    """Microsoft: a model cannot be shared from a workspace whose storage has public access
    disabled; the fix is public access from selected networks with a resource instance rule
    for the registry (how-to-registry-network-isolation). Nothing else gets in: the default
    action stays Deny, no IP or VNet rule; test and prod storage stay fully private."""
    loaded = load_config(config).config
    first, *later = loaded.environments.azure
    registry = loaded.shared_names().registry
    for env, template in ((e, _templates(config)[f"infra/{e}/main.json"]) for e in [first, *later]):
        # the platform's storage and each team's: a team promotes from its own workspace
        storages = _resources(template, "Microsoft.Storage/storageAccounts")
        assert len(storages) == 1 + len(loaded.teams)
        for storage in storages:
            props = storage["properties"]
            acls = props["networkAcls"]
            assert acls["defaultAction"] == "Deny"
            if env == first:
                assert props["publicNetworkAccess"] == "Enabled"
                assert acls["ipRules"] == [] and acls["virtualNetworkRules"] == []
                (rule,) = acls["resourceAccessRules"]
                assert "'Microsoft.MachineLearningServices/registries'" in rule["resourceId"]
                assert f"'{registry}'" in rule["resourceId"]
            else:
                assert props["publicNetworkAccess"] == "Disabled"
                assert "resourceAccessRules" not in acls


def test_aks_behind_a_firewall_routes_its_outbound_traffic_to_it(tmp_path: Path) -> None:
    path = copy_config("kubernetes", tmp_path)
    path.write_text(
        path.read_text().replace("  mode: vnet\n", "  mode: vnet\n  egress: {type: firewall}\n")
    )
    template = _templates(path)["infra/dev/main.json"]
    (aks,) = _resources(template, "Microsoft.ContainerService/managedClusters")
    assert aks["properties"]["networkProfile"]["outboundType"] == "userDefinedRouting"
    (firewall,) = _resources(template, "Microsoft.Network/azureFirewalls")
    assert firewall_id(firewall) in aks["dependsOn"]  # created once egress works
    fqdns = {
        fqdn
        for collection in template["variables"]["firewall-rule-collections"]
        for rule in collection["rules"]
        if rule["name"].startswith("aks-")
        for fqdn in rule["targetFqdns"]
    }
    assert {"mcr.microsoft.com", "management.azure.com", "arcmktplaceprod.azurecr.io"} <= fqdns


def firewall_id(firewall: dict) -> str:
    return f"[resourceId('Microsoft.Network/azureFirewalls', '{firewall['name']}')]"


@pytest.mark.parametrize("config", ALL_CONFIGS, ids=lambda p: p.stem)
def test_images_build_on_a_cpu_cluster_and_pulls_are_not_quarantined(config: Path) -> None:
    """Private ACR and storage: serverless image builds cannot reach them, so the workspace
    names a CPU cluster (/azure/machine-learning/how-to-secure-workspace-vnet); quarantine
    would block every pull until a scanner marks the image, and Azure ML has none."""
    loaded = load_config(config).config
    for path, template in _templates(config).items():
        if path == "infra/shared/main.json" or path.startswith("infra/roles/"):
            continue
        for ws in _resources(template, "Microsoft.MachineLearningServices/workspaces"):
            build = ws["properties"]["imageBuildCompute"]
            assert not loaded.compute.clusters[build].size.startswith("Standard_N")  # CPU
            assert template["variables"][f"compute-{build}"]["computeType"] == "AmlCompute"
            # the cluster is the workspace's own (each team's workspace has its clusters)
            names = {c["name"] for c in _resources(template, COMPUTES)}
            assert f"{ws['name']}/{build}" in names
        (cr,) = _resources(template, "Microsoft.ContainerRegistry/registries")
        assert cr["properties"]["policies"]["quarantinePolicy"] == {"status": "disabled"}


def test_an_environment_in_another_subscription_names_the_registry_with_its_subscription(
    tmp_path: Path,
) -> None:
    path = copy_config("vnet", tmp_path)
    other = "44444444-4444-4444-4444-444444444444"
    path.write_text(
        path.read_text().replace(
            "prod: {location: westeurope,", f"prod: {{subscription_id: {other},"
        )
    )
    rendered = _templates(path)
    home = "'22222222-2222-2222-2222-222222222222', 'rg-contoso-churn-shared'"
    for env, expected in (
        ("dev", "resourceId('rg-contoso-churn-shared'"),
        ("prod", f"resourceId({home}"),
    ):
        template = rendered[f"infra/{env}/main.json"]
        pe = next(r for r in template["resources"] if r["name"].endswith("-mlr"))
        target = pe["properties"]["privateLinkServiceConnections"][0]["properties"]
        assert target["privateLinkServiceId"].startswith(f"[{expected}"), env
