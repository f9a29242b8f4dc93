"""A stateful fake of Azure DevOps at the `requests` level, for the real `azure.devops` clients.

Sequences (azure-devops 7.1.0b4, `connection.clients_v7_1`; `connection.clients` works too and
asks 7.0). DEV is https://dev.azure.com/contoso, VSSPS https://vssps.dev.azure.com/contoso, P
the project (name or id); each line `METHOD host+path api-version`, which the SDK sends in the
Accept header, not the query string:

- discovery, once per fake (the SDK caches it process-wide and on disk; the fake empties those
  caches when it starts): the first client with a resource area (core, git, task_agent,
  pipelines_checks, policy, service_endpoint, graph, identity) sends OPTIONS DEV/_apis (no
  api-version; the location entries below with their route templates) and GET
  DEV/_apis/ResourceAreas 7.1-preview.1 (graph and ims answer on VSSPS); the first request to
  VSSPS sends OPTIONS VSSPS/_apis. The security client has no resource area: it goes to DEV,
  whose OPTIONS announce its routes.
- core.get_project("churn"): GET DEV/_apis/projects/churn 7.1-preview.4; unknown: 404
  ProjectDoesNotExistWithNameException (AzureDevOpsServiceError, `type_key`; any project-scoped
  route answers the same for an unknown project).
- core.get_teams(project_id): GET DEV/_apis/projects/{id}/teams 7.1-preview.3;
  core.create_team(WebApiTeam(name, description), project_id): POST the same.
- git.get_repository("churn", project="churn"): GET DEV/churn/_apis/git/repositories/churn
  7.1-preview.1 (name or id); git.get_repositories(project=P): GET the same without the name;
  git.create_repository(GitRepositoryCreateOptions(name), project=P): POST it -> 201, a name
  taken in the project 409 (the message's wording assumed).
- pipelines.list_pipelines(P): GET DEV/P/_apis/pipelines 7.1-preview.1 (no configuration in
  the list); pipelines.create_pipeline(CreatePipelineParameters, P): POST the same with
  {folder, name, configuration: {type, path, repository: {id, type}}}.
- task_agent.get_environments(P): GET DEV/P/_apis/distributedtask/environments 7.1-preview.1;
  task_agent.add_environment(EnvironmentCreateParameter, P): POST the same.
- task_agent.get_agent_queues_by_names(["mdp-x"], project=P): GET
  DEV/P/_apis/distributedtask/queues?queueNames=mdp-x 7.1-preview.1 -> [TaskAgentQueue] {id (int,
  what checks and pipeline permissions name as resource type `queue`), name, projectId, pool
  {id, name}}; names it does not know are left out. The fake holds the queues `add_queue`
  made: a Managed DevOps Pool adds its pool to the organization's projects when deployed
  (learn.microsoft.com/azure/devops/managed-devops-pools/configure-security: "by default ...
  configured for all projects"); mlops never creates one.
- task_agent.get_variable_groups(P, group_name=N): GET
  DEV/P/_apis/distributedtask/variablegroups?groupName=N 7.1-preview.2;
  task_agent.add_variable_group(VariableGroupParameters): POST
  DEV/_apis/distributedtask/variablegroups 7.1-preview.2 (organization level: the project is in
  variableGroupProjectReferences); task_agent.update_variable_group(parameters, group_id) (the
  parameters come first): PUT DEV/_apis/distributedtask/variablegroups/{id} 7.1-preview.2.
  Secret values come back null; one sent back null keeps its value.
- pipelines_checks.get_check_configurations_on_resource(P, "environment", str(env_id),
  expand="settings"): GET DEV/P/_apis/pipelines/checks/configurations?resourceType=environment
  &resourceId={id}&$expand=settings 7.1-preview.1 (without $expand, no settings);
  add_check_configuration(configuration, P): POST the same path;
  update_check_configuration(configuration, P, id): PATCH .../configurations/{id}.
- policy.get_policy_configurations(P): GET DEV/P/_apis/policy/configurations 7.1-preview.1;
  create_policy_configuration(configuration, P): POST the same;
  update_policy_configuration(configuration, P, id): PUT .../configurations/{id} (revision + 1).
  Scopes come back with matchKind capitalised ("Exact").
- service_endpoint.get_service_endpoints_by_names(P, ["mlops-dev"]): GET
  DEV/P/_apis/serviceendpoint/endpoints?endpointNames=mlops-dev 7.1-preview.4;
  create_service_endpoint(ServiceEndpoint): POST DEV/_apis/serviceendpoint/endpoints
  7.1-preview.4; the answer's authorization.parameters carry workloadIdentityFederationIssuer
  and workloadIdentityFederationSubject, for the Entra federated credential.
- an Entra group (object id) to the identity id approvers need: graph.create_group(context with
  originId): POST VSSPS/_apis/graph/groups 7.1-preview.1 {"originId"} (materialises the group;
  idempotent, 201 each time) -> descriptor "aadgp..."; then graph.get_storage_key(descriptor):
  GET VSSPS/_apis/graph/storagekeys/{descriptor} 7.1-preview.1 -> `.value`, the identity id; or
  identity.read_identities(subject_descriptors=descriptor): GET
  VSSPS/_apis/identities?subjectDescriptors={descriptor} 7.1-preview.1 -> [Identity] (`.id`;
  null for a descriptor it does not know).
- the Entra groups already materialised, read only (find before create_group, so a second
  provisioning writes nothing): graph.list_groups(subject_types=["aadgp"],
  continuation_token=token): GET VSSPS/_apis/graph/groups?subjectTypes=aadgp
  [&continuationToken=T] 7.1-preview.1 -> PagedGraphGroups, `.graph_groups` [GraphGroup]
  (`origin_id` the Entra object id, `descriptor` the one create_group answered, `display_name`,
  `origin` "aad"), `.continuation_token` the answer's X-MS-ContinuationToken header as a str
  (the model says [str]: do not index it), None on the last page (Graph Groups - List, 7.1
  spec). A group shows only once create_group has materialised it. Without subjectTypes the
  teams' groups come too (vssgp., origin "vsts", originId the team's id; every organization
  has more built-in groups, not faked); graph.get_group(descriptor) answers either kind. Pages
  hold `graph_page_size` groups (100; set it lower to see paging; the service's pages are larger,
  the CLI speaks of 500) in descriptor order (the service promises none); the token is opaque,
  one not handed out is refused (400). subject_types is a list: a str is joined letter by letter
  ("a,a,d,g,p"), which the service would filter on without a word: here subject types other
  than aadgp and vssgp are contract violations. scopeDescriptor is not faked (400).
- a team's graph descriptor: graph.get_descriptor(team.id) (the team's id is its group's identity
  id, i.e. storage key; every team, the default one too): GET
  VSSPS/_apis/graph/descriptors/{teamId} 7.1-preview.1 -> `.value` "vssgp.{base64url of the
  SID}" (an Entra group's "aadgp..." likewise encodes its SID).
- membership: graph.check_membership_existence(member_descriptor, container_descriptor): HEAD
  VSSPS/_apis/graph/memberships/{member}/{container} 7.1-preview.1 -> None when a member; when
  not (or the member is unknown), 404 with no body (a HEAD never has one), which the SDK raises
  as AzureDevOpsClientRequestError "Operation returned a 404 status code." (not the
  AzureDevOpsServiceError subclass; no type_key: tell 404 from 403/5xx by the message).
  graph.add_membership(member_descriptor, container_descriptor) (member first): PUT the same,
  no body, 201 (the spec lists 200; the SDK takes either) -> GraphMembership {memberDescriptor,
  containerDescriptor}; again, the same (no error). The container must be an Azure DevOps
  group (vssgp., e.g. a team): an Entra group takes no members here (400).
- Build permissions of a team: the ACEs need its identity descriptor, not the graph one:
  identity.read_identities(subject_descriptors=team_descriptor) -> [Identity] `.descriptor`
  "Microsoft.TeamFoundation.Identity;S-1-9-1551374245-..." (the SID the vssgp. descriptor
  encodes). security.query_access_control_lists(BUILD_NAMESPACE, token=T,
  descriptors=identity_descriptor, include_extended_info=False): GET
  DEV/_apis/accesscontrollists/{namespace}?token=T&descriptors=D&includeExtendedInfo=false
  7.1-preview.1 -> [AccessControlList] with `.aces_dictionary[D]` {descriptor, allow, deny}
  (extended_info only with include_extended_info=True); [] when nothing is set for D on T
  (assumed: no capture of that case). security.set_access_control_entries({"token": T, "merge":
  True, "accessControlEntries": [{"descriptor": D, "allow": 0, "deny": bits}]},
  BUILD_NAMESPACE) (the body first; the SDK has no model for it, serialises it as `object`):
  POST DEV/_apis/accesscontrolentries/{namespace} 7.1-preview.1 -> [AccessControlEntry] as now
  set. merge true ORs the bits in (a bit allowed now leaves deny and vice versa: the public
  sample turns allow 5 + 8 into 13); false replaces the descriptor's ACE. The token
  (`build_token`): the project id alone (every pipeline), `{projectId}/{folder}` for a folder,
  its path without the leading backslash and `/` between names (`\\a\\b` -> `{id}/a/b`), and
  `/{definitionId}` after that for one pipeline (namespace reference and CLI security_tokens.md
  give `PROJECT_ID` and `PROJECT_ID/12`; the folder form is the Terraform provider's
  build_folder_permissions). The bits are in BUILD_PERMISSIONS, e.g. EditBuildDefinition 2048,
  DeleteBuildDefinition 4096, AdministerBuildPermissions 16384, DestroyBuilds 32, DeleteBuilds
  8, EditBuildQuality 2, ManageBuildQueue 256 (there is no EditBuildStatus bit). A Build token
  that names no project id or has `\\` or empty names, and bits outside BUILD_PERMISSIONS,
  secure nothing; tokens are arbitrary strings to the security service, which is not known to
  refuse them: here they are contract violations, so the mistake shows.

A running job's federated sign-in (not the SDK: azure-identity's AzurePipelinesCredential, over
`requests` too): `start_job(project, connection)` hands out a step's environment (the job's
System.AccessToken, SYSTEM_OIDCREQUESTURI and the AZURESUBSCRIPTION_* AzureCLI@2 exports).
POST {SYSTEM_OIDCREQUESTURI}?api-version=7.1&serviceConnectionId={id} with `Bearer <job token>`
(DEV/{org}/{projectId}/_apis/distributedtask/hubs/build/plans/{plan}/jobs/{job}/oidctoken,
distributedTask 7.1 spec) answers {"oidcToken": a JWT whose iss/sub are the connection's
workloadIdentityFederationIssuer/Subject, aud api://AzureADTokenExchange, valid 10 minutes on
the fake's clock `now`}. Entra's token endpoint, POST
https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token (client_credentials with
client_assertion), accepts an unexpired federated token only for a client id that `trust` made
trust its issuer and subject (the federated credential), else 400 with AADSTS700024 (expired)
or AADSTS70021 (no matching federated credential), and answers an access token for an hour.

The 7.1 msrest models drop, without a word, keys these calls need: CheckConfiguration has no
`settings`, CreatePipelineConfigurationParameters has `type` only (no `path`, `repository`, even
from a dict), GraphGroupCreationContext has no `originId`. A subclass that adds the key to
`_attribute_map` is serialised with it; reading check settings back needs that subclass in the
client's `_deserialize.dependencies["CheckConfiguration"]`. Without them the service refuses
the request (400 here), which the fake makes visible.

Usage::

    with AdoFake() as ado:  # org "contoso", project "churn" with its repository "churn"
        connection = Connection(base_url=ado.base_url, creds=BasicAuthentication("", "pat"))
        ...
        ado.assert_clean()  # no contract violation, nothing unrouted

Everything goes through the `responses` library: a request to any other host raises
`requests.ConnectionError` (the SDK wraps it in `msrest.exceptions.ClientRequestError`), and so
does a request on the two Azure DevOps hosts that no route here answers (kept in `unrouted`).
While the fake runs, the SDK's process-wide caches of route templates (`Client._locations_cache`
and the on-disk `options.json`/`resources.json`, whose folder `AZURE_DEVOPS_CACHE_DIR` fixes when
`azure.devops` is first imported, not later) are swapped for empty ones, so every connection made
under the fake sends the discovery calls and never reuses route templates from elsewhere.

State is kept, so a second provisioning finds what the first created. Every request is recorded
(`requests`, `writes()`). Request bodies are checked twice: against the SDK's own msrest models
(unknown keys refused, recursively; `_SDK_MODEL_GAPS` lists the keys the service needs that the
7.1 models lack) and, when `../shared/specs/ado-rest` is beside the repository, with
`jsonschema.Draft4Validator` against the REST specification's definition for the operation
(`allOf` flattened, objects closed except polymorphic bases, whose concrete type is picked the way
the service does; enums also accept their ordinal, as the service's JSON reader does). The ACEs
body, which the SDK sends as `object`, is checked as the .NET client's SetAccessControlEntriesInfo
{token, merge, accessControlEntries: [AccessControlEntry]}; Build tokens and bits as above. A
violation raises `AssertionError` out of the SDK call and is kept in `contract_errors`. What the
service itself would refuse (unknown policy or check types, settings of the wrong shape,
references to things that do not exist, duplicates) is answered 400/404 with an Azure DevOps
error body, which the SDK raises as `AzureDevOpsServiceError` (no HTTP status on it: use
`type_key`).

Faults: `fail(method, url_pattern, status, times)` answers before the request is handled; 403
carries a message naming the permission, 5xx a server error (a HEAD's answer has no body, so
the SDK raises AzureDevOpsClientRequestError "Operation returned a 403 status code."). The SDK
(msrest's urllib3 `Retry`) retries 408/5xx three times for GET, HEAD, PUT, DELETE and OPTIONS,
not for POST or PATCH; under `responses` the retries happen at once, with no back-off sleep.
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import functools
import json
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar
from urllib.parse import parse_qsl, unquote, urlsplit

import jsonschema
import requests
import responses
from azure.devops import _file_cache as sdk_file_cache
from azure.devops import client as sdk_client
from azure.devops import connection as sdk_connection
from azure.devops.v7_1.core import models as core_models
from azure.devops.v7_1.git import models as git_models
from azure.devops.v7_1.graph import models as graph_models
from azure.devops.v7_1.pipeline_permissions import models as permissions_models
from azure.devops.v7_1.pipelines import models as pipelines_models
from azure.devops.v7_1.pipelines_checks import models as checks_models
from azure.devops.v7_1.policy import models as policy_models
from azure.devops.v7_1.security import models as security_models
from azure.devops.v7_1.service_endpoint import models as endpoint_models
from azure.devops.v7_1.task_agent import models as task_agent_models

__all__ = [
    "APPROVAL_CHECK",
    "BRANCH_CONTROL_TASK",
    "BUILD_NAMESPACE",
    "BUILD_PERMISSIONS",
    "BUILD_POLICY",
    "BUSINESS_HOURS_TASK",
    "COMMENTS_POLICY",
    "EXCLUSIVE_LOCK_CHECK",
    "LOCATIONS",
    "MIN_REVIEWERS_POLICY",
    "REQUIRED_REVIEWERS_POLICY",
    "TASK_CHECK",
    "AdoFake",
    "Fault",
    "Location",
    "Recorded",
    "build_token",
]

Answer = tuple[int, Any]
Paged = tuple[int, Any, dict[str, str]]  # with response headers (a continuation token)
Json = dict[str, Any]

DEV = "https://dev.azure.com"
VSSPS = "https://vssps.dev.azure.com"
LOGIN = "https://login.microsoftonline.com"
#: a federated (OIDC) token lasts 10 minutes; Entra access tokens an hour
OIDC_LIFETIME = 600
ACCESS_TOKEN_LIFETIME = 3600
_OIDC_PATH = re.compile(
    r"/(?P<org>[^/]+)/(?P<project>[^/]+)/_apis/distributedtask/hubs/(?P<hub>[^/]+)"
    r"/plans/(?P<plan>[^/]+)/jobs/(?P<job>[^/]+)/oidctoken",
    re.IGNORECASE,
)
#: the REST specifications, when the shared folder is beside the repository (never copied in)
SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "specs" / "ado-rest"
NOW = "2026-11-26T09:00:00.000Z"

APPROVAL_CHECK = "8c6f20a7-a545-4486-9777-f762fafe0d4d"
TASK_CHECK = "fe1de3ee-a436-41b4-bb20-f6eb4cb879a7"
BRANCH_CONTROL_TASK = "86b05a0c-73e6-4f7d-b3cf-e38f3b39a75b"  # the evaluatebranchProtection task
MIN_REVIEWERS_POLICY = "fa4e907d-c16b-4a4c-9dfa-4906e5d171dd"
BUILD_POLICY = "0609b952-1397-4640-95ec-e00a01b2c241"
COMMENTS_POLICY = "c6a1889d-b943-4856-b76f-9e46bb6b0df2"
REQUIRED_REVIEWERS_POLICY = "fd2167ab-b0be-447a-8ec8-39368250530e"
#: Exclusive lock (settings {}); its id only in the Terraform provider (common_check.go)
EXCLUSIVE_LOCK_CHECK = "2ef31ad6-baa0-403a-8b45-2cbc9b4e5563"
#: the Business hours task check (evaluateBusinessHours 0.0.1), for checks others added by hand
BUSINESS_HOURS_TASK = "445fde2f-6c39-441c-807f-8a59ff2e075f"
#: the Build security namespace: pipelines, their folders and runs (namespace reference docs)
BUILD_NAMESPACE = "33344d9c-fc72-4d6f-aba5-fa317101a7e9"
#: its action bits: 1-16384 and 65536 as in Microsoft.TeamFoundation.Build.WebApi.BuildPermissions
#: (Azure DevOps Server 2022); 32768, 131072 and 262144 only as a third-party capture of the
#: service's namespace list has them. "EditBuildStatus" is no Build bit: it is a project-level
#: permission (Project namespace) that the service maps to EditBuildQuality | RetainIndefinitely.
BUILD_PERMISSIONS: dict[str, int] = {
    "ViewBuilds": 1,
    "EditBuildQuality": 2,
    "RetainIndefinitely": 4,
    "DeleteBuilds": 8,
    "ManageBuildQualities": 16,
    "DestroyBuilds": 32,
    "UpdateBuildInformation": 64,
    "QueueBuilds": 128,
    "ManageBuildQueue": 256,
    "StopBuilds": 512,
    "ViewBuildDefinition": 1024,
    "EditBuildDefinition": 2048,
    "DeleteBuildDefinition": 4096,
    "OverrideBuildCheckInValidation": 8192,
    "AdministerBuildPermissions": 16384,
    "CreateBuildDefinition": 32768,
    "EditPipelineQueueConfigurationPermission": 65536,
    "ManageStageRunOrderPermission": 131072,
    "AbandonBuilds": 262144,
}


# --- where things are ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Location:
    """One entry of `OPTIONS {host}/{org}/_apis`: the SDK turns its route template into URLs.

    `route` is the REST specification's path minus `/{organization}/` (checked against the spec
    file `spec` when the specs are there); `version` is the resource version the SDK asks for.
    """

    key: str
    id: str
    version: int
    route: str
    spec: str | None = None
    host: str = DEV
    area: str = ""  # default: the segment after `_apis/`
    resource: str = ""  # default: the last fixed segment

    def entry(self) -> Json:
        fixed = [s for s in self.route.split("/") if not s.startswith("{")]
        return {
            "id": self.id,
            "area": self.area or fixed[fixed.index("_apis") + 1],
            "resourceName": self.resource or fixed[-1],
            "routeTemplate": self.route,
            "resourceVersion": self.version,
            "minVersion": 1.0,
            "maxVersion": 7.2,
            "releasedVersion": "7.1",
        }


_CORE, _PIPELINES = "core/7.1/core.json", "pipelines/7.1/pipelines.json"
_TASK_AGENT = "distributedTask/7.1/taskAgent.json"
_CHECKS = "approvalsAndChecks/7.1/pipelinesChecks.json"
_ENDPOINTS = "serviceEndpoint/7.1/serviceEndpoint.json"
_PERMISSIONS_SPEC = "approvalsAndChecks/7.1/pipelinePermissions.json"
#: location ids as in the SDK methods (azure-devops 7.1.0b4); the routes without `spec` come from
#: the public specifications of git, policy, graph, ims and security (not in ../shared); the
#: security client has no resource area: its routes are announced by DEV's OPTIONS
# fmt: off
LOCATIONS = (
    Location("resourceAreas", "e81700f7-3be2-46de-8624-2eb35882fcaa", 1,
             "_apis/{resource}/{areaId}", area="Location", resource="ResourceAreas"),
    Location("projects", "603fe2ac-9723-48b9-88ad-09305aa6c6e1", 4,
             "_apis/projects/{projectId}", _CORE),
    Location("teams", "d30a3dd1-f8ba-442a-b86a-bd0c0c383e59", 3,
             "_apis/projects/{projectId}/teams/{teamId}", _CORE),
    Location("repositories", "225f7195-f9c7-4d14-ab28-a83f7ff77e1f", 1,
             "{project}/_apis/git/repositories/{repositoryId}"),
    Location("pipelines", "28e1305e-2afe-47bf-abaf-cbb0e6a91988", 1,
             "{project}/_apis/pipelines/{pipelineId}", _PIPELINES),
    Location("environments", "8572b1fc-2482-47fa-8f74-7e3ed53ee54b", 1,
             "{project}/_apis/distributedtask/environments/{environmentId}", _TASK_AGENT),
    Location("queues", "900fa995-c559-4923-aae7-f8424fe4fbea", 1,
             "{project}/_apis/distributedtask/queues/{queueId}", _TASK_AGENT),
    Location("projectVariableGroups", "f5b09dd5-9d54-45a1-8b5a-1c8287d634cc", 2,
             "{project}/_apis/distributedtask/variablegroups/{groupId}", _TASK_AGENT),
    Location("variableGroups", "ef5b7057-ffc3-4c77-bbad-c10b4a4abcc7", 2,
             "_apis/distributedtask/variablegroups/{groupId}", _TASK_AGENT),
    Location("checkConfigurations", "86c8381e-5aee-4cde-8ae4-25c0c7f5eaea", 1,
             "{project}/_apis/pipelines/checks/configurations/{id}", _CHECKS),
    Location("policyConfigurations", "dad91cbe-d183-45f8-9c6e-9c1164472121", 1,
             "{project}/_apis/policy/configurations/{configurationId}"),
    Location("gitPolicyConfigurations", "2c420070-a0a2-49cc-9639-c9f271c5ff07", 1,
             "{project}/_apis/git/policy/configurations", area="git",
             resource="policyConfigurations"),
    Location("pipelinePermissions", "b5b9a4a4-e6cd-4096-853c-ab7d8b0c4eb2", 1,
             "{project}/_apis/pipelines/pipelinepermissions/{resourceType}/{resourceId}",
             _PERMISSIONS_SPEC, area="pipelinePermissions"),
    Location("endpoints", "14e48fdc-2c8b-41ce-a0c3-e26f6cc55bd0", 4,
             "_apis/serviceendpoint/endpoints/{endpointId}", _ENDPOINTS),
    Location("projectEndpoints", "e85f1c62-adfc-4b74-b618-11a150fb195e", 4,
             "{project}/_apis/serviceendpoint/endpoints/{endpointId}", _ENDPOINTS),
    Location("graphGroups", "ebbe6af8-0b91-4c13-8cf1-777c14858188", 1,
             "_apis/graph/groups/{groupDescriptor}", host=VSSPS),
    Location("storageKeys", "eb85f8cc-f0f6-4264-a5b1-ffe2e4d4801f", 1,
             "_apis/graph/storagekeys/{subjectDescriptor}", host=VSSPS),
    Location("descriptors", "048aee0a-7072-4cde-ab73-7af77b1e0b4e", 1,
             "_apis/graph/descriptors/{storageKey}", host=VSSPS),
    Location("identities", "28010c54-d0c0-4c89-a5b0-1c9e188b9fb7", 1,
             "_apis/identities/{identityId}", host=VSSPS),
    Location("memberships", "3fd2e6ca-fb30-443a-b579-95b19ed0934c", 1,
             "_apis/graph/memberships/{subjectDescriptor}/{containerDescriptor}", host=VSSPS),
    Location("accessControlEntries", "ac08c8ff-4323-4b08-af90-bcd018d380ce", 1,
             "_apis/accesscontrolentries/{securityNamespaceId}", area="Security",
             resource="accessControlEntries"),
    Location("accessControlLists", "18a2ad18-7571-46ae-bec7-0c7da1495885", 1,
             "_apis/accesscontrollists/{securityNamespaceId}", area="Security",
             resource="accessControlLists"),
)
# fmt: on
#: resource areas the clients look up (`resource_area_identifier`); graph and ims live on vssps
_RESOURCE_AREAS = (
    ("79134c72-4a58-4b42-976c-04e7115f32bf", "core", DEV),
    ("4e080c62-fa21-4fbc-8fef-2a10a2b38049", "git", DEV),
    ("a85b8835-c1a1-4aac-ae97-1c3d0ba72dbd", "distributedtask", DEV),
    ("4a933897-0488-45af-bd82-6fd3ad33f46a", "pipelinesChecks", DEV),
    ("fb13a388-40dd-4a04-b530-013a739c72ef", "policy", DEV),
    ("a81a0441-de52-4000-aa15-ff0e07bfbbaa", "pipelinePermissions", DEV),
    ("1814ab31-2f4f-4a9f-8761-f4d77dc5a5d7", "serviceendpoint", DEV),
    ("bb1e7ec9-e901-4b68-999a-de7012b920f8", "Graph", VSSPS),
    ("8a3d49b8-91f0-46ef-b33d-dda338c25db3", "IMS", VSSPS),
)

#: (location, method) -> (the SDK models module, the model the SDK serialises the body as)
_BODY_MODELS: dict[tuple[str, str], tuple[ModuleType, str]] = {
    ("teams", "POST"): (core_models, "WebApiTeam"),
    ("repositories", "POST"): (git_models, "GitRepositoryCreateOptions"),
    ("pipelines", "POST"): (pipelines_models, "CreatePipelineParameters"),
    ("environments", "POST"): (task_agent_models, "EnvironmentCreateParameter"),
    ("variableGroups", "POST"): (task_agent_models, "VariableGroupParameters"),
    ("variableGroups", "PUT"): (task_agent_models, "VariableGroupParameters"),
    ("checkConfigurations", "POST"): (checks_models, "CheckConfiguration"),
    ("checkConfigurations", "PATCH"): (checks_models, "CheckConfiguration"),
    ("policyConfigurations", "POST"): (policy_models, "PolicyConfiguration"),
    ("policyConfigurations", "PUT"): (policy_models, "PolicyConfiguration"),
    ("endpoints", "POST"): (endpoint_models, "ServiceEndpoint"),
    ("endpoints", "PUT"): (endpoint_models, "ServiceEndpoint"),
    ("pipelinePermissions", "PATCH"): (permissions_models, "ResourcePipelinePermissions"),
    ("graphGroups", "POST"): (graph_models, "GraphGroupCreationContext"),
    ("accessControlEntries", "POST"): (security_models, "SetAccessControlEntriesInfo"),
}
#: writes that carry no body
_BODYLESS = frozenset({("memberships", "PUT")})
#: keys the service takes that the 7.1 msrest models lack (the SDK drops them when serialising):
#: check settings (the spec's Approval/TaskCheckConfiguration), a YAML pipeline's path and
#: repository (Pipelines - Create docs), an Entra group's originId (the REST API's
#: GraphGroupOriginIdCreationContext); and whole bodies the SDK sends as `object` (the spec's
#: JObject): the ACEs to set, the .NET client's SetAccessControlEntriesInfo
_SDK_MODEL_GAPS: dict[str, dict[str, str]] = {
    "CheckConfiguration": {"settings": "object", "isDisabled": "bool"},
    "CreatePipelineConfigurationParameters": {"path": "str", "repository": "object"},
    "GraphGroupCreationContext": {"originId": "str"},
    "SetAccessControlEntriesInfo": {
        "token": "str",
        "merge": "bool",
        "accessControlEntries": "[AccessControlEntry]",
    },
}
#: the same gap in the REST specification (CreatePipelineConfigurationParameters has `type` only)
_SPEC_GAPS: dict[str, Json] = {
    "CreatePipelineConfigurationParameters": {
        "path": {"type": "string"},
        "repository": {
            "type": "object",
            "properties": {p: {"type": "string"} for p in ("id", "name", "type")},
            "additionalProperties": False,
        },
    },
}
#: definitions that stand for any JSON
_OPEN_DEFINITIONS = frozenset({"JObject", "JToken"})

#: policy type id -> (display name, settings besides `scope` and their types, required settings)
_POLICY_TYPES: dict[str, tuple[str, dict[str, tuple[type, ...]], frozenset[str]]] = {
    MIN_REVIEWERS_POLICY: (
        "Minimum number of reviewers",
        {
            "minimumApproverCount": (int,),
            "creatorVoteCounts": (bool,),
            "allowDownvotes": (bool,),
            "resetOnSourcePush": (bool,),
            "resetRejectionsOnSourcePush": (bool,),
            "requireVoteOnLastIteration": (bool,),
            "requireVoteOnEachIteration": (bool,),
            "blockLastPusherVote": (bool,),
        },
        frozenset({"minimumApproverCount"}),
    ),
    BUILD_POLICY: (
        "Build",
        {
            "buildDefinitionId": (int,),
            "displayName": (str, type(None)),
            "manualQueueOnly": (bool,),
            "queueOnSourceUpdateOnly": (bool,),
            "validDuration": (int, float),
            "filenamePatterns": (list,),
        },
        frozenset({"buildDefinitionId"}),
    ),
    COMMENTS_POLICY: ("Comment requirements", {}, frozenset()),
    REQUIRED_REVIEWERS_POLICY: (
        "Required reviewers",
        {
            "requiredReviewerIds": (list,),
            "filenamePatterns": (list,),
            "addedFilesOnly": (bool,),
            "message": (str, type(None)),
            "minimumApproverCount": (int,),
            "creatorVoteCounts": (bool,),
        },
        frozenset({"requiredReviewerIds"}),
    ),
}
#: inputs of the Branch control check (evaluatebranchProtection 0.0.1): strings, not booleans
_BRANCH_CONTROL_INPUTS = frozenset(
    {"allowedBranches", "ensureProtectionOfBranch", "allowUnknownStatusBranch"}
)
#: what a 403 names, per (location, method); wording modelled on Azure DevOps', not captured
_PERMISSIONS: dict[tuple[str, str], str] = {
    ("teams", "POST"): "Edit project-level information",
    ("pipelines", "POST"): "Edit build pipeline",
    ("environments", "POST"): "Create (Environments security role Creator)",
    ("variableGroups", "POST"): "Create (Library security role Creator)",
    ("variableGroups", "PUT"): "Administer (Library security role Administrator)",
    ("checkConfigurations", "POST"): "Administer (environment security role Administrator)",
    ("checkConfigurations", "PATCH"): "Administer (environment security role Administrator)",
    ("policyConfigurations", "POST"): "Edit policies",
    ("policyConfigurations", "PUT"): "Edit policies",
    ("endpoints", "POST"): "Create (Service connections security role Creator)",
    ("endpoints", "PUT"): "Administer (Service connections security role Administrator)",
    ("pipelinePermissions", "PATCH"): "Administer (the resource's security role Administrator)",
    ("graphGroups", "POST"): "Manage membership (organization)",
    ("memberships", "PUT"): "Manage membership (the team's group)",
    ("accessControlEntries", "POST"): "Administer build permissions",
}


@dataclass
class Recorded:
    method: str
    url: str
    body: Any
    api_version: str | None

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def path(self) -> str:
        return unquote(urlsplit(self.url).path)

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.url).query))


@dataclass
class Fault:
    method: str  # or "*"
    url_pattern: str  # re.search against the full URL, case-insensitive
    status: int
    times: int = 1
    message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: the service did the request, then failed to answer (a 5xx after the write)
    after: bool = False


@dataclass
class _Call:
    location: Location
    method: str
    params: dict[str, str]  # route values present
    query: dict[str, str]  # keys lower-cased
    body: Any
    project: Json | None = None

    @property
    def in_project(self) -> Json:
        assert self.project is not None, f"{self.location.key}: a project-scoped route"
        return self.project


class ServiceError(Exception):
    """What the service answers instead of doing the request (raised inside handlers)."""

    def __init__(self, status: int, message: str, type_key: str) -> None:
        super().__init__(message)
        self.status, self.message, self.type_key = status, message, type_key


# --- the fake ------------------------------------------------------------------------------------
class AdoFake:
    """Azure DevOps for one organization, answering the real SDK through `responses`."""

    HANDLERS: ClassVar[dict[tuple[str, str], str]] = {
        ("resourceAreas", "GET"): "_resource_areas",
        ("projects", "GET"): "_get_project",
        ("teams", "GET"): "_get_teams",
        ("teams", "POST"): "_create_team",
        ("repositories", "GET"): "_get_repository",
        ("repositories", "POST"): "_create_repository",
        ("pipelines", "GET"): "_get_pipelines",
        ("pipelines", "POST"): "_create_pipeline",
        ("environments", "GET"): "_get_environments",
        ("environments", "POST"): "_add_environment",
        ("queues", "GET"): "_get_queues",
        ("projectVariableGroups", "GET"): "_get_variable_groups",
        ("variableGroups", "POST"): "_add_variable_group",
        ("variableGroups", "PUT"): "_update_variable_group",
        ("checkConfigurations", "GET"): "_get_checks",
        ("checkConfigurations", "POST"): "_add_check",
        ("checkConfigurations", "PATCH"): "_update_check",
        ("policyConfigurations", "GET"): "_get_policies",
        ("policyConfigurations", "POST"): "_create_policy",
        ("policyConfigurations", "PUT"): "_update_policy",
        ("gitPolicyConfigurations", "GET"): "_get_git_policies",
        ("pipelinePermissions", "GET"): "_get_permissions",
        ("pipelinePermissions", "PATCH"): "_update_permissions",
        ("projectEndpoints", "GET"): "_get_endpoints",
        ("endpoints", "POST"): "_create_endpoint",
        ("endpoints", "PUT"): "_update_endpoint",
        ("graphGroups", "POST"): "_create_group",
        ("graphGroups", "GET"): "_get_groups",
        ("storageKeys", "GET"): "_get_storage_key",
        ("descriptors", "GET"): "_get_descriptor",
        ("identities", "GET"): "_read_identities",
        ("memberships", "HEAD"): "_check_membership",
        ("memberships", "PUT"): "_add_membership",
        ("accessControlEntries", "POST"): "_set_aces",
        ("accessControlLists", "GET"): "_query_acls",
    }

    def __init__(
        self,
        org: str = "contoso",
        projects: tuple[str, ...] = ("churn",),
        *,
        wif_issuer: str = "entra",  # or "vstoken": the issuer format of service connections
        specs: Path | None = SPECS,  # None: check bodies against the SDK's models only
    ) -> None:
        self.org = org.lower()
        self.base_url = f"{DEV}/{self.org}"
        self.org_id = _uid("org", self.org)
        self.wif_issuer = wif_issuer
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.contract_errors: list[str] = []
        self.refused_tokens: list[str] = []
        self.unrouted: list[str] = []
        self.user = _identity_ref("Pat Owner", "pat.owner@contoso.com", self.org)
        # state: project id -> project; the rest keyed by project id, then by the object's id
        self.projects: dict[str, Json] = {}
        self.teams: dict[str, dict[str, Json]] = {}
        self.repositories: dict[str, dict[str, Json]] = {}
        self.pipelines: dict[str, dict[int, Json]] = {}
        self.environments: dict[str, dict[int, Json]] = {}
        self.queues: dict[str, dict[int, Json]] = {}
        self.checks: dict[str, dict[int, Json]] = {}
        self.policies: dict[str, dict[int, Json]] = {}
        self.variable_groups: dict[int, Json] = {}  # organization-wide, shared with projects
        self.endpoints: dict[str, Json] = {}  # organization-wide, shared with projects
        self.directory: dict[str, str] = {}  # Entra group object id -> display name
        self.groups: dict[str, Json] = {}  # graph descriptor -> materialised group
        self.identities: dict[str, Json] = {}  # identity id (storage key) -> identity
        self.memberships: set[tuple[str, str]] = set()  # (member, container) graph descriptors
        #: (namespace id, token lower-cased) -> ACL as the service answers it (no extended info)
        self.acls: dict[tuple[str, str], Json] = {}
        self._next: dict[str, int] = {}
        #: groups per page of graph.list_groups (the service's are larger; lower it to see paging)
        self.graph_page_size = 100
        #: items per page of the lists that page with a continuation token (environments,
        #: pipelines, git policy configurations); lower it to see paging
        self.page_size = 100
        #: (project id, resource type, resource id) -> {"all": bool, "pipelines": {id: bool}}
        self.permissions: dict[tuple[str, str, str], Json] = {}
        #: when set, a bearer token it refuses is answered 401 (an expired token)
        self.accept_token: Callable[[str], bool] | None = None
        #: called with each request as it arrives (a test's clock can tick here)
        self.on_request: Callable[[Recorded], None] | None = None
        #: federated sign-in: the clock tokens expire on (seconds), running jobs by their
        #: System.AccessToken, the OIDC tokens handed out (JWT -> claims), the federated
        #: credentials Entra holds (client id, issuer, subject) and the access tokens it issued
        self.now = 1_800_000_000.0
        self.jobs: dict[str, Json] = {}
        self.oidc_tokens: dict[str, Json] = {}
        self.federated: set[tuple[str, str, str]] = set()
        self.entra_tokens: list[Json] = []
        #: the organization's Managed DevOps Pools, when a test links them (e.g. to what the
        #: ARM fake deployed): each gets a queue in every project, as a pool open to all
        #: projects does, before the queues are listed
        self.pools: Callable[[], list[str]] | None = None
        self._routes = [(loc, _route_regex(loc, self.org)) for loc in LOCATIONS]
        self._specs = _spec_contracts(specs) if specs is not None and specs.is_dir() else None
        self._mock: responses.RequestsMock | None = None
        self._saved_caches: list[tuple[Any, str, Any, bool]] = []
        self._cache_dir: str | None = None
        self._saved_locations: dict[str, Any] = {}
        self._add_identity(self.user["id"], self.user["descriptor"], "Pat Owner", False)
        for name in projects:
            self.add_project(name)

    # --- set-up and inspection -------------------------------------------------------------------
    def add_project(self, name: str, *, repository: bool = True) -> Json:
        """A project (with its default team and, by default, a repository of the same name)."""
        pid = _uid("project", name)
        team = {"id": _uid("team", f"{name}/{name} Team"), "name": f"{name} Team"}
        self.projects[pid] = {
            "id": pid,
            "name": name,
            "description": "",
            "url": f"{self.base_url}/_apis/projects/{pid}",
            "state": "wellFormed",
            "revision": 11,
            "visibility": "private",
            "lastUpdateTime": NOW,
            "defaultTeam": {
                **team,
                "url": f"{self.base_url}/_apis/projects/{pid}/teams/{team['id']}",
            },
        }
        buckets: tuple[dict[str, Any], ...] = (
            self.teams,
            self.repositories,
            self.pipelines,
            self.environments,
            self.queues,
            self.checks,
            self.policies,
        )
        for bucket in buckets:
            bucket[pid] = {}
        self._store_team(pid, team["name"], "The default project team.")
        if repository:
            self.add_repository(name, name)
        return self.projects[pid]

    def add_repository(self, project: str, name: str) -> Json:
        pid = self._project(project)["id"]
        rid = _uid("repository", f"{project}/{name}")
        self.repositories[pid][rid] = {
            "id": rid,
            "name": name,
            "url": f"{self.base_url}/{pid}/_apis/git/repositories/{rid}",
            "project": _project_ref(self.projects[pid]),
            "defaultBranch": "refs/heads/main",
            "size": 1024,
            "remoteUrl": f"https://{self.org}@dev.azure.com/{self.org}/{project}/_git/{name}",
            "sshUrl": f"git@ssh.dev.azure.com:v3/{self.org}/{project}/{name}",
            "webUrl": f"{self.base_url}/{project}/_git/{name}",
            "isDisabled": False,
            "isInMaintenance": False,
        }
        return self.repositories[pid][rid]

    def add_queue(self, project: str, name: str) -> Json:
        """The agent queue a Managed DevOps Pool's pool gets in a project once deployed."""
        pid = self._project(project)["id"]
        qid = self._id("queue")
        pool = {"id": 100 + qid, "name": name, "isHosted": False, "poolType": "automation"}
        self.queues[pid][qid] = {"id": qid, "name": name, "projectId": pid, "pool": pool}
        return self.queues[pid][qid]

    def start_job(self, project: str, connection: str) -> dict[str, str]:
        """The environment of a running job's AzureCLI@2 step signed in through `connection`:
        what the agent and the task export, and the system token the YAML maps."""
        pid = self._project(project)["id"]
        endpoint = next(
            e
            for e in self.endpoints.values()
            if e["name"] == connection
            and pid in _project_ids(e["serviceEndpointProjectReferences"])
        )
        parameters = endpoint["authorization"]["parameters"]
        n = len(self.jobs) + 1
        plan, job = _uid("plan", f"{pid}/{n}"), _uid("job", f"{pid}/{n}")
        token = f"job-token-{n}"
        self.jobs[token] = {"project": pid, "plan": plan, "job": job}
        return {
            "SYSTEM_ACCESSTOKEN": token,
            "SYSTEM_OIDCREQUESTURI": f"{self.base_url}/{pid}/_apis/distributedtask/hubs/build"
            f"/plans/{plan}/jobs/{job}/oidctoken",
            "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": endpoint["id"],
            "AZURESUBSCRIPTION_CLIENT_ID": parameters["serviceprincipalid"],
            "AZURESUBSCRIPTION_TENANT_ID": parameters["tenantid"],
        }

    def trust(self, client_id: str, issuer: str, subject: str) -> None:
        """A federated credential on the identity `client_id` (what provisioning prints as
        `az ad app federated-credential create`)."""
        self.federated.add((client_id.lower(), issuer, subject))

    def add_entra_group(self, object_id: str, display_name: str) -> None:
        """A group in the tenant's directory, not yet known to the organization."""
        self.directory[object_id.lower()] = display_name

    def identity_id(self, object_id: str) -> str | None:
        """The Azure DevOps identity id of a materialised Entra group (approvers use it)."""
        for group in self.groups.values():
            if group["originId"] == object_id.lower():
                return self._storage_key(group["descriptor"])
        return None

    def fail(
        self,
        method: str,
        url_pattern: str,
        status: int,
        times: int = 1,
        message: str | None = None,
        headers: dict[str, str] | None = None,
        *,
        after: bool = False,
    ) -> Fault:
        fault = Fault(method.upper(), url_pattern, status, times, message, headers or {}, after)
        self.faults.append(fault)
        return fault

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method in ("POST", "PUT", "PATCH", "DELETE")]

    def sequence(self) -> list[str]:
        """`METHOD host path?query api-version` per request, as the module docstring lists."""
        return [
            f"{r.method} {r.host}{urlsplit(r.url).path}"
            + (f"?{urlsplit(r.url).query}" if urlsplit(r.url).query else "")
            + f" {r.api_version or '-'}"
            for r in self.requests
        ]

    def assert_clean(self) -> None:
        assert not self.contract_errors, self.contract_errors
        assert not self.unrouted, self.unrouted

    # --- running ---------------------------------------------------------------------------------
    def __enter__(self) -> AdoFake:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        self._isolate_sdk_caches()
        self._mock = responses.RequestsMock(assert_all_requests_are_fired=False)
        hosts = re.compile(r"https://(?:vssps\.)?dev\.azure\.com/.*", re.IGNORECASE)
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"):
            self._mock.add_callback(method, hosts, callback=self._on_request)
        login = re.compile(re.escape(LOGIN) + r"/.*", re.IGNORECASE)
        self._mock.add_callback("POST", login, callback=self._on_entra)
        self._mock.start()

    def stop(self) -> None:
        if self._mock is not None:
            self._mock.stop()
            self._mock.reset()
            self._mock = None
        self._restore_sdk_caches()

    def _isolate_sdk_caches(self) -> None:
        """Empty route-template caches for the duration (the SDK keeps them per process/disk)."""
        self._cache_dir = tempfile.mkdtemp(prefix="ado-fake-cache-")
        caches = (sdk_file_cache.OPTIONS_CACHE, sdk_file_cache.RESOURCE_CACHE)
        self._saved_caches = [(c, c.file_name, c.data, c.initial_load_occurred) for c in caches]
        for cache in caches:
            cache.file_name = str(Path(self._cache_dir) / Path(cache.file_name).name)
            cache.data, cache.initial_load_occurred = {}, True
        self._saved_locations = dict(sdk_client.Client._locations_cache)
        sdk_client.Client._locations_cache.clear()
        sdk_connection._deployment_level_resource_areas.clear()

    def _restore_sdk_caches(self) -> None:
        for cache, file_name, data, loaded in self._saved_caches:
            cache.file_name, cache.data, cache.initial_load_occurred = file_name, data, loaded
        self._saved_caches = []
        if self._cache_dir is not None:
            sdk_client.Client._locations_cache.clear()
            sdk_client.Client._locations_cache.update(self._saved_locations)
            shutil.rmtree(self._cache_dir, ignore_errors=True)
            self._cache_dir = None

    # --- one request -----------------------------------------------------------------------------
    def _on_request(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        status, headers, text = self._answer(request)
        if request.method == "HEAD":  # no body, errors and faults included: the SDK then raises
            return status, headers, ""  # AzureDevOpsClientRequestError, not ...ServiceError
        return status, headers, text

    def _answer(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        method, url = request.method or "GET", request.url or ""
        body = _json_body(request.body)
        accept = str(request.headers.get("Accept", ""))
        version = m[1] if (m := re.search(r"api-version=([\w.\-]+)", accept)) else None
        self.requests.append(Recorded(method, url, body, version))
        if self.on_request is not None:
            self.on_request(self.requests[-1])
        late: Fault | None = None
        for fault in self.faults:
            if (
                fault.times
                and fault.method in (method, "*")
                and re.search(fault.url_pattern, url, re.IGNORECASE)
            ):
                fault.times -= 1
                if not fault.after:
                    return self._fault(fault, method, url)
                late = fault
                break
        answer = self._handled(request, method, url, body, version)
        return answer if late is None else self._fault(late, method, url)

    def _handled(
        self,
        request: requests.PreparedRequest,
        method: str,
        url: str,
        body: Any,
        version: str | None,
    ) -> tuple[int, dict[str, str], str]:
        if "Authorization" not in request.headers:
            return _respond(401, None, text="Unauthorized: a personal access token is needed")
        scheme, _, token = str(request.headers["Authorization"]).partition(" ")
        if scheme == "Bearer" and self.accept_token is not None and not self.accept_token(token):
            self.refused_tokens.append(token)
            return _respond(401, None, text="Unauthorized: the access token has expired")
        parts = urlsplit(url)
        host = f"{parts.scheme}://{parts.netloc}".lower()
        if host == DEV and (oidc := _OIDC_PATH.fullmatch(parts.path)) and method == "POST":
            return self._oidc_token(oidc, parse_qsl(parts.query), token)
        if method == "OPTIONS" and parts.path.lower().rstrip("/") == f"/{self.org}/_apis":
            entries = [loc.entry() for loc in LOCATIONS if loc.host == host]
            return _respond(200, {"count": len(entries), "value": entries})
        location, params = self._match(host, parts.path)
        handler = self.HANDLERS.get((location.key, method)) if location else None
        if location is None or handler is None:
            self.unrouted.append(f"{method} {url}")
            raise requests.ConnectionError(f"ado_fake: nothing answers {method} {url}")
        query = {k.lower(): v for k, v in parse_qsl(parts.query, keep_blank_values=True)}
        call = _Call(location, method, params, query, copy.deepcopy(body))
        self._check_contract(call, version, url)
        try:
            for name in ("project", "projectId"):
                if name in params:
                    call.project = self._project(params[name])
            status, payload, *headers = getattr(self, handler)(call)
        except ServiceError as error:
            return _respond(error.status, _wrapped(error.message, error.type_key))
        return _respond(status, payload, *headers)

    def _match(self, host: str, path: str) -> tuple[Location | None, dict[str, str]]:
        """The route that matches with the fewest route values left out (as the SDK leaves
        out those it has no value for)."""
        found: list[tuple[int, Location, dict[str, str]]] = []
        for location, regex in self._routes:
            if location.host == host and (m := regex.fullmatch(path)):
                values = {k: unquote(v) for k, v in m.groupdict().items() if v is not None}
                found.append((len(m.groupdict()) - len(values), location, values))
        if not found:
            return None, {}
        found.sort(key=lambda f: f[0])
        assert len(found) == 1 or found[0][0] < found[1][0], f"ambiguous route {path}"
        return found[0][1], found[0][2]

    # --- federated sign-in -----------------------------------------------------------------------
    def _oidc_token(
        self, route: re.Match[str], query: list[tuple[str, str]], bearer: str
    ) -> tuple[int, dict[str, str], str]:
        """A job's request for a federated token of one of its project's connections."""
        values = dict(query)
        job = self.jobs.get(bearer)
        if (
            job is None
            or route["org"].lower() != self.org
            or job["project"] != route["project"].lower()
            or (job["plan"], job["job"]) != (route["plan"].lower(), route["job"].lower())
        ):
            return _respond(401, None, text="Unauthorized: not this job's access token")
        if values.get("api-version") != "7.1":
            self.contract_errors.append(f"oidctoken: api-version {values.get('api-version')}")
        endpoint = self.endpoints.get(values.get("serviceConnectionId", "").lower())
        if endpoint is None or job["project"] not in _project_ids(
            endpoint["serviceEndpointProjectReferences"]
        ):
            message = "The service connection does not exist or the job may not use it."
            return _respond(404, _wrapped(message, "ServiceEndpointNotFoundException"))
        parameters = endpoint["authorization"]["parameters"]
        claims = {
            "iss": parameters["workloadIdentityFederationIssuer"],
            "sub": parameters["workloadIdentityFederationSubject"],
            "aud": "api://AzureADTokenExchange",
            "iat": int(self.now),
            "exp": int(self.now) + OIDC_LIFETIME,
            "jti": str(len(self.oidc_tokens) + 1),
        }
        jwt = ".".join(
            (_b64(json.dumps({"alg": "RS256", "typ": "JWT"})), _b64(json.dumps(claims)), "sig")
        )
        self.oidc_tokens[jwt] = claims
        return _respond(200, {"oidcToken": jwt})

    def _on_entra(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        """Entra's token endpoint, for a client credential that is a federated token."""
        url = request.url or ""
        raw = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        form = dict(parse_qsl(raw))
        self.requests.append(Recorded("POST", url, form, None))
        tenant = urlsplit(url).path.strip("/").split("/")[0]
        if urlsplit(url).path.rstrip("/") != f"/{tenant}/oauth2/v2.0/token":
            self.unrouted.append(f"POST {url}")
            raise requests.ConnectionError(f"ado_fake: nothing answers POST {url}")

        def refused(code: str, text: str) -> tuple[int, dict[str, str], str]:
            body = {"error": "invalid_client", "error_description": f"{code}: {text}"}
            return _respond(400, body)

        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_assertion_type")
            != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ):
            return refused("AADSTS900144", "a client assertion is required")
        claims = self.oidc_tokens.get(form.get("client_assertion", ""))
        if claims is None:
            return refused("AADSTS50027", "the client assertion is not a valid token")
        if claims["exp"] <= self.now:
            return refused("AADSTS700024", "Client assertion is not within its valid time range")
        client = form.get("client_id", "").lower()
        if (client, claims["iss"], claims["sub"]) not in self.federated:
            return refused("AADSTS70021", "No matching federated identity record found")
        token = {
            "tenant": tenant,
            "client_id": client,
            "scope": form.get("scope", ""),
            "access_token": f"entra-token-{len(self.entra_tokens) + 1}",
            "assertion": claims["jti"],
        }
        self.entra_tokens.append(token)
        answer = {
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "ext_expires_in": ACCESS_TOKEN_LIFETIME,
            "access_token": token["access_token"],
        }
        return _respond(200, answer)

    def _fault(self, fault: Fault, method: str, url: str) -> tuple[int, dict[str, str], str]:
        if fault.status == 403:
            location, _ = self._match(_host(url), urlsplit(url).path)
            key = (location.key if location else "", method)
            permission = _PERMISSIONS.get(key, "View" if method == "GET" else "Edit")
            message = fault.message or (
                f"Access denied. {self.user['displayName']} needs {permission} permissions to"
                " perform the action. For more information, contact the Azure DevOps Server"
                " administrator."
            )
            return _respond(403, _wrapped(message, "UnauthorizedAccessException"), fault.headers)
        if fault.status >= 500:
            message = fault.message or (
                f"TF400898: An Internal Error Occurred. Activity Id: {uuid.uuid4()}."
            )
            return _respond(fault.status, _wrapped(message, "Exception"), fault.headers)
        message = fault.message or f"Injected fault {fault.status}."
        return _respond(fault.status, _wrapped(message, "Exception"), fault.headers)

    # --- contracts -------------------------------------------------------------------------------
    def _check_contract(self, call: _Call, version: str | None, url: str) -> None:
        problems: list[str] = []
        if call.location.key != "resourceAreas" and version is None:
            problems.append("no api-version in the Accept header")
        model = _BODY_MODELS.get((call.location.key, call.method))
        if (call.location.key, call.method) in _BODYLESS:
            if call.body is not None:
                problems.append("this request has no body")
        elif call.method in ("POST", "PUT", "PATCH"):
            if model is None:
                problems.append("no contract known for this body")
            else:
                problems += _model_violations(_classes(model[0]), model[1], call.body, "body")
                if self._specs is not None and call.location.spec is not None:
                    problems += self._specs.violations(
                        call.location, call.method, call.params, call.body
                    )
        if call.location.key in ("accessControlEntries", "accessControlLists"):
            problems += self._security_violations(call)
        if call.location.key == "graphGroups" and call.method == "GET":
            problems += _subject_type_violations(call.query.get("subjecttypes"))
        if problems:
            self.contract_errors += [f"{call.method} {url}: {p}" for p in problems]
            raise AssertionError(f"{call.method} {url}: {problems}")

    def _security_violations(self, call: _Call) -> list[str]:
        """What the security service would store without a word but never use: a Build token
        that names no project folder, bits that are no Build permission (the fake's rules)."""
        if call.params.get("securityNamespaceId", "").lower() != BUILD_NAMESPACE:
            return []
        body = call.body if isinstance(call.body, dict) else {}
        token = body.get("token") if call.method == "POST" else call.query.get("token")
        out = []
        if isinstance(token, str) and (problem := self._build_token_problem(token)):
            out.append(f"token {token!r}: {problem}")
        every = functools.reduce(lambda a, b: a | b, BUILD_PERMISSIONS.values())
        for i, ace in enumerate(body.get("accessControlEntries") or []):
            for key in ("allow", "deny"):
                bits = ace.get(key) if isinstance(ace, dict) else None
                if _is(bits, int) and bits & ~every:
                    out.append(f"accessControlEntries[{i}].{key}: {bits & ~every} is no Build bit")
        return out

    def _build_token_problem(self, token: str) -> str | None:
        """`{projectId}`, `{projectId}/{folder/path}` or `{projectId}/{folder/path}/{definitionId}`
        (the folder path without its leading backslash, `\\` turned into `/`)."""
        project, _, rest = token.partition("/")
        if "\\" in token or (rest and any(not part for part in rest.split("/"))):
            return "the folder path goes with `/` between names, none empty, no `\\`"
        if project.lower() not in self.projects:
            return "a Build token starts with the id (not the name) of a project"
        return None

    # --- helpers for handlers --------------------------------------------------------------------
    def _project(self, name_or_id: str) -> Json:
        for project in self.projects.values():
            if name_or_id.lower() in (project["id"], project["name"].lower()):
                return project
        raise ServiceError(
            404,
            f"TF200016: The following project does not exist: {name_or_id}. Verify that the name"
            " of the project is correct and that the project exists on the specified Azure"
            " DevOps Server.",
            "ProjectDoesNotExistWithNameException",
        )

    def _id(self, kind: str) -> int:
        self._next[kind] = self._next.get(kind, 0) + 1
        return self._next[kind]

    @staticmethod
    def _collection(items: list[Any]) -> Answer:
        return 200, {"count": len(items), "value": items}

    def _paged(self, call: _Call, items: list[Json]) -> Answer | Paged:
        """A page of `items` (in id order) from the item whose id the continuationToken names,
        with x-ms-continuationtoken naming the next page's first item when more follow (git
        policy configurations document this; the other lists are assumed to do the same)."""
        items = sorted(items, key=lambda i: i["id"])
        token = call.query.get("continuationtoken")
        if token:
            ids = [str(i["id"]) for i in items]
            _require(token in ids, f"continuationToken {token} was never handed out")
            items = items[ids.index(token) :]
        size = max(self.page_size, 1)
        if len(items) <= size:
            return self._collection(items)
        return *self._collection(items[:size]), {"x-ms-continuationtoken": str(items[size]["id"])}

    def _team_body(self, pid: str, name: str, description: str) -> Json:
        tid = _uid("team", f"{self.projects[pid]['name']}/{name}")
        return {
            "id": tid,
            "name": name,
            "url": f"{self.base_url}/_apis/projects/{pid}/teams/{tid}",
            "description": description,
            "identityUrl": f"{VSSPS}/{self.org}/_apis/Identities/{tid}",
            "projectName": self.projects[pid]["name"],
            "projectId": pid,
        }

    def _store_team(self, pid: str, name: str, description: str) -> Json:
        """A team and its group: the team's id is its identity id (graph storage key), its graph
        descriptor `vssgp.` + the base64url of the SID its identity descriptor carries."""
        team = self._team_body(pid, name, description)
        self.teams[pid][team["id"]] = team
        subject = "vssgp." + _b64(_sid(team["id"]))
        self._add_identity(team["id"], subject, f"[{team['projectName']}]\\{name}", True)
        return team

    def _add_identity(self, vsid: str, subject: str, name: str, container: bool) -> Json:
        sid = _sid(vsid)
        self.identities[vsid] = {
            "id": vsid,
            "descriptor": f"Microsoft.TeamFoundation.Identity;{sid}",
            "subjectDescriptor": subject,
            "providerDisplayName": name,
            "isActive": True,
            "isContainer": container,
            "members": [],
            "memberOf": [],
            "memberIds": [],
            "properties": {},
            "resourceVersion": 2,
            "metaTypeId": 255 if container else 0,
        }
        return self.identities[vsid]

    def _storage_key(self, descriptor: str) -> str | None:
        found = [i["id"] for i in self.identities.values() if i["subjectDescriptor"] == descriptor]
        return found[0] if found else None

    # --- location --------------------------------------------------------------------------------
    def _resource_areas(self, call: _Call) -> Answer:
        areas = [
            {"id": i, "name": name, "locationUrl": f"{host}/{self.org}/"}
            for i, name, host in _RESOURCE_AREAS
        ]
        return self._collection(areas)

    # --- core ------------------------------------------------------------------------------------
    def _get_project(self, call: _Call) -> Answer:
        if call.project is None:
            return self._collection([_project_ref(p) for p in self.projects.values()])
        return 200, call.project

    def _get_teams(self, call: _Call) -> Answer:
        return self._collection(list(self.teams[call.in_project["id"]].values()))

    def _create_team(self, call: _Call) -> Answer:
        pid, name = call.in_project["id"], (call.body.get("name") or "").strip()
        if not name:
            raise ServiceError(400, "The team name cannot be empty.", "ArgumentException")
        if any(t["name"].lower() == name.lower() for t in self.teams[pid].values()):
            message = f"A team with the name {name} already exists."  # wording assumed
            raise ServiceError(400, message, "TeamAlreadyExistsException")
        return 200, self._store_team(pid, name, call.body.get("description") or "")

    # --- git -------------------------------------------------------------------------------------
    def _get_repository(self, call: _Call) -> Answer:
        repos = self.repositories[call.in_project["id"]]
        wanted = call.params.get("repositoryId")
        if wanted is None:
            return self._collection(list(repos.values()))
        for repo in repos.values():
            if wanted.lower() in (repo["id"], repo["name"].lower()):
                return 200, repo
        raise ServiceError(
            404,
            f"TF401019: The Git repository with name or identifier {wanted} does not exist or you"
            " do not have permissions for the operation you are attempting.",
            "GitRepositoryNotFoundException",
        )

    def _create_repository(self, call: _Call) -> Answer:
        """Repositories - Create (/rest/api/azure/devops/git/repositories/create): 201 with
        the new, empty repository; a name taken in the project is refused."""
        project, name = call.in_project, str((call.body or {}).get("name") or "").strip()
        _require(bool(name), "A repository needs a name.")
        if any(
            r["name"].lower() == name.lower() for r in self.repositories[project["id"]].values()
        ):
            message = f"TF400948: A Git repository with the name {name} already exists."  # assumed
            raise ServiceError(409, message, "GitRepositoryNameAlreadyExistsException")
        created = self.add_repository(project["name"], name)
        created.pop("defaultBranch")  # an empty repository has no branch yet
        return 201, created

    def _repository_by_id(self, rid: str) -> Json | None:
        every = [r for repos in self.repositories.values() for r in repos.values()]
        return next((r for r in every if r["id"] == rid.lower()), None)

    # --- pipelines -------------------------------------------------------------------------------
    def _get_pipelines(self, call: _Call) -> Answer:
        pipelines = self.pipelines[call.in_project["id"]]
        if "pipelineId" in call.params:
            found = pipelines.get(_int(call.params["pipelineId"]))
            if found is None:
                message = f"Pipeline with id {call.params['pipelineId']} not found."
                raise ServiceError(404, message, "PipelineNotFoundException")
            return 200, found
        listed = [{k: v for k, v in p.items() if k != "configuration"} for p in pipelines.values()]
        return self._paged(call, listed)

    def _create_pipeline(self, call: _Call) -> Answer:
        project, body = call.in_project, call.body
        name, folder = (body.get("name") or "").strip(), body.get("folder") or "\\"
        configuration = body.get("configuration") or {}
        repository = configuration.get("repository") or {}
        _require(bool(name), "A pipeline needs a name.")
        _require(
            configuration.get("type") == "yaml" and bool(configuration.get("path")),
            "A YAML pipeline needs configuration.type 'yaml' and configuration.path (the"
            " SDK's CreatePipelineConfigurationParameters drops path and repository).",
        )
        _require(
            repository.get("type") == "azureReposGit" and bool(repository.get("id")),
            "configuration.repository needs the id and type 'azureReposGit' of the repository.",
        )
        repo = self._repository_by_id(repository["id"])
        _require(repo is not None, f"Repository {repository['id']} does not exist.")
        pipelines = self.pipelines[project["id"]]
        for existing in pipelines.values():
            if existing["name"].lower() == name.lower() and existing["folder"] == folder:
                message = f"The pipeline name {name} is already in use in folder {folder}."
                raise ServiceError(400, message, "DefinitionExistsException")
        pid = self._id("pipeline")
        url = f"{self.base_url}/{project['id']}/_apis/pipelines/{pid}?revision=1"
        pipelines[pid] = {
            "id": pid,
            "revision": 1,
            "name": name,
            "folder": folder,
            "url": url,
            "_links": {
                "self": {"href": url},
                "web": {
                    "href": f"{self.base_url}/{project['id']}/_build/definition?definitionId={pid}"
                },
            },
            "configuration": {
                "type": "yaml",
                "path": configuration["path"],
                "repository": {"id": repository["id"], "type": "azureReposGit"},
            },
        }
        return 200, pipelines[pid]

    # --- environments ----------------------------------------------------------------------------
    def _get_environments(self, call: _Call) -> Answer:
        environments = self.environments[call.in_project["id"]]
        if "environmentId" in call.params:
            found = environments.get(_int(call.params["environmentId"]))
            if found is None:
                message = f"Environment with id {call.params['environmentId']} does not exist."
                raise ServiceError(404, message, "EnvironmentNotFoundException")
            return 200, found
        pattern = call.query.get("name")
        found_all = [e for e in environments.values() if _like(e["name"], pattern)]
        return self._paged(call, found_all)

    def _get_queues(self, call: _Call) -> Answer:
        queues = self.queues[call.in_project["id"]]
        for pool in self.pools() if self.pools is not None else []:
            if all(q["name"].lower() != pool.lower() for q in queues.values()):
                self.add_queue(call.in_project["name"], pool)
        if "queueId" in call.params:
            found = queues.get(_int(call.params["queueId"]))
            if found is None:
                message = f"Agent queue {call.params['queueId']} does not exist."
                raise ServiceError(404, message, "TaskAgentQueueNotFoundException")
            return 200, found
        names = [n.lower() for n in call.query.get("queuenames", "").split(",") if n]
        name = call.query.get("queuename")
        return self._collection(
            [
                q
                for q in queues.values()
                if (not names or q["name"].lower() in names) and _like(q["name"], name)
            ]
        )

    def _add_environment(self, call: _Call) -> Answer:
        name = (call.body.get("name") or "").strip()
        _require(bool(name), "Environment name cannot be empty.")
        environments = self.environments[call.in_project["id"]]
        if any(e["name"].lower() == name.lower() for e in environments.values()):
            message = f"Environment '{name}' already exists in current project."
            raise ServiceError(400, message, "EnvironmentExistsException")
        eid = self._id("environment")
        environments[eid] = {
            "id": eid,
            "name": name,
            "description": call.body.get("description") or "",
            "createdBy": self.user,
            "createdOn": NOW,
            "lastModifiedBy": self.user,
            "lastModifiedOn": NOW,
            "project": _project_ref(call.in_project),
            "resources": [],
        }
        return 200, environments[eid]

    # --- variable groups -------------------------------------------------------------------------
    def _get_variable_groups(self, call: _Call) -> Answer:
        pid, query = call.in_project["id"], call.query
        if "groupId" in call.params:
            query = {**query, "groupids": call.params["groupId"]}
        ids = {_int(i) for i in query["groupids"].split(",")} if "groupids" in query else None
        found = [
            self._group_body(g)
            for g in self.variable_groups.values()
            if pid in _project_ids(g["variableGroupProjectReferences"])
            and _like(g["name"], query.get("groupname"))
            and (ids is None or g["id"] in ids)
        ]
        return self._collection(found)

    def _add_variable_group(self, call: _Call) -> Answer:
        group = self._checked_group(call.body, None)
        gid = self._id("variableGroup")
        group.update(id=gid, createdBy=self.user, createdOn=NOW)
        return 200, self._store_group(gid, group)

    def _update_variable_group(self, call: _Call) -> Answer:
        gid = _int(call.params.get("groupId", ""))
        existing = self.variable_groups.get(gid)
        if existing is None:
            message = f"Variable group with id {gid} does not exist."
            raise ServiceError(404, message, "VariableGroupNotFoundException")
        group = self._checked_group(call.body, gid)
        group.update(id=gid, createdBy=existing["createdBy"], createdOn=existing["createdOn"])
        return 200, self._store_group(gid, group)

    def _checked_group(self, body: Json, gid: int | None) -> Json:
        name = (body.get("name") or "").strip()
        _require(bool(name), "Variable group name cannot be empty.")
        _require(
            body.get("type") in ("Vsts", "AzureKeyVault"), "type must be Vsts or AzureKeyVault"
        )
        references = body.get("variableGroupProjectReferences") or []
        _require(bool(references), "variableGroupProjectReferences must name a project.")
        for reference in references:
            project_id = (reference.get("projectReference") or {}).get("id") or ""
            _require(project_id.lower() in self.projects, f"Project {project_id} does not exist.")
            _require(bool(reference.get("name")), "Each project reference needs a name.")
        for other in self.variable_groups.values():
            shared = _project_ids(other["variableGroupProjectReferences"]) & _project_ids(
                references
            )
            if other["id"] != gid and other["name"].lower() == name.lower() and shared:
                message = f"Variable group with name {name} already exists."  # wording assumed
                raise ServiceError(400, message, "VariableGroupExistsException")
        variables = body.get("variables") or {}
        _require(bool(variables), "A variable group needs at least one variable.")
        return {
            "type": body["type"],
            "name": name,
            "description": body.get("description") or "",
            "variables": copy.deepcopy(variables),
            "variableGroupProjectReferences": copy.deepcopy(references),
            "modifiedBy": self.user,
            "modifiedOn": NOW,
            "isShared": False,
        }

    def _store_group(self, gid: int, group: Json) -> Json:
        previous = self.variable_groups.get(gid, {}).get("variables", {})
        for name, variable in group["variables"].items():
            if variable.get("isSecret") and variable.get("value") is None:  # sent back masked
                variable["value"] = previous.get(name, {}).get("value")
        self.variable_groups[gid] = group
        return self._group_body(group)

    def _group_body(self, group: Json) -> Json:
        """As the service answers: secret values never come back."""
        out = copy.deepcopy(group)
        for variable in out["variables"].values():
            if variable.get("isSecret"):
                variable["value"] = None
        return out

    def secret(self, group_id: int, name: str) -> str | None:
        """A secret variable's value, which the service never answers."""
        value: str | None = self.variable_groups[group_id]["variables"][name].get("value")
        return value

    # --- checks ----------------------------------------------------------------------------------
    def _get_checks(self, call: _Call) -> Answer:
        checks = self.checks[call.in_project["id"]]
        expand = call.query.get("$expand", "").lower() == "settings"
        if "id" in call.params:
            found = checks.get(_int(call.params["id"]))
            if found is None:
                message = f"Check configuration {call.params['id']} not found."
                raise ServiceError(404, message, "CheckConfigurationNotFoundException")
            return 200, _without_settings(found, expand)
        kind, rid = call.query.get("resourcetype"), call.query.get("resourceid")
        found_all = [
            _without_settings(c, expand)
            for c in checks.values()
            if (kind is None or c["resource"]["type"].lower() == kind.lower())
            and (rid is None or c["resource"]["id"] == rid)
        ]
        return self._collection(found_all)

    def _add_check(self, call: _Call) -> Answer:
        check = self._checked_check(call.in_project, call.body)
        cid = self._id("check")
        check.update(id=cid, createdBy=self.user, createdOn=NOW)
        check["url"] = (
            f"{self.base_url}/{call.in_project['id']}/_apis/pipelines/checks/configurations/{cid}"
        )
        check["_links"] = {"self": {"href": check["url"]}}
        self.checks[call.in_project["id"]][cid] = check
        return 200, check

    def _update_check(self, call: _Call) -> Answer:
        cid = _int(call.params.get("id", ""))
        existing = self.checks[call.in_project["id"]].get(cid)
        if existing is None:
            raise ServiceError(
                404, f"Check configuration {cid} not found.", "CheckConfigurationNotFoundException"
            )
        check = self._checked_check(call.in_project, call.body)
        _require(
            check["type"]["id"] == existing["type"]["id"], "The type of a check cannot change."
        )
        _require(call.body.get("id") in (None, cid), "The body's id is not the check's id.")
        existing.update(check, modifiedBy=self.user, modifiedOn=NOW)
        return 200, existing

    def _checked_check(self, project: Json, body: Json) -> Json:
        kind = str((body.get("type") or {}).get("id") or "").lower()
        names = {
            APPROVAL_CHECK: "Approval",
            TASK_CHECK: "Task Check",
            EXCLUSIVE_LOCK_CHECK: "ExclusiveLock",
        }
        _require(kind in names, f"Check type {kind or '(none)'} is not supported by this fake.")
        resource = self._check_resource(project, body.get("resource") or {})
        timeout = body.get("timeout")
        _require(isinstance(timeout, int) and 0 < timeout <= 43200, "timeout: 1 to 43200 minutes.")
        if kind == EXCLUSIVE_LOCK_CHECK:
            settings = body.get("settings") or {}
            _require(settings == {}, "An exclusive lock has no settings.")
        else:
            settings = _object(
                body.get("settings") or None,
                "A check needs its settings (the SDK's CheckConfiguration model has no settings).",
            )
        if kind == APPROVAL_CHECK:
            self._check_approval(settings)
        elif kind == TASK_CHECK:
            _check_task_settings(settings)
        disabled = body.get("isDisabled", False)
        _require(_is(disabled, bool), "isDisabled must be true or false.")
        return {
            "type": {"id": kind, "name": names[kind]},
            "settings": copy.deepcopy(settings),
            "timeout": timeout,
            "isDisabled": disabled,
            "resource": resource,
            "modifiedBy": self.user,
            "modifiedOn": NOW,
        }

    def _check_resource(self, project: Json, resource: Json) -> Json:
        """Environments, variable groups and agent queues by their int id, service connections
        by GUID, repositories by "{projectId}.{repositoryId}"."""
        kind, rid = resource.get("type"), str(resource.get("id"))
        if kind == "environment":
            found = self.environments[project["id"]].get(_int(rid))
        elif kind == "endpoint":
            found = self.endpoints.get(rid.lower())
            if found and project["id"] not in _project_ids(
                found["serviceEndpointProjectReferences"]
            ):
                found = None
        elif kind == "variablegroup":
            found = self.variable_groups.get(_int(rid))
        elif kind == "queue":
            found = self.queues[project["id"]].get(_int(rid))
        elif kind == "repository":
            # "{projectId}.{repositoryId}" (facts/azure-devops.md: TF check_branch_control and
            # pipeline_authorization docs); longer than 100 characters the service refuses it
            # (TF issue #1010)
            _require(len(rid) <= 100, "Resource id exceeds maximum length of 100")
            owner, _, repository = rid.lower().partition(".")
            repos = self.repositories.get(owner, {})
            found = repos.get(repository) if owner == project["id"] else None
        else:
            raise ServiceError(400, f"Resource type {kind} is not faked.", "ArgumentException")
        if found is None:
            message = f"{kind} {rid} does not exist in {project['name']}."
            raise ServiceError(404, message, "ResourceNotFoundException")
        resolved = rid.lower() if kind == "repository" else str(found["id"])
        return {"type": kind, "id": resolved, "name": found["name"]}

    def add_check(self, project: str, body: Json) -> Json:
        """A check someone made by hand (in the portal), stored as the service would."""
        proj = self._project(project)
        check = self._checked_check(proj, copy.deepcopy(body))
        cid = self._id("check")
        check.update(id=cid, createdBy=self.user, createdOn=NOW)
        self.checks[proj["id"]][cid] = check
        return check

    def add_policy(self, project: str, body: Json) -> Json:
        """A branch policy someone else made (another repository's, or project-wide)."""
        proj = self._project(project)
        policy = self._checked_policy(proj, copy.deepcopy(body))
        policy.update(id=self._id("policy"), revision=1)
        self.policies[proj["id"]][policy["id"]] = policy
        return policy

    def _check_approval(self, settings: Json) -> None:
        approvers = settings.get("approvers") or []
        _require(bool(approvers), "An approval needs approvers.")
        for approver in approvers:
            vsid = str(approver.get("id", "")).lower()
            _require(
                vsid in self.identities,
                f"Approver {vsid} is not an Azure DevOps identity id (an Entra object id is not).",
            )
        minimum = settings.get("minRequiredApprovers", 0)  # a group can give several
        _require(_is(minimum, int) and minimum >= 0, "minRequiredApprovers: 0 (all) or more.")
        order = settings.get("executionOrder", 1)
        _require(
            order in (1, 2) or str(order).lower() in ("anyorder", "insequence"),
            "executionOrder: anyOrder (1) or inSequence (2).",
        )
        flag = settings.get("requesterCannotBeApprover", False)
        _require(_is(flag, bool), "requesterCannotBeApprover must be a boolean.")

    # --- policies --------------------------------------------------------------------------------
    def _get_policies(self, call: _Call) -> Answer:
        policies = self.policies[call.in_project["id"]]
        if "configurationId" in call.params:
            found = policies.get(_int(call.params["configurationId"]))
            if found is None:
                message = f"Policy configuration {call.params['configurationId']} not found."
                raise ServiceError(404, message, "PolicyConfigurationNotFoundException")
            return 200, found
        kind = call.query.get("policytype", "").lower()
        return self._collection([p for p in policies.values() if kind in ("", p["type"]["id"])])

    def _create_policy(self, call: _Call) -> Answer:
        policy = self._checked_policy(call.in_project, call.body)
        policy_id = self._id("policy")
        policy.update(id=policy_id, revision=1)
        policy["url"] = (
            f"{self.base_url}/{call.in_project['id']}/_apis/policy/configurations/{policy_id}"
        )
        self.policies[call.in_project["id"]][policy_id] = policy
        return 200, policy

    def _update_policy(self, call: _Call) -> Answer:
        policy_id = _int(call.params.get("configurationId", ""))
        existing = self.policies[call.in_project["id"]].get(policy_id)
        if existing is None:
            message = f"Policy configuration {policy_id} not found."
            raise ServiceError(404, message, "PolicyConfigurationNotFoundException")
        policy = self._checked_policy(call.in_project, call.body)
        _require(policy["type"]["id"] == existing["type"]["id"], "A policy's type cannot change.")
        existing.update(policy, revision=existing["revision"] + 1)
        return 200, existing

    def _checked_policy(self, project: Json, body: Json) -> Json:
        kind = str((body.get("type") or {}).get("id", "")).lower()
        if kind not in _POLICY_TYPES:
            message = f"The policy type {kind} does not exist."  # wording assumed
            raise ServiceError(400, message, "PolicyTypeNotFoundException")
        display, known, required = _POLICY_TYPES[kind]
        settings = _object(body.get("settings"), "A policy needs settings.")
        for key, value in settings.items():
            if key == "scope":
                continue
            _require(key in known, f"Setting {key} is not one of {display}'s: {sorted(known)}")
            _require(_is(value, *known[key]), f"Setting {key} has the wrong type: {value!r}")
        missing = required - settings.keys()
        _require(not missing, f"{display} needs {sorted(missing)}")
        if kind == MIN_REVIEWERS_POLICY:
            _require(1 <= settings["minimumApproverCount"] <= 10, "minimumApproverCount: 1-10")
        if kind == BUILD_POLICY:
            definition = settings["buildDefinitionId"]
            _require(
                definition in self.pipelines[project["id"]],
                f"Build definition {definition} does not exist in {project['name']}.",
            )
            _require(settings.get("validDuration", 0) >= 0, "validDuration: minutes, 0 = always")
        scope = settings.get("scope") or None
        _require(isinstance(scope, list), "settings.scope: a list of scopes")
        normalised = [self._checked_scope(project, s) for s in scope or ()]
        for flag in ("isEnabled", "isBlocking"):
            _require(_is(body.get(flag), bool), f"{flag} must be true or false.")
        return {
            "type": {
                "id": kind,
                "displayName": display,
                "url": f"{self.base_url}/{project['id']}/_apis/policy/types/{kind}",
            },
            "isEnabled": body["isEnabled"],
            "isBlocking": body["isBlocking"],
            "isDeleted": False,
            "isEnterpriseManaged": False,
            "settings": {**copy.deepcopy(settings), "scope": normalised},
            "createdBy": self.user,
            "createdDate": NOW,
        }

    def _checked_scope(self, project: Json, scope: Any) -> Json:
        _require(isinstance(scope, dict), "Each scope is an object.")
        unknown = set(scope) - {"repositoryId", "refName", "matchKind"}
        _require(not unknown, f"Unknown scope keys {sorted(unknown)}")
        rid, ref = scope.get("repositoryId"), scope.get("refName")
        if rid is not None:
            _require(
                str(rid).lower() in self.repositories[project["id"]],
                f"Repository {rid} is not in project {project['name']}.",
            )
        kind = str(scope.get("matchKind", "")).lower()
        _require(kind in ("exact", "prefix", "defaultbranch"), "matchKind: exact or prefix")
        if kind != "defaultbranch":
            _require(isinstance(ref, str) and ref.startswith("refs/"), "refName: a full ref name")
        # the service answers the match kind capitalised, whatever was sent (public GET samples)
        capitalised = {"exact": "Exact", "prefix": "Prefix", "defaultbranch": "DefaultBranch"}
        return {**scope, "matchKind": capitalised[kind]}

    def _get_git_policies(self, call: _Call) -> Answer | Paged:
        """Policies that apply to a repository's branch: scoped to it exactly, by prefix, or to
        every repository (repositoryId null); paged with x-ms-continuationtoken."""
        rid = call.query.get("repositoryid", "").lower()
        ref = call.query.get("refname")
        kind = call.query.get("policytype", "").lower()

        def applies(policy: Json) -> bool:
            for scope in policy["settings"].get("scope") or []:
                repo = str(scope.get("repositoryId") or "").lower()
                if repo and rid and repo != rid:
                    continue
                match, name = scope.get("matchKind"), scope.get("refName")
                if ref is None or match == "DefaultBranch":
                    return True
                if (match == "Exact" and name == ref) or (
                    match == "Prefix" and ref.startswith(str(name))
                ):
                    return True
            return False

        found = [
            p
            for p in self.policies[call.in_project["id"]].values()
            if kind in ("", p["type"]["id"]) and applies(p)
        ]
        return self._paged(call, found)

    def _permission_key(self, call: _Call) -> tuple[str, str, str]:
        kind, rid = call.params.get("resourceType", ""), call.params.get("resourceId", "")
        project = call.in_project
        self._check_resource(project, {"type": kind, "id": rid})
        return project["id"], kind, rid.lower()

    def _permission_body(self, key: tuple[str, str, str]) -> Json:
        state = self.permissions.get(key, {"all": False, "pipelines": {}})
        return {
            "resource": {"type": key[1], "id": key[2]},
            "allPipelines": {"authorized": state["all"], "authorizedBy": self.user}
            if state["all"]
            else None,
            "pipelines": [
                {"id": pid, "authorized": True, "authorizedBy": self.user, "authorizedOn": NOW}
                for pid, ok in sorted(state["pipelines"].items())
                if ok
            ],
        }

    def _get_permissions(self, call: _Call) -> Answer:
        return 200, self._permission_body(self._permission_key(call))

    def _update_permissions(self, call: _Call) -> Answer:
        key = self._permission_key(call)
        state = self.permissions.setdefault(key, {"all": False, "pipelines": {}})
        body = call.body or {}
        if body.get("allPipelines") is not None:
            state["all"] = bool(body["allPipelines"].get("authorized"))
        for pipeline in body.get("pipelines") or []:
            pid = pipeline.get("id")
            _require(
                pid in self.pipelines[key[0]], f"Pipeline {pid} does not exist in the project."
            )
            state["pipelines"][pid] = bool(pipeline.get("authorized"))
        return 200, self._permission_body(key)

    def authorized(self, project: str, kind: str, resource_id: str) -> tuple[bool, set[int]]:
        """(open to all pipelines, the pipelines authorized) for a resource."""
        key = (self._project(project)["id"], kind, str(resource_id).lower())
        state = self.permissions.get(key, {"all": False, "pipelines": {}})
        return state["all"], {p for p, ok in state["pipelines"].items() if ok}

    # --- service endpoints -----------------------------------------------------------------------
    def _get_endpoints(self, call: _Call) -> Answer:
        names = [n.lower() for n in call.query.get("endpointnames", "").split(",") if n]
        _require(bool(names), "endpointNames is required.")
        found = [
            e
            for e in self.endpoints.values()
            if call.in_project["id"] in _project_ids(e["serviceEndpointProjectReferences"])
            and e["name"].lower() in names
        ]
        return self._collection(found)

    def _create_endpoint(self, call: _Call) -> Answer:
        body = call.body
        name, kind = (body.get("name") or "").strip(), str(body.get("type", "")).lower()
        _require(bool(name), "A service connection needs a name.")
        _require(kind == "azurerm", "Only azurerm service connections are faked.")
        _require(str(body.get("url", "")).startswith("https://"), "url: the management endpoint")
        references = body.get("serviceEndpointProjectReferences") or []
        _require(bool(references), "serviceEndpointProjectReferences must name a project.")
        projects = _project_ids(references)
        _require(projects <= self.projects.keys(), f"Unknown projects in {sorted(projects)}")
        for other in self.endpoints.values():
            if other["name"].lower() == name.lower() and projects & _project_ids(
                other["serviceEndpointProjectReferences"]
            ):
                raise ServiceError(
                    400,
                    f"A service connection with name {name} already exists. Only a user having"
                    f" Administrator/User role permissions on service connection {name} can see"
                    " it.",
                    "DuplicateServiceConnectionException",
                )
        data = body.get("data") or {}
        _check_azurerm_data(data)
        authorization = body.get("authorization") or {}
        parameters = _checked_authorization(authorization, data)
        eid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.org}/endpoint/{name}"))
        if authorization["scheme"] == "WorkloadIdentityFederation":
            parameters.update(self._federation(eid, name, references[0], parameters["tenantid"]))
        self.endpoints[eid] = {
            "id": eid,
            "name": name,
            "type": "azurerm",
            "url": body["url"],
            "description": body.get("description") or "",
            "authorization": {"scheme": authorization["scheme"], "parameters": parameters},
            "data": copy.deepcopy(data),
            "isShared": False,
            "isReady": True,
            "isOutdated": False,
            "owner": "library",
            "createdBy": self.user,
            "operationStatus": {"state": "Ready", "statusMessage": ""},
            "serviceEndpointProjectReferences": copy.deepcopy(references),
        }
        return 200, self.endpoints[eid]

    def _update_endpoint(self, call: _Call) -> Answer:
        eid = call.params.get("endpointId", "").lower()
        existing = self.endpoints.get(eid)
        if existing is None:
            raise ServiceError(
                404, f"Service connection {eid} does not exist.", "ServiceEndpointNotFoundException"
            )
        body = call.body
        data = body.get("data") or {}
        _check_azurerm_data(data)
        authorization = body.get("authorization") or {}
        parameters = _checked_authorization(authorization, data)
        if authorization["scheme"] == "WorkloadIdentityFederation":
            references = existing["serviceEndpointProjectReferences"]
            parameters.update(
                self._federation(eid, existing["name"], references[0], parameters["tenantid"])
            )
        existing.update(
            description=body.get("description") or "",
            authorization={"scheme": authorization["scheme"], "parameters": parameters},
            data=copy.deepcopy(data),
        )
        return 200, existing

    def _federation(self, eid: str, name: str, reference: Json, tenant: str) -> dict[str, str]:
        """Issuer and subject the service hands out, for the Entra federated credential."""
        if self.wif_issuer == "vstoken":
            project = reference.get("projectReference", {}).get("name", "")
            return {
                "workloadIdentityFederationIssuer": f"https://vstoken.dev.azure.com/{self.org_id}",
                "workloadIdentityFederationSubject": f"sc://{self.org}/{project}/{name}",
            }
        app = "499b84ac-1321-427f-aa17-267ca6975798"  # Azure DevOps' application id

        def packed(guid: str) -> str:
            return base64.urlsafe_b64encode(uuid.UUID(guid).bytes_le).decode().rstrip("=")

        return {
            "workloadIdentityFederationIssuer": f"https://login.microsoftonline.com/{tenant}/v2.0",
            "workloadIdentityFederationSubject": (
                f"/eid1/c/pub/t/{packed(tenant)}/a/{packed(app)}/sc/{self.org_id}/{eid}"
            ),
        }

    # --- graph and identities --------------------------------------------------------------------
    def _create_group(self, call: _Call) -> Answer:
        origin = str(call.body.get("originId") or "").lower()
        _require(bool(origin), "Only Entra groups (originId) are materialised by this fake.")
        name = self.directory.get(origin)
        if name is None:
            message = f"The Entra group {origin} was not found in the directory."
            raise ServiceError(404, message, "GraphSubjectNotFoundException")  # wording assumed
        vsid = _uid("identity", origin)
        descriptor = "aadgp." + _b64(_sid(vsid))  # the SID of its identity descriptor
        if descriptor not in self.groups:
            self.groups[descriptor] = {
                "subjectKind": "group",
                "origin": "aad",
                "originId": origin,
                "displayName": name,
                "principalName": f"[TEAM FOUNDATION]\\{name}",
                "domain": f"Microsoft.TeamFoundation.Identity.AzureActiveDirectory/{self.org_id}",
                "mailAddress": None,
                "description": "",
                "descriptor": descriptor,
                "url": f"{VSSPS}/{self.org}/_apis/Graph/Groups/{descriptor}",
            }
            self._add_identity(vsid, descriptor, name, True)
        return 201, self.groups[descriptor]

    def _graph_groups(self) -> dict[str, Json]:
        """The groups the graph knows, by descriptor: the Entra groups materialised and each
        team's group (origin "vsts", its originId the team's id, i.e. its identity id)."""
        out = dict(self.groups)
        for pid, teams in self.teams.items():
            for team in teams.values():
                descriptor = self.identities[team["id"]]["subjectDescriptor"]
                out[descriptor] = {
                    "subjectKind": "group",
                    "origin": "vsts",
                    "originId": team["id"],
                    "displayName": team["name"],
                    "principalName": f"[{team['projectName']}]\\{team['name']}",
                    "domain": f"vstfs:///Classification/TeamProject/{pid}",
                    "mailAddress": None,
                    "description": team["description"],
                    "descriptor": descriptor,
                    "url": f"{VSSPS}/{self.org}/_apis/Graph/Groups/{descriptor}",
                }
        return out

    def _get_groups(self, call: _Call) -> Answer | Paged:
        """One group by descriptor, or a page of them (`subjectTypes` filtering by the
        descriptor's prefix) with X-MS-ContinuationToken when more follow."""
        groups = self._graph_groups()
        if "groupDescriptor" in call.params:
            found = groups.get(call.params["groupDescriptor"])
            if found is None:
                raise ServiceError(404, "The group was not found.", "GraphSubjectNotFoundException")
            return 200, found
        _require(
            "scopedescriptor" not in call.query,
            "scopeDescriptor is not faked: groups are listed for the whole organization.",
        )
        kinds = {k.strip().lower() for k in call.query.get("subjecttypes", "").split(",") if k}
        listed = sorted(
            (g for d, g in groups.items() if not kinds or d.split(".", 1)[0] in kinds),
            key=lambda g: str(g["descriptor"]),
        )
        if "continuationtoken" in call.query:
            after = _continued_after(call.query["continuationtoken"])
            listed = [g for g in listed if g["descriptor"] > after]
        page = listed[: max(self.graph_page_size, 1)]
        if len(page) == len(listed):
            return self._collection(page)
        token = _b64(_CONTINUATION + page[-1]["descriptor"])
        return *self._collection(page), {"X-MS-ContinuationToken": token}

    def _get_storage_key(self, call: _Call) -> Answer:
        vsid = self._storage_key(call.params.get("subjectDescriptor", ""))
        if vsid is None:
            raise ServiceError(404, "The subject was not found.", "GraphSubjectNotFoundException")
        return 200, {"value": vsid}

    def _get_descriptor(self, call: _Call) -> Answer:
        found = self.identities.get(call.params.get("storageKey", "").lower())
        if found is None:
            raise ServiceError(404, "The storage key was not found.", "StorageKeyNotFoundException")
        return 200, {"value": found["subjectDescriptor"]}

    def _read_identities(self, call: _Call) -> Answer:
        """One entry per asked value, in order: null for those unknown (as the service does)."""
        query = call.query
        if "subjectdescriptors" in query:
            keys = [self._storage_key(d) for d in query["subjectdescriptors"].split(",")]
        elif "identityids" in query:
            keys = [i.lower() for i in query["identityids"].split(",")]
        elif "descriptors" in query:
            by_descriptor = {i["descriptor"]: i["id"] for i in self.identities.values()}
            keys = [by_descriptor.get(d) for d in query["descriptors"].split(",")]
        else:
            raise ServiceError(
                400, "A filter (descriptors, identityIds ...) is required.", "ArgumentException"
            )
        return self._collection([self.identities.get(k or "") for k in keys])

    # --- memberships -----------------------------------------------------------------------------
    def _subject(self, descriptor: str) -> Json:
        vsid = self._storage_key(descriptor)
        if vsid is None:
            message = f"The subject {descriptor} was not found."  # wording assumed
            raise ServiceError(404, message, "GraphSubjectNotFoundException")
        return self.identities[vsid]

    def _check_membership(self, call: _Call) -> Answer:
        """200 or 404, both with no body (a HEAD); unknown subjects are no members either."""
        member = call.params.get("subjectDescriptor", "")
        container = call.params.get("containerDescriptor", "")
        return (200 if (member, container) in self.memberships else 404), None

    def _add_membership(self, call: _Call) -> Answer:
        member = call.params.get("subjectDescriptor", "")
        container = call.params.get("containerDescriptor", "")
        self._subject(member)
        group = self._subject(container)
        _require(member != container, "A group cannot be a member of itself.")
        _require(
            group["isContainer"] and container.startswith("vssgp."),
            f"{container} is no Azure DevOps group: members go into teams and Azure DevOps"
            " groups, not Entra groups or users.",
        )
        self.memberships.add((member, container))
        links = {
            name: {"href": f"{VSSPS}/{self.org}/_apis/Graph/{path}"}
            for name, path in (
                ("self", f"Memberships/{member}/{container}"),
                ("member", f"Subjects/{member}"),
                ("container", f"Subjects/{container}"),
            )
        }
        body = {"_links": links, "containerDescriptor": container, "memberDescriptor": member}
        return 201, body

    # --- security --------------------------------------------------------------------------------
    def _namespace(self, call: _Call) -> str:
        namespace = call.params.get("securityNamespaceId", "").lower()
        _require(namespace == BUILD_NAMESPACE, "Only the Build security namespace is faked.")
        return namespace

    def _set_aces(self, call: _Call) -> Answer:
        """Merge: each bit takes the side the incoming ACE sets it on; no merge: replaced. An ACE
        left with neither allow nor deny goes (as the service drops empty ACEs)."""
        namespace, body = self._namespace(call), call.body
        token = body.get("token")
        _require(isinstance(token, str) and bool(token), "token is required.")
        aces = body.get("accessControlEntries")
        _require(isinstance(aces, list) and bool(aces), "accessControlEntries is required.")
        merge = body.get("merge", False)
        _require(_is(merge, bool), "merge must be true or false.")
        by_descriptor = {i["descriptor"].lower(): i["descriptor"] for i in self.identities.values()}
        wanted = []  # all checked before anything is set
        for ace in aces:
            ace = _object(ace, "Each access control entry is an object.")
            raw = str(ace.get("descriptor") or "")
            descriptor = by_descriptor.get(raw.lower())
            _require(
                descriptor is not None,
                f"{raw or '(none)'} is not the identity descriptor of an identity here"
                " (Microsoft.TeamFoundation.Identity;S-1-9-..., not a graph descriptor).",
            )
            allow, deny = ace.get("allow", 0), ace.get("deny", 0)
            _require(_is(allow, int) and _is(deny, int), "allow and deny are integers.")
            _require(allow >= 0 and deny >= 0, "allow and deny are bit masks (0 or more).")
            wanted.append((descriptor, allow, deny))
        acl = self.acls.setdefault(
            (namespace, token.lower()),
            {"inheritPermissions": True, "token": token, "acesDictionary": {}},
        )
        out = []
        for descriptor, allow, deny in wanted:
            old = acl["acesDictionary"].get(descriptor, {"allow": 0, "deny": 0})
            if merge:
                allow, deny = (old["allow"] & ~deny) | allow, (old["deny"] & ~allow) | deny
            entry = {"descriptor": descriptor, "allow": allow, "deny": deny}
            if allow or deny:
                acl["acesDictionary"][descriptor] = entry
            else:
                acl["acesDictionary"].pop(descriptor, None)
            out.append({**entry, "extendedInfo": {}})
        return self._collection(out)

    def _query_acls(self, call: _Call) -> Answer:
        """ACLs of the token (with `recurse`, of those under it too), their ACEs narrowed to
        `descriptors`; an ACL with none of those is left out, so nothing set answers []."""
        namespace, query = self._namespace(call), call.query
        token = query.get("token", "").lower()
        recurse = query.get("recurse", "").lower() == "true"
        extended = query.get("includeextendedinfo", "").lower() == "true"
        wanted = {d.lower() for d in query.get("descriptors", "").split(",") if d}
        out = []
        for (ns, key), acl in sorted(self.acls.items()):
            inside = not token or key == token or (recurse and key.startswith(token + "/"))
            if ns != namespace or not inside:
                continue
            aces = {
                d: {**ace, **({"extendedInfo": _effective(ace)} if extended else {})}
                for d, ace in acl["acesDictionary"].items()
                if not wanted or d.lower() in wanted
            }
            if aces:
                extra = {"includeExtendedInfo": True} if extended else {}
                out.append({**acl, "acesDictionary": aces, **extra})
        return self._collection(out)

    # --- inspection of what was set --------------------------------------------------------------
    def team_descriptor(self, project: str, team: str) -> str:
        """The graph descriptor (vssgp.) of a project's team."""
        pid = self._project(project)["id"]
        found = [t for t in self.teams[pid].values() if t["name"].lower() == team.lower()]
        assert found, f"no team {team} in {project}"
        return str(self.identities[found[0]["id"]]["subjectDescriptor"])

    def is_member(self, member: str, container: str) -> bool:
        """Whether the graph descriptor `member` was added to the group `container`."""
        return (member, container) in self.memberships

    def ace(self, token: str, descriptor: str, namespace: str = BUILD_NAMESPACE) -> Json | None:
        """{descriptor, allow, deny} set on `token` for the identity descriptor, if any."""
        acl = self.acls.get((namespace.lower(), token.lower()), {"acesDictionary": {}})
        found = {d.lower(): a for d, a in acl["acesDictionary"].items()}.get(descriptor.lower())
        return copy.deepcopy(found)


# --- contracts against the SDK's models and the REST specifications ------------------------------
def _classes(module: ModuleType) -> dict[str, type]:
    return {k: v for k, v in vars(module).items() if isinstance(v, type)}


_PRIMITIVES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "long": (int,),
    "float": (int, float),
    "bool": (bool,),
    "iso-8601": (str,),
    "date": (str,),
    "duration": (str,),
}


def _model_violations(models: dict[str, type], kind: str, data: Any, where: str) -> list[str]:
    """What in `data` the msrest model `kind` (plus `_SDK_MODEL_GAPS`) does not know."""
    if data is None or kind == "object":
        return []
    if kind.startswith("[") and kind.endswith("]"):
        if not isinstance(data, list):
            return [f"{where}: expected a list"]
        return [
            e
            for i, v in enumerate(data)
            for e in _model_violations(models, kind[1:-1], v, f"{where}[{i}]")
        ]
    if kind.startswith("{") and kind.endswith("}"):
        if not isinstance(data, dict):
            return [f"{where}: expected an object"]
        return [
            e
            for k, v in data.items()
            for e in _model_violations(models, kind[1:-1], v, f"{where}.{k}")
        ]
    if kind in _PRIMITIVES:
        ok = _is(data, *_PRIMITIVES[kind])
        return [] if ok else [f"{where}: expected {kind}, got {type(data).__name__}"]
    model = models.get(kind)
    if model is None and kind not in _SDK_MODEL_GAPS:
        return [f"{where}: unknown model {kind}"]
    if not isinstance(data, dict):
        return [f"{where}: expected a {kind} object"]
    attributes = model._attribute_map.values() if model else ()  # type: ignore[attr-defined]
    known = {d["key"]: d["type"] for d in attributes}
    known |= _SDK_MODEL_GAPS.get(kind, {})
    out = []
    for key, value in data.items():
        if key not in known:
            out.append(f"{where}.{key}: unknown to {kind}")
        else:
            out += _model_violations(models, known[key], value, f"{where}.{key}")
    return out


class _SpecContracts:
    """Request bodies against the REST specifications (Swagger 2.0, no discriminators)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._documents: dict[str, Json] = {}
        self._validators: dict[tuple[str, str], jsonschema.Draft4Validator] = {}
        for location in LOCATIONS:  # the route templates handed out are the specs' paths
            if location.spec is not None:
                path = "/{organization}/" + location.route
                assert path in self.document(location.spec)["paths"], f"{path} not in spec"

    def document(self, name: str) -> Json:
        if name not in self._documents:
            text = (self.root / name).read_text(encoding="utf-8-sig")
            document = json.loads(text)
            document["definitions"] = _flattened(document["definitions"])
            self._documents[name] = document
        return self._documents[name]

    def violations(
        self, location: Location, method: str, params: dict[str, str], body: Any
    ) -> list[str]:
        assert location.spec is not None
        document = self.document(location.spec)
        path = "/{organization}/" + _sdk_route(location.route, params)
        operation = document["paths"].get(path, {}).get(method.lower())
        if operation is None:
            return [f"{method} {path} is not in {location.spec}"]
        schemas = [p["schema"] for p in operation.get("parameters", []) if p.get("in") == "body"]
        if not schemas:
            return ["the specification defines no body here"]
        definition = schemas[0]["$ref"].rsplit("/", 1)[-1]
        if definition in _SUBTYPES:
            definition = _SUBTYPES[definition](body)
        key = (location.spec, definition)
        if key not in self._validators:
            schema = {"definitions": document["definitions"], "$ref": f"#/definitions/{definition}"}
            self._validators[key] = jsonschema.Draft4Validator(schema)
        return [
            f"spec {definition}: {'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}"
            for e in self._validators[key].iter_errors(body)
        ]


@functools.cache
def _spec_contracts(root: Path) -> _SpecContracts:
    """One per folder and process: the specifications are parsed and compiled once."""
    return _SpecContracts(root)


def _sdk_route(route: str, params: dict[str, str]) -> str:
    """The route with the segments of absent values left out, as the SDK's `Client` does."""
    return "/".join(
        s for s in route.split("/") if not (s.startswith("{") and s.strip("{}*") not in params)
    )


def _check_subtype(body: Any) -> str:
    kind = str(((body or {}).get("type") or {}).get("id", "")).lower()
    subtypes = {APPROVAL_CHECK: "ApprovalCheckConfiguration", TASK_CHECK: "TaskCheckConfiguration"}
    return subtypes.get(kind, "GenericCheckConfiguration")


#: polymorphic bases with no discriminator: the concrete definition, picked as the service does
_SUBTYPES: dict[str, Callable[[Any], str]] = {"CheckConfiguration": _check_subtype}


def _flattened(definitions: Json) -> Json:
    """`allOf` merged in, objects closed unless other definitions extend them."""
    bases = {
        part["$ref"].rsplit("/", 1)[-1]
        for d in definitions.values()
        for part in d.get("allOf", [])
        if "$ref" in part
    }

    def collect(name: str, properties: Json, required: set[str]) -> None:
        definition = definitions[name]
        for part in definition.get("allOf", []):
            if "$ref" in part:
                collect(part["$ref"].rsplit("/", 1)[-1], properties, required)
        properties.update(definition.get("properties", {}))
        required.update(definition.get("required", []))

    out: Json = {}
    for name, definition in definitions.items():
        if "properties" not in definition and "allOf" not in definition:
            out[name] = _loosened(definition)
            continue
        properties: Json = {}
        required: set[str] = set()
        collect(name, properties, required)
        properties |= _SPEC_GAPS.get(name, {})
        schema: Json = {
            "type": "object",
            "properties": {k: _loosened(v) for k, v in properties.items()},
        }
        if required:
            schema["required"] = sorted(required)
        if name not in bases and name not in _OPEN_DEFINITIONS:
            schema["additionalProperties"] = False
        out[name] = schema
    return out


def _loosened(schema: Any) -> Any:
    """Enums as the service reads them: names in any case, or the ordinal."""
    if not isinstance(schema, dict):
        return schema
    out = {k: _loosened(v) for k, v in schema.items() if k != "x-ms-enum"}
    if "enum" in schema and all(isinstance(v, str) for v in schema["enum"]):
        names = "|".join(re.escape(v) for v in schema["enum"])
        del out["enum"]
        out = {"anyOf": [{"type": "string", "pattern": f"^(?i:{names})$"}, {"type": "integer"}]}
    return out


# --- service-side rules --------------------------------------------------------------------------
#: the subject types of groups (Entra, Azure DevOps) that graph.list_groups filters on
_GROUP_SUBJECT_TYPES = frozenset({"aadgp", "vssgp"})
#: what the fake's continuation tokens carry before the last descriptor handed out
_CONTINUATION = "ado-fake/graph/groups/after:"


def _subject_type_violations(raw: str | None) -> list[str]:
    """subjectTypes the service would filter on without a word, finding nothing."""
    kinds = [k.strip() for k in (raw or "").split(",")]
    wrong = [k for k in kinds if k.lower() not in _GROUP_SUBJECT_TYPES]
    if raw is None or not wrong:
        return []
    return [
        f"subjectTypes {raw!r}: {wrong} are no group subject types"
        f" ({', '.join(sorted(_GROUP_SUBJECT_TYPES))}); subject_types is a list, a str is joined"
        " letter by letter"
    ]


def _continued_after(token: str) -> str:
    """The last descriptor of the previous page, from a token this fake handed out."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except ValueError:
        text = ""
    _require(
        text.startswith(_CONTINUATION),
        f"The continuation token {token!r} is not valid.",  # wording assumed
    )
    return text[len(_CONTINUATION) :]


def _check_task_settings(settings: Json) -> None:
    known = {"definitionRef", "displayName", "inputs", "linkedVariableGroup", "retryInterval"}
    _require(set(settings) <= known, f"Task check settings are {sorted(known)}")
    definition = settings.get("definitionRef") or {}
    if (
        str(definition.get("id", "")).lower() == BUSINESS_HOURS_TASK
        and definition.get("name") == "evaluateBusinessHours"
    ):
        inputs = settings.get("inputs") or {}
        _require(all(isinstance(v, str) for v in inputs.values()), "Task inputs are all strings.")
        return
    _require(
        str(definition.get("id", "")).lower() == BRANCH_CONTROL_TASK
        and definition.get("name") == "evaluatebranchProtection"
        and definition.get("version") == "0.0.1",
        "Only the Branch control and Business hours task checks are faked.",
    )
    inputs = settings.get("inputs") or {}
    _require(
        set(inputs) <= _BRANCH_CONTROL_INPUTS,
        f"Branch control inputs: {sorted(_BRANCH_CONTROL_INPUTS)}",
    )
    _require(all(isinstance(v, str) for v in inputs.values()), "Task inputs are all strings.")
    _require(bool(inputs.get("allowedBranches")), "allowedBranches is required.")
    for flag in ("ensureProtectionOfBranch", "allowUnknownStatusBranch"):
        _require(inputs.get(flag, "false") in ("true", "false"), f"{flag}: 'true' or 'false'")


_AZURERM_DATA = {
    "subscriptionId",
    "subscriptionName",
    "environment",
    "scopeLevel",
    "creationMode",
    "resourceGroupName",
    "managementGroupId",
    "managementGroupName",
    "mlWorkspaceName",
    "mlWorkspaceLocation",
    "azureSpnRoleAssignmentId",
    "azureSpnPermissions",
    "spnObjectId",
    "appObjectId",
    "identityType",
}


def _check_azurerm_data(data: Json) -> None:
    unknown = set(data) - _AZURERM_DATA
    _require(not unknown, f"Unknown azurerm data {sorted(unknown)}")
    _require(all(isinstance(v, str) for v in data.values()), "data values are strings.")
    clouds = (
        "AzureCloud",
        "AzureChinaCloud",
        "AzureUSGovernment",
        "AzureGermanCloud",
        "AzureStack",
    )
    _require(data.get("environment") in clouds, f"data.environment: one of {clouds}")
    _require(
        data.get("scopeLevel") in ("Subscription", "ManagementGroup", "AzureMLWorkspace"),
        "data.scopeLevel: Subscription, ManagementGroup or AzureMLWorkspace",
    )
    _require(data.get("creationMode") in ("Manual", "Automatic"), "data.creationMode")
    if data["scopeLevel"] == "Subscription":
        _require(_is_guid(data.get("subscriptionId")), "data.subscriptionId: a GUID")
        _require(bool(data.get("subscriptionName")), "data.subscriptionName is required.")


def _checked_authorization(authorization: Json, data: Json) -> dict[str, str]:
    scheme, parameters = authorization.get("scheme"), dict(authorization.get("parameters") or {})
    schemes = ("WorkloadIdentityFederation", "ServicePrincipal", "ManagedServiceIdentity")
    _require(scheme in schemes, f"authorization.scheme: one of {schemes}")
    if scheme == "WorkloadIdentityFederation":
        unknown = set(parameters) - {"tenantid", "serviceprincipalid"}
        _require(not unknown, f"Parameters the service sets or does not know: {sorted(unknown)}")
        _require(_is_guid(parameters.get("tenantid")), "parameters.tenantid: a GUID")
        if data.get("creationMode") == "Manual":
            _require(
                _is_guid(parameters.get("serviceprincipalid")),
                "parameters.serviceprincipalid: the app (client) id, for Manual",
            )
    return parameters


# --- small helpers -------------------------------------------------------------------------------
def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ServiceError(400, message, "ArgumentException")


def _object(value: Any, message: str) -> Json:
    """`value` if it is a JSON object, else the service's 400."""
    _require(isinstance(value, dict), message)
    return value  # type: ignore[no-any-return]


def _is(value: Any, *kinds: type) -> bool:
    """isinstance, where a bool is not an int."""
    if isinstance(value, bool):
        return bool in kinds
    return isinstance(value, kinds)


def _is_guid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return -1


def _like(name: str, pattern: str | None) -> bool:
    """Name filters of the service: case-insensitive, `*` as a wildcard."""
    return pattern is None or fnmatch.fnmatchcase(name.lower(), pattern.lower())


def _project_ids(references: list[Json]) -> set[str]:
    return {str((r.get("projectReference") or {}).get("id", "")).lower() for r in references}


def _project_ref(project: Json) -> Json:
    return {
        "id": project["id"],
        "name": project["name"],
        "state": "wellFormed",
        "visibility": "private",
    }


def _without_settings(check: Json, expand: bool) -> Json:
    """The service leaves settings out unless `$expand=settings` is asked for."""
    return check if expand else {k: v for k, v in check.items() if k != "settings"}


def build_token(project_id: str, folder: str = "\\", definition_id: int | None = None) -> str:
    """The Build namespace's token: `{projectId}[/{folder path}][/{definitionId}]`, the folder
    path (`\\a\\b`) without its leading backslash and with `/` between its names (`a/b`)."""
    parts = [project_id, *(p for p in folder.split("\\") if p)]
    if definition_id is not None:
        parts.append(str(definition_id))
    return "/".join(parts)


def _effective(ace: Json) -> Json:
    """Extended info as the service answers it for an explicit ACE (nothing inherited here)."""
    return {"effectiveAllow": ace["allow"], "effectiveDeny": ace["deny"]}


def _uid(kind: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ado-fake/{kind}/{name.lower()}"))


def _sid(seed: str) -> str:
    numbers = [int(seed.replace("-", "")[i : i + 8], 16) for i in range(0, 32, 8)]
    return "S-1-9-1551374245-" + "-".join(str(n) for n in numbers) + "-1-1"


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _identity_ref(name: str, unique_name: str, org: str) -> Json:
    vsid = _uid("identity", unique_name)
    descriptor = "aad." + _b64(_uid("aad", unique_name))
    return {
        "displayName": name,
        "id": vsid,
        "uniqueName": unique_name,
        "descriptor": descriptor,
        "url": f"{VSSPS}/{org}/_apis/Identities/{vsid}",
        "imageUrl": f"{DEV}/{org}/_api/_common/identityImage?id={vsid}",
    }


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _route_regex(location: Location, org: str) -> re.Pattern[str]:
    """`{param}` segments optional, as the SDK drops those it has no value for."""
    pattern = f"/{re.escape(org)}"
    for segment in location.route.split("/"):
        if segment.startswith("{"):
            name = segment.strip("{}*")
            value = location.resource if name == "resource" else None
            pattern += f"/{re.escape(value)}" if value else f"(?:/(?P<{name}>[^/]+))?"
        else:
            pattern += "/" + re.escape(segment)
    return re.compile(pattern + "/?", re.IGNORECASE)


def _json_body(body: Any) -> Any:
    if not body:
        return None
    text = body.decode() if isinstance(body, bytes) else body
    return json.loads(text)


_SERVER_ASSEMBLY = "Microsoft.TeamFoundation.Framework.Server"


def _wrapped(message: str, type_key: str) -> Json:
    """The error body of Azure DevOps (the SDK reads it as a WrappedException)."""
    return {
        "$id": "1",
        "innerException": None,
        "message": message,
        "typeName": f"Microsoft.TeamFoundation.Framework.Server.{type_key}, {_SERVER_ASSEMBLY}",
        "typeKey": type_key,
        "errorCode": 0,
        "eventId": 3000,
    }


def _respond(
    status: int, payload: Any, headers: dict[str, str] | None = None, text: str | None = None
) -> tuple[int, dict[str, str], str]:
    if text is not None:
        return status, {"Content-Type": "text/plain; charset=utf-8", **(headers or {})}, text
    content = json.dumps(payload) if payload is not None else ""
    return status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}, content
