"""The AKS inference target as the Azure ML extension supports it: HTTPS on the inference
router with a host name and a certificate (from a Kubernetes secret or from Key Vault),
refused at config time without them, HTTP on the internal load balancer only when asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops.config.loader import load_config
from mlops.render.files import render
from tests.conftest import run_cli
from tests.infra.conftest import CONFIGS, copy_config
from tests.infra.network_helpers import one, resources, templates

EXTENSION = "Microsoft.KubernetesConfiguration/extensions"
DEPLOYMENT = "Microsoft.Resources/deployments"
SECRET_TLS = (
    '    tls: {cname: "scoring.{env}.pricing.acme.internal", kubernetes_secret: azureml-fe-tls}\n'
)
VAULT = (
    "/subscriptions/44444444-4444-4444-4444-444444444444/resourceGroups/rg-certs"
    "/providers/Microsoft.KeyVault/vaults/kv-acme-certs"
)


def _with_tls(tmp_path: Path, tls: str) -> Path:
    """The kubernetes test config with `tls` (YAML lines under compute.kubernetes)."""
    path = copy_config("kubernetes", tmp_path)
    path.write_text(path.read_text().replace(SECRET_TLS, tls))
    return path


def _settings(template: dict) -> dict[str, str]:
    return one(template, EXTENSION)["properties"]["configurationSettings"]


def test_the_router_serves_https_under_each_environments_host_name_with_the_secret() -> None:
    for env, template in templates(CONFIGS / "kubernetes.yaml").items():
        if env == "shared":
            continue
        settings = _settings(template)
        # sslCname is "Required if allowInsecureConnections=False", and a certificate source
        # with it (/azure/machine-learning/how-to-deploy-kubernetes-extension)
        assert settings["allowInsecureConnections"] == "False"
        assert settings["sslCname"] == f"scoring.{env}.pricing.acme.internal"
        assert settings["scoringFe.sslSecret"] == "azureml-fe-tls"
        assert "configurationProtectedSettings" not in one(template, EXTENSION)["properties"]


def test_the_extension_carries_the_settings_of_microsofts_arm_template() -> None:
    template = templates(CONFIGS / "kubernetes.yaml")["dev"]
    cluster = one(template, "Microsoft.ContainerService/managedClusters")
    settings = _settings(template)
    cluster_id = (
        "[resourceId('Microsoft.ContainerService/managedClusters', 'aks-acme-pricing-dev')]"
    )
    # github.com/Azure/AML-Kubernetes files/deployextension.json: what the CLI computes itself
    assert settings["clusterId"] == settings["cluster_name"] == cluster_id
    assert settings["cluster_name_friendly"] == cluster["name"]
    assert settings["domain"] == settings["jobSchedulerLocation"] == "[parameters('location')]"
    assert settings["enableInference"] == "True" and settings["enableTraining"] == "False"
    # an internal load balancer: reachable only from the network
    assert settings["inferenceRouterServiceType"] == "loadBalancer"
    assert settings["internalLoadBalancerProvider"] == "azure"
    assert settings["scoringFe.serviceType.internalLoadBalancer"] == "True"
    # three router replicas need three worker nodes; the default user pool starts with one
    assert settings["inferenceRouterHA"] == "False"


def test_three_router_replicas_once_the_user_pool_keeps_three_nodes(tmp_path: Path) -> None:
    path = _with_tls(tmp_path, SECRET_TLS + "    min_nodes: 3\n")
    assert _settings(templates(path)["dev"])["inferenceRouterHA"] == "True"


def test_a_certificate_from_key_vault_reaches_the_extension_by_reference_only(
    tmp_path: Path,
) -> None:
    path = _with_tls(
        tmp_path,
        "    tls:\n"
        '      cname: "scoring.{env}.pricing.acme.internal"\n'
        "      key_vault:\n"
        f"        vault_id: {VAULT}\n"
        '        certificate_secret: "azureml-fe-{env}-cert"\n'
        '        key_secret: "azureml-fe-{env}-key"\n',
    )
    for env, template in templates(path).items():
        if env == "shared":
            continue
        assert not resources(template, EXTENSION)  # inside the nested deployment
        (nested,) = resources(template, DEPLOYMENT)
        body = nested["properties"]
        # Key Vault references need an inner-scoped nested template
        # (/azure/azure-resource-manager/templates/key-vault-parameter)
        assert body["expressionEvaluationOptions"] == {"scope": "Inner"}
        references = {
            name: value["reference"]
            for name, value in body["parameters"].items()
            if "reference" in value
        }
        assert references == {
            "sslCertificate": {"keyVault": {"id": VAULT}, "secretName": f"azureml-fe-{env}-cert"},
            "sslKey": {"keyVault": {"id": VAULT}, "secretName": f"azureml-fe-{env}-key"},
        }
        inner = body["template"]
        assert inner["parameters"]["sslKey"] == {"type": "securestring"}
        (extension,) = inner["resources"]
        assert extension["type"] == EXTENSION
        # deployextension.json's protected settings: base64 of the PEM text
        assert extension["properties"]["configurationProtectedSettings"] == {
            "scoringFe.sslCert": "[base64(parameters('sslCertificate'))]",
            "scoringFe.sslKey": "[base64(parameters('sslKey'))]",
        }
        settings = extension["properties"]["configurationSettings"]
        assert settings["allowInsecureConnections"] == "False"
        assert settings["sslCname"] == f"scoring.{env}.pricing.acme.internal"
        assert "scoringFe.sslSecret" not in settings
        # the cluster is attached once the extension is installed
        (compute,) = [
            r
            for r in resources(template, "Microsoft.MachineLearningServices/workspaces/computes")
            if r["name"].endswith("/aks")
        ]
        deployment_id = f"[resourceId('{DEPLOYMENT}', '{nested['name']}')]"
        assert deployment_id in compute["dependsOn"]


def test_without_tls_the_router_serves_http_on_the_internal_load_balancer_with_a_warning(
    tmp_path: Path,
) -> None:
    path = _with_tls(tmp_path, "    min_nodes: 1\n")
    loaded = load_config(path)
    (warning,) = [w for w in loaded.warnings if w.path == "compute.kubernetes.tls"]
    assert "development or testing" in warning.message
    settings = _settings(templates(path)["dev"])
    assert settings["allowInsecureConnections"] == "True"
    assert "sslCname" not in settings and "scoringFe.sslSecret" not in settings


@pytest.mark.parametrize(
    ("tls", "field"),
    [
        # HTTPS with no certificate: the extension install would fail
        ('    tls: {cname: "scoring.{env}.acme.internal"}\n', "compute.kubernetes.tls"),
        # HTTPS with no host name (sslCname)
        ("    tls: {kubernetes_secret: azureml-fe-tls}\n", "compute.kubernetes.tls.cname"),
        # two certificate sources: Microsoft allows one ("They don't configure sslSecret
        # and sslCertPemFile/sslKeyPemFile at the same time")
        (
            '    tls: {cname: "scoring.acme.internal", kubernetes_secret: s, key_vault:'
            f" {{vault_id: {VAULT}, certificate_secret: c, key_secret: k}}}}\n",
            "compute.kubernetes.tls",
        ),
    ],
)
def test_https_without_exactly_one_certificate_or_without_a_host_name_is_refused_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tls: str, field: str
) -> None:
    _with_tls(tmp_path, tls)
    monkeypatch.chdir(tmp_path)

    result = run_cli("render")

    assert result.exit_code == 2, result.stderr
    assert field in result.stderr
    assert not (tmp_path / "infra").exists()


def test_no_rendered_file_holds_a_certificate_or_key(tmp_path: Path) -> None:
    path = _with_tls(
        tmp_path,
        f'    tls: {{cname: "s.{{env}}.acme.internal", key_vault: {{vault_id: {VAULT},'
        " certificate_secret: c, key_secret: k}}\n",
    )
    for file in render(load_config(path).config):
        assert "BEGIN CERTIFICATE" not in file.text and "PRIVATE KEY" not in file.text
        if file.path.endswith(".json"):
            json.loads(file.text)


def test_offline_plan_shows_whether_the_router_serves_https_and_under_which_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_config("kubernetes", tmp_path)
    monkeypatch.chdir(tmp_path)

    result = run_cli("plan", "--offline", "--env", "test")

    assert result.exit_code == 0, result.stderr
    (block,) = [b for b in result.stdout.split("\n  + create")[1:] if b.split()[0] == EXTENSION]
    assert "configurationSettings.allowInsecureConnections: False" in block
    assert "configurationSettings.sslCname: scoring.test.pricing.acme.internal" in block
