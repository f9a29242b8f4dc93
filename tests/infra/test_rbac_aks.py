"""AKS as the inference target: platform engineers and the deployment identity hold Azure
Kubernetes Service roles on each environment's cluster, which `rbac matrix` and `rbac check`
show and `provision` assigns."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters

from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import load_config
from mlops.rbac import builtin
from mlops.rbac.model import role_model
from mlops.services import infra
from tests.conftest import run_cli
from tests.infra.arm_fake import FakeArm
from tests.infra.conftest import CONFIGS, copy_config

CLUSTER_USER = "4abbcc35-e782-43d8-92c5-2d3f1bd2253f"
RBAC_READER = "7f6c6a51-bcf8-42ba-9220-52d62157d7db"
RBAC_WRITER = "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb"
PODS = "Microsoft.ContainerService/managedClusters/pods"


def _aks_grants(config_name: str) -> set[tuple[str, str, str, str]]:
    model = role_model(load_config(CONFIGS / f"{config_name}.yaml").config)
    return {
        (g.persona, g.env, g.scope.path().split("/providers/", 1)[1], g.role.id)
        for g in model.grants
        if g.scope.kind.startswith("kubernetes")
    }


def test_the_ids_are_microsofts_built_in_aks_roles() -> None:
    assert builtin.AKS_CLUSTER_USER.id == CLUSTER_USER
    assert builtin.AKS_RBAC_READER.id == RBAC_READER
    assert builtin.AKS_RBAC_WRITER.id == RBAC_WRITER
    # the reader sees no secret; the writer changes no role or role binding
    assert not builtin.AKS_RBAC_READER.decide(f"{PODS[:-4]}secrets/read", data=True).allowed
    assert not builtin.AKS_RBAC_WRITER.decide(
        "Microsoft.ContainerService/managedClusters/rbac.authorization.k8s.io/rolebindings/write",
        data=True,
    ).allowed


def test_engineers_operate_each_cluster_and_the_deployment_identity_reads_its_namespace() -> None:
    cluster = "Microsoft.ContainerService/managedClusters/aks-acme-pricing-{}"
    expected = set()
    for env in ("dev", "test", "prod"):
        expected |= {
            ("platform_engineers", env, cluster.format(env), CLUSTER_USER),
            ("platform_engineers", env, cluster.format(env), RBAC_WRITER),
        }
    for env in ("test", "prod"):  # the deployment identity deploys past development only
        expected |= {
            ("deployment", env, cluster.format(env), CLUSTER_USER),
            ("deployment", env, cluster.format(env) + "/namespaces/azureml", RBAC_READER),
        }
    assert _aks_grants("kubernetes") == expected
    # no AKS, no AKS roles
    assert _aks_grants("vnet") == set()


def test_rbac_check_answers_for_the_cluster_and_rbac_matrix_lists_the_roles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_config("kubernetes", tmp_path)
    monkeypatch.chdir(tmp_path)

    write = run_cli("rbac", "check", "platform_engineers", f"{PODS}/write", "-e", "prod")
    scientists = run_cli("rbac", "check", "data_scientists", f"{PODS}/read", "-e", "prod")
    kubeconfig = "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action"
    deployer = run_cli("rbac", "check", "deployment", kubeconfig, "-e", "prod", "-o", "json")
    rows = run_cli("rbac", "matrix", "--env", "prod", "-o", "json").json()

    assert write.exit_code == 0 and "AKS cluster aks-acme-pricing-prod" in write.stdout
    assert scientists.exit_code == 3
    assert deployer.exit_code == 0 and deployer.json()["data_action"] is False
    listed = {(r["persona"], r["role"]) for r in rows if "AKS" in r["scope"]}
    assert listed == {
        ("platform_engineers", "Azure Kubernetes Service Cluster User Role"),
        ("platform_engineers", "Azure Kubernetes Service RBAC Writer"),
        ("deployment", "Azure Kubernetes Service Cluster User Role"),
        ("deployment", "Azure Kubernetes Service RBAC Reader"),
    }


def test_provision_assigns_the_aks_roles_at_the_cluster_and_the_namespace(
    tmp_path: Path, clients: AzureClients, arm: FakeArm
) -> None:
    path = copy_config("vnet", tmp_path)
    text = (
        path.read_text() + "deployment: {target: kubernetes, instance_type: defaultinstancetype}\n"
    )
    path.write_text(text)
    loaded = load_config(path)

    infra.provision(loaded, "prod", clients, poll_seconds=0.01, replication_delays=(0.0,))

    aks = "/providers/Microsoft.ContainerService/managedClusters/aks-contoso-churn-prod"
    sent = {}
    for write in arm.writes():
        if "/roleAssignments/" in write.path and aks in write.path:
            body = RoleAssignmentCreateParameters.deserialize(write.body)
            scope = write.path.split(aks, 1)[1].split("/providers/Microsoft.Authorization")[0]
            sent.setdefault(body.role_definition_id.rsplit("/", 1)[1], set()).add(
                (scope, body.principal_id)
            )
    engineers = "0b000000-0000-4000-8000-000000000002"
    deployment = "0d000000-0000-4000-8000-000000000007"  # identities.cicd.prod
    assert sent == {
        CLUSTER_USER: {("", engineers), ("", deployment)},
        RBAC_WRITER: {("", engineers)},
        RBAC_READER: {("/namespaces/azureml", deployment)},
    }
