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
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from mlops.errors import BackendError
from mlops.plan.devops import (
    APPROVAL_CHECK,
    EXCLUSIVE_LOCK_CHECK,
    TASK_CHECK,
    Check,
    DevOpsSpec,
    Observed,
)

if TYPE_CHECKING:
    from azure.devops.connection import Connection

#: the Entra application of Azure DevOps: tokens for its REST API are asked for this scope
ADO_SCOPE = "499b84ac-1321-427f-aa17-267ca6975798/.default"
PAT_VARIABLE = "AZURE_DEVOPS_EXT_PAT"
#: the Build security namespace: pipelines, their folders and runs
BUILD_NAMESPACE = "33344d9c-fc72-4d6f-aba5-fa317101a7e9"
#: answers worth another try: throttled (rate limits doc: honour Retry-After) or the service's
RETRYABLE = frozenset({429, 500, 502, 503, 504})
ATTEMPTS = 4
LONGEST_WAIT = 30.0  # seconds; the rate-limit doc's longest delay
#: a token is renewed this long before it expires, so no request carries a stale one
REFRESH_MARGIN = 300.0


class Session:
    """The sign-in of one connection and what its last answer said.

    A token from a credential is renewed before it expires (provisioning outlives the hour an
    Entra token lasts, the what-ifs alone can take that long); a PAT is sent as it is. Every
    answer's status and headers are kept: the SDK's errors carry no status, and its list calls
    drop the continuation-token header."""

    def __init__(
        self,
        credential: Any | None = None,
        pat: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.credential, self.pat, self.clock = credential, pat, clock
        self.token: Any | None = None
        self.renewals = 0
        self.status: int | None = None
        self.headers: dict[str, str] = {}

    def authorization(self) -> str:
        if self.pat is not None:
            import base64

            return "Basic " + base64.b64encode(f":{self.pat}".encode()).decode()
        if self.token is None or self.token.expires_on - REFRESH_MARGIN <= self.clock():
            credential = self.credential
            self.token = call(lambda: credential.get_token(ADO_SCOPE), "signing in to Azure DevOps")
            self.renewals += 1
        return f"Bearer {self.token.token}"

    def seen(self, response: Any, *_: Any, **__: Any) -> Any:
        self.status = response.status_code
        self.headers = {k.lower(): v for k, v in response.headers.items()}
        return response

    def retry_after(self) -> float:
        try:
            return min(float(self.headers.get("retry-after", "1")), LONGEST_WAIT)
        except ValueError:
            return 1.0


def _authentication(session: Session) -> Any:
    from msrest.authentication import Authentication

    class Renewing(Authentication):
        """msrest asks for a signed session before every request: the header is set then."""

        def signed_session(self, requests_session: Any = None) -> Any:
            requests_session = super().signed_session(requests_session)
            requests_session.headers["Authorization"] = session.authorization()
            hooks = requests_session.hooks.setdefault("response", [])
            if session.seen not in hooks:
                hooks.append(session.seen)
            return requests_session

    return Renewing()


def connect(
    organization_url: str, credential: Any | None = None, clock: Callable[[], float] = time.time
) -> Connection:
    """A connection with a PAT from AZURE_DEVOPS_EXT_PAT, else Entra tokens from `credential`
    (renewed before they expire); `connection.mlops_session` is its `Session`."""
    from azure.devops.connection import Connection

    pat = os.environ.get(PAT_VARIABLE)
    if not pat and credential is None:
        credential = pipeline_credential()
    if not pat and credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    session = Session(credential, pat or None, clock)
    if not pat:
        session.authorization()  # sign in now: a missing login shows before any read
    connection = Connection(base_url=organization_url, creds=_authentication(session))
    connection.mlops_session = session  # type: ignore[attr-defined]
    return connection


#: what a step signed in through a workload-identity service connection holds: AzureCLI@2
#: exports the connection's ids (AZURESUBSCRIPTION_*, azure-pipelines-tasks AzureCLIV2), the
#: YAML maps System.AccessToken, and Azure Pipelines sets SYSTEM_OIDCREQUESTURI, where
#: AzurePipelinesCredential asks for each federated token
PIPELINE_VARIABLES = (
    "AZURESUBSCRIPTION_TENANT_ID",
    "AZURESUBSCRIPTION_CLIENT_ID",
    "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
    "SYSTEM_ACCESSTOKEN",
    "SYSTEM_OIDCREQUESTURI",
)


def pipeline_credential(environ: Mapping[str, str] | None = None, **kwargs: Any) -> Any | None:
    """Inside an Azure Pipelines step signed in through a workload-identity service
    connection: an `AzurePipelinesCredential`, which asks for a fresh federated token at each
    sign-in, so a job longer than the 10-minute federated token keeps working. None elsewhere
    (any of PIPELINE_VARIABLES missing). `kwargs` go to the credential (e.g. `transport`)."""
    env = os.environ if environ is None else environ
    if not all(env.get(n) for n in PIPELINE_VARIABLES):
        return None
    from azure.identity import AzurePipelinesCredential

    return AzurePipelinesCredential(
        tenant_id=env["AZURESUBSCRIPTION_TENANT_ID"],
        client_id=env["AZURESUBSCRIPTION_CLIENT_ID"],
        service_connection_id=env["AZURESUBSCRIPTION_SERVICE_CONNECTION_ID"],
        system_access_token=env["SYSTEM_ACCESSTOKEN"],
        **kwargs,
    )


def call(fn: Callable[[], Any], what: str) -> Any:
    """Run an SDK call; Azure DevOps' errors become BackendErrors naming `what`."""
    from azure.core.exceptions import ClientAuthenticationError
    from azure.devops.exceptions import (
        AzureDevOpsAuthenticationError,
        AzureDevOpsClientRequestError,
        AzureDevOpsServiceError,
    )
    from msrest.exceptions import ClientRequestError

    try:
        return fn()
    except (AzureDevOpsAuthenticationError, ClientAuthenticationError) as exc:
        raise BackendError(
            f"{what}: not signed in to Azure DevOps ({str(exc).splitlines()[0]})",
            hint=f"az login, or set {PAT_VARIABLE} to a personal access token",
        ) from None
    except (AzureDevOpsServiceError, AzureDevOpsClientRequestError) as exc:
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
            "is_disabled": {"key": "isDisabled", "type": "bool"},
        }

        def __init__(
            self, settings: Any = None, is_disabled: bool | None = None, **kwargs: Any
        ) -> None:
            super().__init__(**kwargs)
            self.settings, self.is_disabled = settings, is_disabled

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
    """One Azure DevOps project through the SDK's clients.

    Lists follow continuation tokens to the last page. A create (POST) or PATCH answered 429
    or 5xx is retried after Retry-After, but first the object is looked up again by name: the
    service may have made it before failing, and a second POST would make it twice."""

    def __init__(
        self,
        connection: Connection,
        project: str,
        repository: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        clients = connection.clients_v7_1
        self.name, self.repository = project, repository
        self.session: Session = getattr(connection, "mlops_session", None) or Session()
        self.sleep = sleep
        self.core = clients.get_core_client()
        self.git = clients.get_git_client()
        self.pipelines = clients.get_pipelines_client()
        self.agent = clients.get_task_agent_client()
        self.checks = clients.get_pipelines_checks_client()
        self.permissions = clients.get_pipeline_permissions_client()
        self.policy = clients.get_policy_client()
        self.endpoints = clients.get_service_endpoint_client()
        self.graph = clients.get_graph_client()
        self.identity = clients.get_identity_client()
        self.security = clients.get_security_client()
        self._check_model, self._yaml_pipeline, self._entra_group = _models()
        self.checks._deserialize.dependencies["CheckConfiguration"] = self._check_model

    # --- calling ------------------------------------------------------------------------
    def _read(self, fn: Callable[[], Any], what: str) -> Any:
        """A read, tried again when throttled or when the service failed."""
        return self._write(fn, what, None)

    def _write(self, fn: Callable[[], Any], what: str, find: Callable[[], Any] | None) -> Any:
        for attempt in range(1, ATTEMPTS + 1):
            self.session.status = None
            try:
                return call(fn, what)
            except BackendError:
                if self.session.status not in RETRYABLE or attempt == ATTEMPTS:
                    raise
            self.sleep(self.session.retry_after())
            if find is not None and (found := find()) is not None:
                return found
        raise AssertionError("unreachable")

    def _pages(self, fetch: Callable[[str | None], Any], what: str) -> Iterator[Any]:
        """Every item of a list, page by page (the token comes in x-ms-continuationtoken)."""
        token: str | None = None
        seen: set[str] = set()
        while True:
            page = self._read(lambda token=token: fetch(token), what)
            yield from page or []
            token = self.session.headers.get("x-ms-continuationtoken")
            if not token or token in seen:
                return
            seen.add(token)

    # --- reading ------------------------------------------------------------------------
    def read(self, spec: DevOpsSpec) -> Observed:
        project = self._read(lambda: self.core.get_project(self.name), f"project {self.name}")
        repo = self._read(
            lambda: self.git.get_repository(self.repository, project=self.name),
            f"repository {self.repository}",
        )
        seen = Observed(project.id, repo.id)
        seen.teams = {t.name: t.id for t in self._teams(project.id)}
        seen.pipelines = {p.name: p.id for p in self._list_pipelines()}
        for env in self._pages(
            lambda token: self.agent.get_environments(self.name, continuation_token=token),
            "environments",
        ):
            seen.environments[env.name] = env.id
        seen.queues = self.queues(list(spec.queues))
        for name, _ in spec.variable_groups:
            for group in (
                self._read(
                    lambda name=name: self.agent.get_variable_groups(self.name, group_name=name),
                    f"variable group {name}",
                )
                or []
            ):
                values = {k: v.value for k, v in (group.variables or {}).items()}
                seen.variable_groups[group.name] = (group.id, values)
        names = [c.name for c in spec.connections]
        for endpoint in self._endpoints(names):
            seen.connections[endpoint.name] = _endpoint_dict(endpoint)
        ids = {
            "environment": {n: str(i) for n, i in seen.environments.items()},
            "endpoint": {n: c["id"] for n, c in seen.connections.items()},
            "variablegroup": {n: str(g[0]) for n, g in seen.variable_groups.items()},
            "queue": {n: str(i) for n, i in seen.queues.items()},
            # a repository resource is "{projectId}.{repositoryId}" (facts/azure-devops.md;
            # /azure/devops/pipelines/security/resources, "Protecting repository resources")
            "repository": {spec.repository: f"{project.id}.{repo.id}"} if repo.id else {},
        }
        for kind, name in {c.resource for c in spec.checks}:
            resource_id = ids[kind].get(name)
            if resource_id is not None:
                seen.checks[(kind, name)] = self.list_checks(kind, resource_id, name)
        if repo.id:
            seen.policies = self.branch_policies(repo.id, f"refs/heads/{spec.branch}")
        for (kind, name), _ in spec.authorizations:
            resource_id = ids[kind].get(name)
            if resource_id is not None:
                seen.permissions[(kind, resource_id)] = self.pipeline_permissions(kind, resource_id)
        if spec.team_objects:
            existing = self.repositories()
            for team in spec.team_objects:
                for name in team.repositories:
                    found = seen.repositories[name] = existing.get(name.lower())
                    if found is not None:
                        ref = f"refs/heads/{spec.branch}"
                        seen.team_policies[name] = self.branch_policies(found, ref)
        known = self.entra_groups()
        wanted = {oid.lower() for a in spec.approvals for _, oid in a.approvers}
        wanted |= {oid.lower() for _, oid in spec.required_reviewers}
        wanted |= {oid.lower() for t in spec.team_objects for _, oid in t.reviewers}
        for oid in sorted(wanted & known.keys()):
            seen.identities[oid] = self._storage_key(known[oid])
        return seen

    def repositories(self) -> dict[str, str]:
        """The project's git repositories: lower-cased name -> id (names ignore case)."""
        found = self._read(lambda: self.git.get_repositories(project=self.name), "repositories")
        return {str(r.name).lower(): str(r.id) for r in found or []}

    def _teams(self, project_id: str) -> list[Any]:
        out: list[Any] = []
        size = 100
        while True:  # teams page with $top and $skip, no token
            skip = len(out)
            page = (
                self._read(
                    lambda skip=skip: self.core.get_teams(project_id, top=size, skip=skip),
                    "teams",
                )
                or []
            )
            out += page
            if len(page) < size:
                return out

    def _list_pipelines(self) -> list[Any]:
        return list(
            self._pages(
                lambda token: self.pipelines.list_pipelines(self.name, continuation_token=token),
                "pipelines",
            )
        )

    def queues(self, names: list[str]) -> dict[str, int]:
        """The project's agent queues of these names (a Managed DevOps Pool adds its pool to
        the organization's projects): name -> queue id, the id checks and pipeline
        permissions name (resource type `queue`)."""
        if not names:
            return {}
        found = (
            self._read(
                lambda: self.agent.get_agent_queues_by_names(names, project=self.name),
                "agent queues",
            )
            or []
        )
        return {q.name: int(q.id) for q in found if q.name in names}

    def _endpoints(self, names: list[str]) -> list[Any]:
        if not names:
            return []
        return (
            self._read(
                lambda: self.endpoints.get_service_endpoints_by_names(self.name, names),
                "service connections",
            )
            or []
        )

    def list_checks(self, kind: str, resource_id: str, name: str) -> list[Check]:
        """Every check on a resource, with settings (without `$expand` they come back empty)."""
        found = self._read(
            lambda: self.checks.get_check_configurations_on_resource(
                self.name, kind, resource_id, expand="settings"
            ),
            f"checks of {kind} {name}",
        )
        return [
            Check(
                int(c.id),
                str(c.type.id).lower(),
                dict(c.settings or {}),
                int(c.timeout or 0),
                bool(getattr(c, "is_disabled", False)),
            )
            for c in found or []
        ]

    def branch_policies(self, repository_id: str, ref: str) -> list[dict[str, Any]]:
        """The policies that apply to one branch of one repository (git policy configurations:
        documented paging through x-ms-continuationtoken), each as {id, type, settings,
        enabled, blocking}."""
        out: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self._read(
                lambda token=token: self.git.get_policy_configurations(
                    self.name, repository_id=repository_id, ref_name=ref, continuation_token=token
                ),
                f"branch policies of {ref}",
            )
            for policy in page.policy_configurations or []:
                type_id = getattr(policy.type, "id", None) or (policy.type or {}).get("id")
                out.append(
                    {
                        "id": policy.id,
                        "type": str(type_id),
                        "settings": policy.settings or {},
                        "enabled": policy.is_enabled,
                        "blocking": policy.is_blocking,
                    }
                )
            token = page.continuation_token
            if not token:
                return out

    def pipeline_permissions(self, kind: str, resource_id: str) -> tuple[bool, frozenset[int]]:
        found = self._read(
            lambda: self.permissions.get_pipeline_permissions_for_resource(
                self.name, kind, resource_id
            ),
            f"pipeline permissions of {kind} {resource_id}",
        )
        everyone = bool(found and found.all_pipelines and found.all_pipelines.authorized)
        ids = frozenset(int(p.id) for p in (found.pipelines or [] if found else []) if p.authorized)
        return everyone, ids

    def _storage_key(self, descriptor: str) -> str:
        key = self._read(lambda: self.graph.get_storage_key(descriptor), "identity")
        return str(key.value).lower()

    # --- writing ------------------------------------------------------------------------
    def create_team(self, project_id: str, name: str, description: str) -> str:
        from azure.devops.v7_1.core.models import WebApiTeam

        def find() -> str | None:
            return next((t.id for t in self._teams(project_id) if t.name == name), None)

        created = self._write(
            lambda: self.core.create_team(
                WebApiTeam(name=name, description=description), project_id
            ),
            f"creating team {name}",
            find,
        )
        return str(getattr(created, "id", created))

    def create_repository(self, name: str) -> str:
        """A new, empty git repository in the project (Repositories - Create)."""
        from azure.devops.v7_1.git.models import GitRepositoryCreateOptions

        created = self._write(
            lambda: self.git.create_repository(
                GitRepositoryCreateOptions(name=name), project=self.name
            ),
            f"creating repository {name}",
            lambda: self.repositories().get(name.lower()),
        )
        return str(getattr(created, "id", created))

    def create_pipeline(self, folder: str, name: str, path: str, repository_id: str) -> int:
        from azure.devops.v7_1.pipelines.models import CreatePipelineParameters

        parameters = CreatePipelineParameters(
            folder=folder,
            name=name,
            configuration=self._yaml_pipeline(path, {"id": repository_id, "type": "azureReposGit"}),
        )

        def find() -> int | None:
            return next((p.id for p in self._list_pipelines() if p.name == name), None)

        created = self._write(
            lambda: self.pipelines.create_pipeline(parameters, self.name),
            f"creating pipeline {name}",
            find,
        )
        return int(getattr(created, "id", created))

    def create_environment(self, name: str, description: str) -> int:
        from azure.devops.v7_1.task_agent.models import EnvironmentCreateParameter

        def find() -> int | None:
            found = self._read(
                lambda: self.agent.get_environments(self.name, name=name), "environments"
            )
            return next((e.id for e in found or [] if e.name == name), None)

        created = self._write(
            lambda: self.agent.add_environment(
                EnvironmentCreateParameter(name=name, description=description), self.name
            ),
            f"creating environment {name}",
            find,
        )
        return int(getattr(created, "id", created))

    def entra_groups(self) -> dict[str, str]:
        """Entra groups already known to the organisation: object id -> graph descriptor."""
        out: dict[str, str] = {}
        token = None
        while True:
            page = self._read(
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
        group = self._write(
            lambda: self.graph.create_group(self._entra_group(entra_object_id)),
            f"adding Entra group {entra_object_id} to the organisation",
            None,  # idempotent: the same group again
        )
        return str(group.descriptor)

    def team_descriptor(self, team_id: str) -> str:
        return str(self._read(lambda: self.graph.get_descriptor(team_id), "team descriptor").value)

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
        self._read(lambda: self.graph.add_membership(member, container), f"adding {what}")

    def pipeline_denies(self, team_descriptor: str, token: str) -> tuple[str, int]:
        """The team's identity descriptor and the Build bits denied to it on `token`."""
        identities = self._read(
            lambda: self.identity.read_identities(subject_descriptors=team_descriptor),
            "team identity",
        )
        descriptor = str(identities[0].descriptor)
        acls = self._read(
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
        # merging the same bits again changes nothing: safe to send twice
        self._read(lambda: self.security.set_access_control_entries(body, BUILD_NAMESPACE), what)

    def identity_id(self, entra_object_id: str) -> str:
        """The Azure DevOps identity of an Entra group (materialised in the organisation)."""
        descriptor = self.materialise(entra_object_id)
        return self._storage_key(descriptor)

    def put_check(
        self,
        resource: tuple[str, str, str],  # (type, id, name)
        check_type: str,
        settings: dict[str, Any],
        timeout: int,
        existing_id: int | None,
        label: str,
    ) -> None:
        from azure.devops.v7_1.pipelines_checks.models import CheckType, Resource

        names = {APPROVAL_CHECK: "Approval", TASK_CHECK: "Task Check"}
        kind, resource_id, name = resource
        configuration = self._check_model(
            type=CheckType(id=check_type, name=names.get(check_type, "ExclusiveLock")),
            settings=settings,
            is_disabled=False,
            timeout=timeout,
            resource=Resource(type=kind, id=resource_id, name=name),
        )
        what = f"{label} check"
        if existing_id is not None:
            self._read(
                lambda: self.checks.update_check_configuration(
                    configuration, self.name, existing_id
                ),
                what,
            )
            return

        def find() -> Any:
            for check in self.list_checks(kind, resource_id, name):
                if check.type_id == check_type and _same_check(check, settings):
                    return check
            return None

        self._write(
            lambda: self.checks.add_check_configuration(configuration, self.name), what, find
        )

    def put_policy(
        self, type_id: str, settings: dict[str, Any], existing_id: int | None, label: str
    ) -> None:
        from azure.devops.v7_1.policy.models import PolicyConfiguration

        configuration = PolicyConfiguration(
            is_enabled=True, is_blocking=True, type={"id": type_id}, settings=settings
        )
        what = f"branch policy {label}"
        if existing_id is not None:
            self._read(
                lambda: self.policy.update_policy_configuration(
                    configuration, self.name, existing_id
                ),
                what,
            )
            return
        from mlops.plan.devops_drift import find_policy

        scope = settings["scope"][0]
        branch = scope["refName"].removeprefix("refs/heads/")

        def find() -> Any:
            policies = self.branch_policies(scope["repositoryId"], scope["refName"])
            return find_policy(policies, type_id, scope["repositoryId"], branch)

        self._write(
            lambda: self.policy.create_policy_configuration(configuration, self.name), what, find
        )

    def authorize(self, kind: str, resource_id: str, allowed: set[int], revoked: set[int]) -> None:
        """Close the resource to all pipelines and open it to exactly `allowed`."""
        from azure.devops.v7_1.pipeline_permissions.models import (
            Permission,
            PipelinePermission,
            ResourcePipelinePermissions,
        )

        body = ResourcePipelinePermissions(
            all_pipelines=Permission(authorized=False),
            pipelines=[PipelinePermission(id=i, authorized=True) for i in sorted(allowed)]
            + [PipelinePermission(id=i, authorized=False) for i in sorted(revoked)],
        )
        # the PATCH states the whole wanted result: sending it twice is harmless
        self._read(
            lambda: self.permissions.update_pipeline_permisions_for_resource(
                body, self.name, kind, resource_id
            ),
            f"pipeline permissions of {kind} {resource_id}",
        )

    def put_variable_group(
        self, project_id: str, name: str, values: dict[str, str], existing_id: int | None
    ) -> int:
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
        if existing_id is not None:
            self._read(lambda: self.agent.update_variable_group(parameters, existing_id), what)
            return existing_id

        def find() -> Any:
            found = self._read(
                lambda: self.agent.get_variable_groups(self.name, group_name=name), what
            )
            return next((g for g in found or [] if g.name == name), None)

        return int(self._write(lambda: self.agent.add_variable_group(parameters), what, find).id)

    def _endpoint(
        self, project_id: str, name: str, tenant_id: str, client_id: str, subscription_id: str
    ) -> Any:
        from azure.devops.v7_1.service_endpoint.models import (
            EndpointAuthorization,
            ProjectReference,
            ServiceEndpoint,
            ServiceEndpointProjectReference,
        )

        return ServiceEndpoint(
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

    def create_connection(
        self, project_id: str, name: str, tenant_id: str, client_id: str, subscription_id: str
    ) -> tuple[str, str, str]:
        """Create it; returns (id, issuer, subject): the federated credential needs the last
        two."""
        endpoint = self._endpoint(project_id, name, tenant_id, client_id, subscription_id)

        def find() -> Any:
            return next((e for e in self._endpoints([name]) if e.name == name), None)

        created = self._write(
            lambda: self.endpoints.create_service_endpoint(endpoint),
            f"creating service connection {name}",
            find,
        )
        return (str(created.id), *_federation(created))

    def update_connection(
        self,
        project_id: str,
        endpoint_id: str,
        name: str,
        tenant_id: str,
        client_id: str,
        subscription_id: str,
    ) -> tuple[str, str]:
        """Point a connection mlops made at the identity mlops.yaml names."""
        endpoint = self._endpoint(project_id, name, tenant_id, client_id, subscription_id)
        updated = self._read(
            lambda: self.endpoints.update_service_endpoint(endpoint, endpoint_id),
            f"updating service connection {name}",
        )
        return _federation(updated)


def _federation(endpoint: Any) -> tuple[str, str]:
    parameters = (endpoint.authorization.parameters or {}) if endpoint.authorization else {}
    return (
        str(parameters.get("workloadIdentityFederationIssuer", "")),
        str(parameters.get("workloadIdentityFederationSubject", "")),
    )


def _endpoint_dict(endpoint: Any) -> dict[str, Any]:
    authorization = endpoint.authorization
    return {
        "id": str(endpoint.id),
        "description": endpoint.description or "",
        "scheme": authorization.scheme if authorization else None,
        "parameters": dict((authorization.parameters or {}) if authorization else {}),
        "data": dict(endpoint.data or {}),
    }


def _same_check(check: Check, settings: dict[str, Any]) -> bool:
    """The check a failed POST may have made: same settings text that identifies it."""
    for key in ("instructions", "displayName"):
        if key in settings:
            return check.settings.get(key) == settings[key]
    return check.type_id == EXCLUSIVE_LOCK_CHECK
