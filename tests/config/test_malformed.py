"""Every malformed config exits 2 and points at the offending line and field.

Each case marks the line the error must point at with `# <-`.
"""

from __future__ import annotations

import os
import textwrap

import pytest

GOOD_ID = "11111111-2222-3333-4444-555555555555"

CASES: dict[str, tuple[str, str]] = {
    # name: (mlops.yaml with the expected line marked, expected field path)
    "yaml syntax error": (
        """
        project:
          name: churn: model   # <-
        """,
        "",
    ),
    "duplicate key": (
        """
        project:
          name: churn
          name: other   # <-
        """,
        "",
    ),
    "unknown top-level key": (
        """
        project: {name: churn}
        netwrok: {mode: vnet}   # <-
        """,
        "netwrok",
    ),
    "unknown nested key": (
        """
        project:
          name: churn
          nme: churn   # <-
        """,
        "project.nme",
    ),
    "missing project name": (
        """
        project:   # <-
          description: no name
        """,
        "project.name",
    ),
    "project name with capitals": (
        """
        project:
          name: Churn   # <-
        """,
        "project.name",
    ),
    "wrong type for an integer": (
        """
        project: {name: churn}
        compute:
          clusters:
            cpu-cluster:
              max_nodes: many   # <-
        """,
        "compute.clusters.cpu-cluster.max_nodes",
    ),
    "wrong type for a section": (
        """
        project: {name: churn}
        network: managed   # <-
        """,
        "network",
    ),
    "bad subscription GUID": (
        """
        project: {name: churn}
        azure:
          subscription_id: 1234-not-a-guid   # <-
        """,
        "azure.subscription_id",
    ),
    "bad group object id": (
        f"""
        project: {{name: churn}}
        identities:
          data_scientists:
            - name: sg-ds
              object_id: {GOOD_ID[:-1]}   # <-
        """,
        "identities.data_scientists.0.object_id",
    ),
    "overlapping subnets": (
        """
        project: {name: churn}
        network:
          subnets:
            private_endpoints: 10.0.0.0/24
            training: 10.0.0.128/25   # <-
        """,
        "network.subnets.training",
    ),
    "subnet outside the address space": (
        """
        project: {name: churn}
        network:
          address_space: [10.1.0.0/16]
          subnets:
            private_endpoints: 10.1.0.0/24
            training: 10.1.1.0/24
            build_agents: 10.2.2.0/24   # <-
            aks: 10.1.16.0/20
        """,
        "network.subnets.build_agents",
    ),
    "CIDR with host bits": (
        """
        project: {name: churn}
        network:
          address_space: [10.0.0.1/16]   # <-
        """,
        "network.address_space.0",
    ),
    "not a CIDR at all": (
        """
        project: {name: churn}
        network:
          subnets:
            aks: big   # <-
        """,
        "network.subnets.aks",
    ),
    "storage account name too long": (
        """
        project:
          name: customer-churn-model   # <-
        azure: {name_prefix: contoso}
        """,
        "project.name",
    ),
    "approver group not declared": (
        f"""
        project: {{name: churn}}
        identities:
          platform_engineers: [{{name: sg-ml-engineers, object_id: {GOOD_ID}}}]
        environments:
          prod:
            approval:
              approvers: [sg-ml-enginers]   # <-
        """,
        "environments.prod.approval.approvers.0",
    ),
    "environment name with punctuation": (
        """
        project: {name: churn}
        environments:
          Prod_EU: {}   # <-
        """,
        "environments.Prod_EU",
    ),
    "endpoint name starting with a hyphen": (
        """
        project: {name: churn}
        deployment:
          endpoint_name: -churn   # <-
        """,
        "deployment.endpoint_name",
    ),
    "unknown network mode": (
        """
        project: {name: churn}
        network:
          mode: private   # <-
        """,
        "network.mode",
    ),
    "min nodes above max nodes": (
        """
        project: {name: churn}
        compute:
          clusters:
            cpu-cluster:
              min_nodes: 5   # <-
              max_nodes: 2
        """,
        "compute.clusters.cpu-cluster.min_nodes",
    ),
    "compute name too long": (
        """
        project: {name: churn}
        compute:
          clusters:
            a-very-long-cluster-name: {}   # <-
        """,
        "compute.clusters.a-very-long-cluster-name",
    ),
    "traffic steps not increasing": (
        """
        project: {name: churn}
        deployment:
          traffic_steps: [50, 10, 100]   # <-
        """,
        "deployment.traffic_steps",
    ),
    "traffic steps stopping short of 100": (
        """
        project: {name: churn}
        deployment:
          traffic_steps: [10, 50]   # <-
        """,
        "deployment.traffic_steps",
    ),
    "traffic step above 100": (
        """
        project: {name: churn}
        deployment:
          traffic_steps:
            - 10
            - 150   # <-
        """,
        "deployment.traffic_steps.1",
    ),
    "CI/CD identity for an undeclared environment": (
        f"""
        project: {{name: churn}}
        identities:
          cicd:
            staging: {{client_id: {GOOD_ID}, object_id: {GOOD_ID}}}   # <-
        """,
        "identities.cicd.staging",
    ),
    "data asset without any path": (
        """
        project: {name: churn}
        data:
          churn-raw:   # <-
            version: "3"
        """,
        "data.churn-raw",
    ),
    "data asset with a local path as azure path": (
        """
        project: {name: churn}
        data:
          churn-raw:
            azure_path: /mnt/data/churn.csv   # <-
        """,
        "data.churn-raw.azure_path",
    ),
    "unknown metric direction": (
        """
        project: {name: churn}
        model:
          primary_metric: roc_auc
          direction: up   # <-
        """,
        "model.direction",
    ),
    "model without primary metric": (
        """
        project: {name: churn}
        model:   # <-
          pipeline: pipelines/train.yml
        """,
        "model.primary_metric",
    ),
    "top level is a list": (
        """
        - project: churn   # <-
        """,
        "",
    ),
    "unknown private DNS zone": (
        f"""
        project: {{name: churn}}
        network:
          private_dns_zones:
            existing:
              privatelink.azureml.ms: /subscriptions/{GOOD_ID}/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.azureml.ms   # <-
        """,  # noqa: E501
        "network.private_dns_zones.existing.privatelink.azureml.ms",
    ),
    "organization URL of another site": (
        """
        project: {name: churn}
        devops:
          organization_url: https://github.com/contoso   # <-
        """,
        "devops.organization_url",
    ),
    "location given as a display name": (
        """
        project: {name: churn}
        azure:
          location: West Europe   # <-
        """,
        "azure.location",
    ),
    "zero approvers required": (
        """
        project: {name: churn}
        environments:
          prod:
            approval:
              approvers: [platform_owners]
              min_approvers: 0   # <-
        """,
        "environments.prod.approval.min_approvers",
    ),
    "managed endpoint on a Kubernetes instance type": (
        """
        project: {name: churn}
        deployment:
          target: managed
          instance_type: defaultinstancetype   # <-
        """,
        "deployment.instance_type",
    ),
    "list where a string belongs": (
        """
        project:
          name: churn
          description: [a, b]   # <-
        """,
        "project.description",
    ),
}


def _expected_line(text: str) -> int:
    lines = textwrap.dedent(text).splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.rstrip().endswith("# <-"))


def test_there_are_at_least_25_malformed_cases():
    assert len(CASES) >= 25


@pytest.mark.parametrize("name", list(CASES))
def test_malformed_config_exits_2_pointing_at_the_line_and_field(name, project, cli, tmp_path):
    text, field = CASES[name]
    project(text)
    before = sorted(os.listdir(tmp_path))

    result = cli("config", "validate", "--output", "json")

    assert result.exception is None
    assert result.exit_code == 2
    report = result.json()
    assert report["ok"] is False
    located = {(i["path"], i["line"]) for i in report["issues"] if i["severity"] == "error"}
    assert (field, _expected_line(text)) in located, report["issues"]
    assert all(i["message"] for i in report["issues"])
    assert sorted(os.listdir(tmp_path)) == before  # nothing written


def test_human_report_reads_like_a_compiler_error_with_a_hint(project, cli):
    project(CASES["unknown nested key"][0])

    result = cli("config", "validate")

    assert result.exit_code == 2
    assert "mlops.yaml:4:3: error: project.nme: unknown key 'nme'" in result.stderr
    assert "hint: did you mean 'name'?" in result.stderr
    assert result.stdout == ""


def test_all_problems_are_reported_at_once_in_file_order(project, cli):
    project(
        """
        project: {name: churn, colour: blue}
        azure: {tenant_id: nope, location: West Europe}
        """
    )
    report = cli("config", "validate", "-o", "json").json()
    assert [i["path"] for i in report["issues"]] == [
        "project.colour",
        "azure.tenant_id",
        "azure.location",
    ]


def test_an_empty_file_says_what_the_smallest_config_is(project, cli):
    project("")
    result = cli("config", "validate")
    assert result.exit_code == 2
    assert "mlops.yaml is empty" in result.stderr
    assert "name: churn" in result.stderr


def test_azure_devops_logs_get_inline_annotations(project, cli):
    project(CASES["unknown nested key"][0])
    result = cli("config", "validate", env={"TF_BUILD": "True"})
    assert (
        "##vso[task.logissue type=error;sourcepath=mlops.yaml;linenumber=4;columnnumber=3]"
        "project.nme: unknown key 'nme'" in result.stderr
    )


def test_type_errors_say_what_the_field_is_for_with_an_example(project, cli):
    project(
        """
        project: {name: churn}
        azure:
          subscription_id: 1234
        """
    )
    report = cli("config", "validate", "-o", "json").json()
    (issue,) = report["issues"]
    assert issue["message"] == "expected a string, got the number 1234"
    assert "Default subscription" in issue["hint"]
    assert "00000000-0000-0000-0000-000000000000" in issue["hint"]
