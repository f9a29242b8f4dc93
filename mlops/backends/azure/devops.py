"""Azure DevOps through the real `azure-devops` SDK (REST 7.1): read what a project holds, and
create or update the objects the platform needs.

The SDK's 7.1 models drop, without a word, keys these calls need (a check's `settings`, a
YAML pipeline's `path` and `repository`, a group's `originId`); the subclasses below add
them to the models' attribute maps so the serializer sends them. Errors come back as
`AzureDevOpsServiceError` without an HTTP status; they become `BackendError`s naming the
object and, for permissions, what is missing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlops.errors import BackendError
from mlops.plan.devops import APPROVAL_CHECK, TASK_CHECK, Observed

if TYPE_CHECKING:
    from azure.devops.connection import Connection

#: the Entra application of Azure DevOps: tokens for its REST API are asked for this scope
ADO_SCOPE = "499b84ac-1321-427f-aa17-267ca6975798/.default"
PAT_VARIABLE = "AZURE_DEVOPS_EXT_PAT"
#: the Build security namespace: pipelines, their folders and runs
BUILD_NAMESPACE = "33344d9c-fc72-4d6f-aba5-fa317101a7e9"


def connect(organization_url: str, credential: Any | None = None) -> Connection:
    """A connection with a PAT from AZURE_DEVOPS_EXT_PAT, else an Entra token."""
    from azure.devops.connection import Connection
    from msrest.authentication import BasicAuthentication, BasicTokenAuthentication

    pat = os.environ.get(PAT_VARIABLE)
    if pat:
        creds: Any = BasicAuthentication("", pat)
    else:
        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        token = call(lambda: credential.get_token(ADO_SCOPE).token, "signing in to Azure DevOps")
        creds = BasicTokenAuthentication({"access_token": token})
    return Connection(base_url=organization_url, creds=creds)


def call(fn: Callable[[], Any], what: str) -> Any:
    """Run an SDK call; Azure DevOps' errors become BackendErrors naming `what`."""
    from azure.core.exceptions import ClientAuthenticationError
    from azure.devops.exceptions import AzureDevOpsAuthenticationError, AzureDevOpsServiceError
    from msrest.exceptions import ClientRequestError

    try:
        return fn()
    except (AzureDevOpsAuthenticationError, ClientAuthenticationError) as exc:
        raise BackendError(
            f"{what}: not signed in to Azure DevOps ({str(exc).splitlines()[0]})",
            hint=f"az login, or set {PAT_VARIABLE} to a personal access token",
        ) from None
    except AzureDevOpsServiceError as exc:
        message = str(exc).strip()
        denied = "permission" in message.lower() or "TF400813" in message
        raise BackendError(
            f"{what}: {message}",
            hint="the identity needs that permission in the project (Project Administrators"
            " hold them all)"
            if denied
            else None,
        ) from None
    except ClientRequestError as exc:
        raise BackendError(f"{what}: Azure DevOps did not answer ({exc})") from None


def _models() -> Any:
    """The SDK's models, with the keys the 7.1 models lack added."""
    from azure.devops.v7_1.graph.models import GraphGroupCreationContext
    from azure.devops.v7_1.pipelines.models import CreatePipelineConfigurationParameters
    from azure.devops.v7_1.pipelines_checks.models import CheckConfiguration

    class CheckWithSettings(CheckConfiguration):
        _attribute_map = {  # noqa: RUF012
            **CheckConfiguration._attribute_map,
            "settings": {"key": "settings", "type": "object"},
        }

        def __init__(self, settings: Any = None, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.settings = settings

    class YamlPipeline(CreatePipelineConfigurationParameters):
        _attribute_map = {  # noqa: RUF012
            **CreatePipelineConfigurationParameters._attribute_map,
            "path": {"key": "path", "type": "str"},
            "repository": {"key": "repository", "type": "object"},
        }

        def __init__(self, path: str, repository: dict[str, str]) -> None:
            super().__init__(type="yaml")
            self.path, self.repository = path, repository

    class EntraGroup(GraphGroupCreationContext):
        _attribute_map = {  # noqa: RUF012
            **GraphGroupCreationContext._attribute_map,
            "origin_id": {"key": "originId", "type": "str"},
        }

        def __init__(self, origin_id: str) -> None:
            super().__init__()
            self.origin_id = origin_id

    return CheckWithSettings, YamlPipeline, EntraGroup


class Project:
    """One Azure DevOps project through the SDK's clients."""

    def __init__(self, connection: Connection, project: str, repository: str) -> None:
        clients = connection.clients_v7_1
        self.name, self.repository = project, repository
        self.core = clients.get_core_client()
        self.git = clients.get_git_client()
        self.pipelines = clients.get_pipelines_client()
        self.agent = clients.get_task_agent_client()
        self.checks = clients.get_pipelines_checks_client()
        self.policy = clients.get_policy_client()
        self.endpoints = clients.get_service_endpoint_client()
        self.graph = clients.get_graph_client()
        self.identity = clients.get_identity_client()
        self.security = clients.get_security_client()
        self._check_model, self._yaml_pipeline, self._entra_group = _models()
        self.checks._deserialize.dependencies["CheckConfiguration"] = self._check_model

    # --- reading ------------------------------------------------------------------------
    def read(self, connections: list[str], groups: list[str]) -> Observed:
        project = call(lambda: self.core.get_project(self.name), f"project {self.name}")
        repo = call(
            lambda: self.git.get_repository(self.repository, project=self.name),
            f"repository {self.repository}",
        )
        seen = Observed(project.id, repo.id)
        seen.teams = {t.name: t.id for t in call(lambda: self.core.get_teams(project.id), "teams")}
        seen.pipelines = {
            p.name: p.id
            for p in call(lambda: self.pipelines.list_pipelines(self.name), "pipelines")
        }
        environments = call(lambda: self.agent.get_environments(self.name), "environments")
        for env in environments:
            seen.environments[env.name] = env.id
            for check in call(
                lambda env=env: self.checks.get_check_configurations_on_resource(
                    self.name, "environment", str(env.id), expand="settings"
                ),
                f"checks of environment {env.name}",
            ):
                kind = "approval" if check.type.id == APPROVAL_CHECK else "branch"
                seen.checks[(env.name, kind)] = {
                    "id": check.id,
                    "settings": check.settings or {},
                    "timeout": check.timeout,
                }
        for policy in call(lambda: self.policy.get_policy_configurations(self.name), "policies"):
            type_id = getattr(policy.type, "id", None) or (policy.type or {}).get("id")
            seen.policies[str(type_id)] = {
                "id": policy.id,
                "settings": policy.settings or {},
                "blocking": policy.is_blocking,
                "enabled": policy.is_enabled,
            }
        for name in groups:
            for group in (
                call(
                    lambda name=name: self.agent.get_variable_groups(self.name, group_name=name),
                    f"variable group {name}",
                )
                or []
            ):
                values = {k: v.value for k, v in (group.variables or {}).items()}
                seen.variable_groups[group.name] = (group.id, values)
        if connections:
            for endpoint in (
                call(
                    lambda: self.endpoints.get_service_endpoints_by_names(self.name, connections),
                    "service connections",
                )
                or []
            ):
                seen.connections[endpoint.name] = {
                    "id": endpoint.id,
                    "type": endpoint.type,
                    "scheme": endpoint.authorization.scheme if endpoint.authorization else None,
                    "parameters": dict(
                        (endpoint.authorization.parameters or {}) if endpoint.authorization else {}
                    ),
                    "data": dict(endpoint.data or {}),
                }
        return seen

    # --- writing ------------------------------------------------------------------------
    def create_team(self, project_id: str, name: str, description: str) -> str:
        from azure.devops.v7_1.core.models import WebApiTeam

        created = call(
            lambda: self.core.create_team(
                WebApiTeam(name=name, description=description), project_id
            ),
            f"creating team {name}",
        )
        return str(created.id)

    def create_pipeline(self, folder: str, name: str, path: str, repository_id: str) -> int:
        from azure.devops.v7_1.pipelines.models import CreatePipelineParameters

        parameters = CreatePipelineParameters(
            folder=folder,
            name=name,
            configuration=self._yaml_pipeline(path, {"id": repository_id, "type": "azureReposGit"}),
        )
        created = call(
            lambda: self.pipelines.create_pipeline(parameters, self.name),
            f"creating pipeline {name}",
        )
        return int(created.id)

    def create_environment(self, name: str, description: str) -> int:
        from azure.devops.v7_1.task_agent.models import EnvironmentCreateParameter

        created = call(
            lambda: self.agent.add_environment(
                EnvironmentCreateParameter(name=name, description=description), self.name
            ),
            f"creating environment {name}",
        )
        return int(created.id)

    def entra_groups(self) -> dict[str, str]:
        """Entra groups already known to the organisation: object id -> graph descriptor."""
        out: dict[str, str] = {}
        token = None
        while True:
            page = call(
                lambda token=token: self.graph.list_groups(
                    subject_types=["aadgp"], continuation_token=token
                ),
                "Entra groups of the organisation",
            )
            for group in page.graph_groups or []:
                if group.origin_id:
                    out[group.origin_id.lower()] = group.descriptor
            # the model documents a list; the SDK sets the header's string
            token = page.continuation_token
            if not token:
                return out

    def materialise(self, entra_object_id: str) -> str:
        """Make an Entra group known to the organisation; its graph descriptor."""
        group = call(
            lambda: self.graph.create_group(self._entra_group(entra_object_id)),
            f"adding Entra group {entra_object_id} to the organisation",
        )
        return str(group.descriptor)

    def team_descriptor(self, team_id: str) -> str:
        return str(call(lambda: self.graph.get_descriptor(team_id), "team descriptor").value)

    def is_member(self, member: str, container: str) -> bool:
        from azure.devops.exceptions import AzureDevOpsClientRequestError

        try:
            self.graph.check_membership_existence(member, container)
        except AzureDevOpsClientRequestError as exc:
            if "404" in str(exc):  # HEAD answers carry no body: the status is in the text
                return False
            raise BackendError(f"checking a team membership: {exc}") from None
        return True

    def add_member(self, member: str, container: str, what: str) -> None:
        call(lambda: self.graph.add_membership(member, container), f"adding {what}")

    def pipeline_denies(self, team_descriptor: str, token: str) -> tuple[str, int]:
        """The team's identity descriptor and the Build bits denied to it on `token`."""
        identities = call(
            lambda: self.identity.read_identities(subject_descriptors=team_descriptor),
            "team identity",
        )
        descriptor = str(identities[0].descriptor)
        acls = call(
            lambda: self.security.query_access_control_lists(
                BUILD_NAMESPACE, token=token, descriptors=descriptor, include_extended_info=False
            ),
            "pipeline permissions",
        )
        for acl in acls or []:
            ace = (acl.aces_dictionary or {}).get(descriptor)
            if ace is not None:
                return descriptor, int(ace.deny or 0)
        return descriptor, 0

    def deny_pipelines(self, descriptor: str, token: str, bits: int, what: str) -> None:
        body = {
            "token": token,
            "merge": True,
            "accessControlEntries": [{"descriptor": descriptor, "allow": 0, "deny": bits}],
        }
        call(lambda: self.security.set_access_control_entries(body, BUILD_NAMESPACE), what)

    def identity_id(self, entra_object_id: str) -> str:
        """The Azure DevOps identity of an Entra group (materialised in the organisation)."""
        group = call(
            lambda: self.graph.create_group(self._entra_group(entra_object_id)),
            f"finding Entra group {entra_object_id} in Azure DevOps",
        )
        return str(call(lambda: self.graph.get_storage_key(group.descriptor), "identity").value)

    def put_check(
        self,
        env: str,
        env_id: int,
        kind: str,
        settings: dict[str, Any],
        timeout: int,
        existing_id: int | None,
    ) -> None:
        from azure.devops.v7_1.pipelines_checks.models import CheckType, Resource

        check_type = (
            CheckType(id=APPROVAL_CHECK, name="Approval")
            if kind == "approval"
            else CheckType(id=TASK_CHECK, name="Task Check")
        )
        configuration = self._check_model(
            type=check_type,
            settings=settings,
            timeout=timeout,
            resource=Resource(type="environment", id=str(env_id), name=env),
        )
        what = f"{kind} check on environment {env}"
        if existing_id is None:
            call(lambda: self.checks.add_check_configuration(configuration, self.name), what)
        else:
            call(
                lambda: self.checks.update_check_configuration(
                    configuration, self.name, existing_id
                ),
                what,
            )

    def put_policy(self, type_id: str, settings: dict[str, Any], existing_id: int | None) -> None:
        from azure.devops.v7_1.policy.models import PolicyConfiguration

        configuration = PolicyConfiguration(
            is_enabled=True, is_blocking=True, type={"id": type_id}, settings=settings
        )
        what = f"branch policy {type_id}"
        if existing_id is None:
            call(lambda: self.policy.create_policy_configuration(configuration, self.name), what)
        else:
            call(
                lambda: self.policy.update_policy_configuration(
                    configuration, self.name, existing_id
                ),
                what,
            )

    def put_variable_group(
        self, project_id: str, name: str, values: dict[str, str], existing_id: int | None
    ) -> None:
        from azure.devops.v7_1.task_agent.models import (
            ProjectReference,
            VariableGroupParameters,
            VariableGroupProjectReference,
            VariableValue,
        )

        parameters = VariableGroupParameters(
            name=name,
            type="Vsts",
            description="Non-secret settings of the environment, from mlops.yaml. Managed by"
            " mlops; secrets belong in a Key Vault-linked group.",
            variables={k: VariableValue(value=v, is_secret=False) for k, v in values.items()},
            variable_group_project_references=[
                VariableGroupProjectReference(
                    name=name,
                    project_reference=ProjectReference(id=project_id, name=self.name),
                )
            ],
        )
        what = f"variable group {name}"
        if existing_id is None:
            call(lambda: self.agent.add_variable_group(parameters), what)
        else:
            call(lambda: self.agent.update_variable_group(parameters, existing_id), what)

    def create_connection(
        self, project_id: str, name: str, tenant_id: str, client_id: str, subscription_id: str
    ) -> tuple[str, str]:
        """Create it; returns (issuer, subject) the identity's federated credential needs."""
        from azure.devops.v7_1.service_endpoint.models import (
            EndpointAuthorization,
            ProjectReference,
            ServiceEndpoint,
            ServiceEndpointProjectReference,
        )

        endpoint = ServiceEndpoint(
            name=name,
            type="azurerm",
            url="https://management.azure.com/",
            description="Workload identity federation, no secret. Managed by mlops.",
            authorization=EndpointAuthorization(
                scheme="WorkloadIdentityFederation",
                parameters={"tenantid": tenant_id, "serviceprincipalid": client_id},
            ),
            data={
                "subscriptionId": subscription_id,
                "subscriptionName": subscription_id,
                "environment": "AzureCloud",
                "scopeLevel": "Subscription",
                "creationMode": "Manual",
            },
            service_endpoint_project_references=[
                ServiceEndpointProjectReference(
                    project_reference=ProjectReference(id=project_id, name=self.name), name=name
                )
            ],
        )
        created = call(
            lambda: self.endpoints.create_service_endpoint(endpoint),
            f"creating service connection {name}",
        )
        parameters = (created.authorization.parameters or {}) if created.authorization else {}
        return (
            str(parameters.get("workloadIdentityFederationIssuer", "")),
            str(parameters.get("workloadIdentityFederationSubject", "")),
        )
