"""A stateful fake of Azure ML for the real `MLClient`, injected as `transport=` (no network).

It answers the ARM control plane (workspace, code, components, jobs, models, online endpoints and
deployments, long-running operations), the registry front end (discovery, models, import), run
history (a pipeline's step runs) and the scoring URIs of online endpoints, and keeps state, so a
model shared into the registry or a deployment created is there afterwards. Every request is
recorded; PUT and POST bodies are read back through the SDK's own REST models
(`azure.ai.ml._restclient.arm_ml_service.models`: since azure-ai-ml 1.3x one model set serves
every api-version, so the check is on the body, plus the api-version the shapes were taken for)
and must not carry fields the model lacks, fields the service sets (read-only) or lack required
ones. Faults (`Fault`, as in FakeArm) answer before the request is handled.

Wrap tests in `offline(fake)`: three SDK paths bypass `transport=` (see `offline`).

Sequences (azure-ai-ml 1.35.2). ARM is https://management.azure.com, {ws} and {reg} the
workspace and registry ids, MFE https://{region}.api.azureml.ms/mferp/managementfrontend,
OP `/subscriptions/{sub}/providers/Microsoft.MachineLearningServices/locations/{region}/
mfeOperationsStatus/{op}` (the Azure-AsyncOperation URL the fake hands out; the SDK follows it
verbatim), each line `METHOD host path api-version`:

- MLClient(..., registry_name=REG): GET https://eastus.api.azureml.ms/registrymanagement/v1.0/
  registries/{REG}/discovery v1.0; the answer sends every later registry call to MFE.
- jobs.create_or_update(pipeline): GET ARM {ws} 2024-10-01-preview; per component:
  GET ARM {ws}/codes/{uuid}/versions?hash=..&hashVersion=202208 2023-04-01 (without a blob
  store answered: already registered), GET ARM {ws}/codes/{uuid}/versions/1 2023-04-01, PUT ARM
  {ws}/components/azureml_anonymous/versions/{hash} 2024-01-01-preview; then PUT ARM
  {ws}/jobs/{name} 2024-01-01-preview (201, status NotStarted, services.Studio.endpoint).
  With a blob store, the first lookup of a snapshot finds nothing and the SDK uploads it: POST
  ARM {ws}/codes/{uuid}/versions/1/startPendingUpload 2023-04-01 {"pendingUploadType":
  "TemporaryBlobReference"} -> blobReferenceForConsumption {blobUri (a container), credential
  {credentialType SAS, sasUri}}; then, straight to storage with its own client: HEAD (the
  indicator blob: the first file, sorted), PUT per file (threads), PUT ?comp=metadata on the
  indicator; then PUT ARM {ws}/codes/{uuid}/versions/1 2023-04-01 {"properties": {"codeUri":
  "{blobUri}/{folder}", "isAnonymous": true, "properties": {"hash_sha256", "hash_version"}}}.
  No datastore GET or listSecrets. Components sharing the snapshot then find it by hash.
- jobs.get(name): GET ARM {ws}/jobs/{name} 2024-01-01-preview (each one is a poll).
- jobs.list(parent_job_name=name): GET ARM {ws}/jobs/{name} 2024-01-01-preview (a poll too),
  GET ARM {ws} 2024-10-01-preview, GET https://{region}.api.azureml.ms/discovery (the
  workspace's discoveryUrl), GET {api}/history/v1.0{ws}/runs/{name}/children v1.0.
- models.list(): GET ARM {ws}/models 2023-08-01-preview; models.list(name=N):
  GET ARM {ws}/models/N/versions 2023-08-01-preview; models.get(N, version=V):
  GET ARM {ws}/models/N/versions/V 2023-08-01-preview (404 -> ResourceNotFoundError).
- registry models.get(N, version=V): GET MFE {reg}/models/N/versions/V 2021-10-01-dataplanepreview.
- models.share(...): GET ARM {ws} 2023-08-01-preview, registry discovery (bypasses transport),
  GET MFE {reg}/models/N/versions?$orderBy=createdtime desc&$top=1, GET MFE
  {reg}/models/N/versions/V (must be 404), POST MFE {reg}/import (all
  2021-10-01-dataplanepreview) with {"properties": {"referenceType": "Id", "destinationName",
  "destinationVersion", "sourceAssetId": "azureml://locations/{region}/workspaces/{workspace
  guid}/models/N/versions/V"}} -> 202; GET MFE OP (Running), GET MFE OP (Succeeded), GET the
  Location (empty), GET MFE {reg}/models/N/versions/V.
- online_endpoints.get(E): GET ARM {ws}/onlineEndpoints/E 2022-02-01-preview (404 when absent),
  then GET .../onlineEndpoints/E/deployments 2022-02-01-preview.
- online_endpoints.begin_create_or_update(endpoint).result(): GET ARM {ws} 2024-10-01-preview,
  PUT ARM {ws}/onlineEndpoints/E 2022-02-01-preview (201/200 + Azure-AsyncOperation), GET OP
  (Running), GET OP (Succeeded), GET .../onlineEndpoints/E. A traffic change is get + this.
- online_deployments.begin_create_or_update(d).result(): GET .../onlineEndpoints/E
  2023-04-01-preview, code lookup as above (2023-04-01), for a registry model: registry discovery
  and GET MFE {reg}/models/N/versions/V (bypasses transport, errors swallowed), GET ARM {ws}
  2024-10-01-preview, PUT .../onlineEndpoints/E/deployments/D 2023-04-01-preview, GET OP
  (Running), GET OP (Succeeded or Failed), GET .../deployments/D 2023-04-01-preview.
- online_deployments.get(D, E) / list(E): GET .../deployments/D, GET .../deployments
  (2023-04-01-preview); begin_delete(D, E).result(): DELETE .../deployments/D
  2023-04-01-preview (202), GET OP (Running), GET OP (Succeeded).
- online_endpoints.get_keys(E): GET .../onlineEndpoints/E, POST .../onlineEndpoints/E/listKeys
  (2022-02-01-preview).
- online_endpoints.invoke(E, request_file, deployment_name=D): GET .../onlineEndpoints/E/
  deployments, GET .../onlineEndpoints/E, POST .../listKeys (2022-02-01-preview), then POST
  {scoringUri} (https://E.{region}.inference.ml.azure.com/score) through the same transport,
  with Authorization: Bearer {primaryKey} and azureml-model-deployment: D.
"""

from __future__ import annotations

import base64
import copy
import functools
import itertools
import json
import re
import sys
import types
import typing
import uuid
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import patch
from urllib.parse import parse_qs, urlparse

from azure.core.exceptions import ServiceRequestError
from azure.core.pipeline.transport import (
    RequestsTransport,
)
from azure.core.rest._requests_basic import RestRequestsTransportResponse

from tests.aml.azurite import BlobStore
from tests.infra.arm_fake import FakeCredential, FakeTransport, Fault, json_body, respond

with warnings.catch_warnings():  # azure.ai.ml's import warns (marshmallow): not ours to fix
    warnings.simplefilter("ignore")
    from azure.ai.ml._restclient.arm_ml_service import models as rest
    from azure.ai.ml._restclient.arm_ml_service._utils.model_base import _UNSET
    from azure.ai.ml._restclient.arm_ml_service._utils.model_base import Model as RestModel

__all__ = [
    "AmlFake",
    "AmlFault",
    "FakeCredential",
    "Fault",
    "JobScenario",
    "Recorded",
    "Scoring",
    "offline",
]

Answer = tuple[int, Any, dict[str, str]]
ARM = "https://management.azure.com"
REGION = "westeurope"
#: registries Microsoft runs, as discovery answers for them: name -> (subscription, group)
SYSTEM_REGISTRIES = {"azureml": (str(uuid.UUID(int=0xA2)), "azureml-registry-rg")}


def system_registry_id(name: str) -> str:
    subscription, group = SYSTEM_REGISTRIES[name]
    return (
        f"/subscriptions/{subscription}/resourceGroups/{group}/providers"
        f"/Microsoft.MachineLearningServices/registries/{name}"
    )


API = f"https://{REGION}.api.azureml.ms"  # the workspace's api/history host and registry MFE
MFE = f"{API}/mferp/managementfrontend"
WORKSPACE_GUID = "6d3bb8a3-0a39-4c6b-9d5c-1a2b3c4d5e6f"
STEPS = ("prep", "train", "evaluate", "register")
_RP = "Microsoft.MachineLearningServices"
_SCOPE = r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/" + _RP + "/"
_WS = _SCOPE + r"workspaces/(?P<ws>[^/]+)"
_REG = _SCOPE + r"registries/(?P<reg>[^/]+)"
_OPERATION = (
    r"/subscriptions/[^/]+/providers/" + _RP + r"/locations/[^/]+/(?P<kind>\w+)/(?P<op>\w+)"
)
#: each written resource: the REST model its body must fit, and the api-versions it comes with
_CONTRACTS: list[tuple[str, type[RestModel], set[str]]] = [
    (r"/codes/[^/]+/versions/[^/]+", rest.CodeVersion, {"2023-04-01"}),
    (r"/components/[^/]+/versions/[^/]+", rest.ComponentVersion, {"2024-01-01-preview"}),
    (r"/jobs/[^/]+", rest.JobBase, {"2024-01-01-preview"}),
    # schedules go out on the 2023-06-01-preview wire (ScheduleOperations'
    # service_client_06_2023_preview): checked against the shared models after `_legacy_monitor`
    (r"/schedules/[^/]+", rest.Schedule, {"2023-06-01-preview"}),
    (r"/models/[^/]+/versions/[^/]+", rest.ModelVersion, {"2023-08-01-preview"}),
    # `ml.data.create_or_update` (what `az ml data create` sends): a new data asset version
    (r"/data/[^/]+/versions/[^/]+", rest.DataVersionBase, {"2023-04-01-preview"}),
    (r"/onlineEndpoints/[^/]+/deployments/[^/]+", rest.OnlineDeployment, {"2023-04-01-preview"}),
    (r"/onlineEndpoints/[^/]+", rest.OnlineEndpoint, {"2022-02-01-preview"}),
]
_IMPORT_KEYS = {"referenceType", "destinationName", "destinationVersion", "sourceAssetId"}


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    body: Any
    host: str = ""

    @property
    def api_version(self) -> str | None:
        return parse_qs(self.query).get("api-version", [None])[0]


@dataclass
class JobScenario:
    """How a submitted pipeline runs: NotStarted, Running, then its outcome on GET `polls`."""

    polls: int = 3
    fail_step: str | None = None  # this step fails, so does the parent; later steps never run
    never_finishes: bool = False  # the parent stays Running, evaluate is stuck Running
    # the tags each step's run carries: only what the step's MLflow calls set (see `step_ran`)
    step_tags: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class Scoring:
    """How a deployment answers POST /score; `body=None` is one prediction per input row."""

    status: int = 200
    body: Any = None


@dataclass
class AmlFault(Fault):
    """A `Fault` that can also strike where an answer alone cannot: `when="network"` raises
    azure-core's ServiceRequestError from the transport (no answer at all), `when="after"`
    handles the request (its state change applies) and then answers `status`. azure-core
    retries idempotent requests (PUT, GET, DELETE: 3 more tries), so `times` counts those."""

    when: str = "before"  # "before" (answer instead of handling), "network" or "after"

    @classmethod
    def network(cls, method: str, path_pattern: str, times: int = 1) -> AmlFault:
        return cls(method, path_pattern, 0, times=times, when="network")

    @classmethod
    def processed_then(
        cls, method: str, path_pattern: str, status: int = 500, times: int = 1
    ) -> AmlFault:
        return cls(method, path_pattern, status, times=times, when="after")


class AmlFake(FakeTransport):
    """Injected as `transport=` into MLClient: every SDK request lands in `send`."""

    def __init__(
        self,
        subscription: str = str(uuid.UUID(int=1)),
        resource_group: str = "rg-ml",
        workspace: str = "ws",
        registry: str = "shared-registry",
        registry_resource_group: str = "rg-shared",
        blob_store: BlobStore | None = None,
    ) -> None:
        self.subscription, self.registry = subscription, registry
        self.blob_store = blob_store  # with one, code is uploaded there (see `_code_lookup`)
        self.blob_requests: list[Recorded] = []  # to the blob store (see `offline`)
        self.registry_resource_group = registry_resource_group
        scope = f"/subscriptions/{subscription}/resourceGroups/{{}}/providers/{_RP}"
        self.workspace_id = scope.format(resource_group) + f"/workspaces/{workspace}"
        self.registry_id = scope.format(registry_resource_group) + f"/registries/{registry}"
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.contract_errors: list[str] = []
        self.scenario = JobScenario()
        self.failing_deployments: dict[str, str] = {}  # deployment name -> provisioning error
        self.scoring: dict[str, Scoring] = {}  # deployment name -> answer (default: healthy)
        self.logs: dict[str, str] = {}  # deployment name -> its container log (getLogs)
        #: resource path patterns whose long-running operations stay InProgress while listed
        self.unfinished: set[str] = set()
        self.storage_networks: dict[str, dict[str, Any]] = {}  # workspace id -> storage props
        self.slept: list[float] = []  # what azure-core's retries waited (see `sleep`)
        self.keys = {"primaryKey": "fake-primary-key", "secondaryKey": "fake-secondary-key"}
        #: what POST .../onlineEndpoints/E/token answers (auth_mode aml_token)
        self.aml_token = {
            "accessToken": "fake-aml-token",
            "tokenType": "Bearer",
            "expiryTimeUtc": 4102444800,
            "refreshAfterTimeUtc": 4102441200,
        }
        self.resources: dict[str, dict[str, Any]] = {}  # resource path, lower case -> resource
        self.job_polls: dict[str, int] = {}  # job name -> GETs so far
        self.fixed_status: dict[str, str] = {}  # seeded job -> its status (see `seed_job`)
        self.scheduled_jobs: dict[str, str] = {}  # job name -> the schedule that started it
        self.run_children: dict[str, list[tuple[str, str, dict[str, str]]]] = {}  # seed_run
        self.code_hashes: dict[str, str] = {}  # snapshot hash -> code version path
        self.operations: dict[str, dict[str, Any]] = {}
        self._created = itertools.count()  # creation order, for systemData.createdAt

    # --- what tests set up and look at -------------------------------------------------
    def seed_model(self, name: str, version: str, **tags: str) -> dict[str, Any]:
        """A model version in the workspace, as the pipeline's register step leaves it."""
        return self._store_model(self.workspace_id, name, version, {"tags": tags})

    def seed_model_in(self, workspace_id: str, name: str, version: str, **tags: str) -> None:
        """A model version in another workspace (another environment's)."""
        self._store_model(workspace_id, name, version, {"tags": tags})

    def seed_data(self, name: str, version: str, path: str, data_type: str = "uri_file") -> None:
        """A data asset version in the workspace, as `az ml data create` leaves it (created
        now: after everything seeded or written before it)."""
        body = {"dataType": data_type, "dataUri": path, "isAnonymous": False, "tags": {}}
        self._store(f"{self.workspace_id}/data/{name}/versions/{version}", {"properties": body})

    def seed_data_in(
        self, workspace_id: str, name: str, version: str, path: str, data_type: str = "uri_file"
    ) -> None:
        """A data asset version in another workspace (another environment's)."""
        body = {"dataType": data_type, "dataUri": path, "isAnonymous": False, "tags": {}}
        self._store(f"{workspace_id}/data/{name}/versions/{version}", {"properties": body})

    def seed_registry_model(self, name: str, version: str, **tags: str) -> None:
        """A model version already in the registry (another project's, an earlier one)."""
        self._store_model(self.registry_id, name, version, {"tags": tags})

    def storage_network(self, workspace_id: str, storage: dict[str, Any]) -> None:
        """The networking of `workspace_id`'s storage account (its ARM `properties`, e.g. as
        `mlops render` writes them); without it the storage is as Azure creates one: public."""
        self.storage_networks[workspace_id.lower()] = copy.deepcopy(storage)

    def _storage_blocks_registry(self, workspace_id: str) -> str | None:
        """Why the registry cannot read the workspace's storage, as Microsoft documents it:
        sharing needs public access "enabled from selected networks" with a resource instance
        rule for the registry (how-to-registry-network-isolation); None when it can."""
        storage = self.storage_networks.get(workspace_id.lower())
        if storage is None:
            return None
        acls = storage.get("networkAcls") or {}
        if storage.get("publicNetworkAccess") == "Disabled":
            return (
                "Cannot share the asset: the workspace's storage account has public network"
                " access disabled (data exfiltration protection)"
            )
        if acls.get("defaultAction", "Allow") == "Allow":
            return None
        for rule in acls.get("resourceAccessRules") or []:
            rid = str(rule.get("resourceId", "")).lower()
            if "microsoft.machinelearningservices/registries" in rid and (
                self.registry.lower() in rid
            ):
                return None
        return (
            "Cannot share the asset: the workspace's storage account admits no resource"
            f" instance of registry {self.registry}"
        )

    def seed_environment(self, scope: str, name: str, version: str) -> None:
        """A published build of an environment: in a registry (`scope` its id, e.g.
        `system_registry_id("azureml")` for a curated one) or a workspace (its id)."""
        image = f"mcr.microsoft.com/azureml/curated/{name.removeprefix('AzureML-')}:{version}"
        self._store(f"{scope}/environments/{name}", {"properties": {"isArchived": False}})
        self._store(
            f"{scope}/environments/{name}/versions/{version}",
            {"properties": {"image": image, "osType": "Linux", "isAnonymous": False}},
        )

    def seed_job(
        self,
        name: str,
        status: str,
        schedule: str | None = None,
        experiment: str = "diagnosis",
        workspace_id: str | None = None,
        **tags: str,
    ) -> None:
        """A pipeline job that ran earlier and ended `status` (started by `schedule`, a
        schedule's name, when given) in the workspace (or `workspace_id`'s): created now,
        after everything seeded before it."""
        props = {
            "jobType": "Pipeline",
            "experimentName": experiment,
            "status": status,
            "tags": tags,
            "properties": {},
            "isArchived": False,
        }
        self._store(f"{workspace_id or self.workspace_id}/jobs/{name}", {"properties": props})
        self.job_polls[name] = 10**6  # polled to its end: status as seeded
        self.fixed_status[name] = status
        if schedule is not None:
            self.scheduled_jobs[name] = schedule

    def seed_run(self, parent: str, name: str, status: str, **tags: str) -> None:
        """A child run of job or run `parent` (run history serves it, ARM does not), with the
        tags its code set, e.g. a monitor signal's evaluate step tagging a breach."""
        self.run_children.setdefault(parent, []).append((name, status, dict(tags)))

    def step_ran(self, step: str, **tags: str) -> None:
        """In pipelines run from now on, `step`'s MLflow calls set `tags` on its run (the fake
        runs no step code): run history serves only these, nothing the step does not set."""
        self.scenario.step_tags[step] = dict(tags)

    def registry_model(self, name: str, version: str) -> dict[str, Any] | None:
        """The model version as the registry holds it (its tags are what was promoted)."""
        return self.resources.get(f"{self.registry_id}/models/{name}/versions/{version}".lower())

    def writes(self) -> list[Recorded]:
        """What changed state (not listKeys, getLogs or scoring)."""
        return [
            r
            for r in self.requests
            if r.method in ("PUT", "POST", "PATCH", "DELETE")
            and not r.path.endswith(("/listKeys", "/getLogs", "/score"))
        ]

    # --- HttpTransport -----------------------------------------------------------------
    def send(self, request: Any, **kwargs: Any) -> Any:
        response = self._answer(request)
        if isinstance(response, RestRequestsTransportResponse) and not kwargs.get("stream"):
            response.read()  # as RequestsTransport does: some callers read `.text()` directly
        return response

    def sleep(self, duration: float) -> None:
        """azure-core's retry policy waits through the transport (backoff, Retry-After):
        recorded, not slept."""
        self.slept.append(duration)

    def _answer(self, request: Any) -> Any:
        url = urlparse(request.url)
        body = json_body(request)
        recorded = Recorded(request.method, url.path, url.query, body, url.netloc)
        self.requests.append(recorded)
        fault = self._fault(request.method, url.path)
        when = getattr(fault, "when", "before")
        if fault is not None and when == "network":
            raise ServiceRequestError(f"{request.method} {url.path}: connection reset (injected)")
        if fault is not None and when == "before":
            return respond(request, fault.status, _error("Fault", "injected"), fault.headers)
        if url.netloc.endswith(".inference.ml.azure.com"):
            answer = self._score(url.netloc.split(".")[0], request, body)
        else:
            path = url.path.removeprefix("/mferp/managementfrontend")
            self._check_contract(recorded, path)
            answer = self._route(request.method, path, parse_qs(url.query), copy.deepcopy(body))
        if fault is not None:  # "after": the change applied, its answer lost to a server error
            return respond(request, fault.status, _error("Fault", "injected after"), fault.headers)
        return respond(request, *answer)

    def _fault(self, method: str, path: str) -> Fault | None:
        """The first armed fault for this request, disarmed by one."""
        for fault in self.faults:
            if (
                fault.times
                and fault.method == method
                and re.search(fault.path_pattern, path, re.IGNORECASE)
            ):
                fault.times -= 1
                return fault
        return None

    # --- routing -----------------------------------------------------------------------
    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Answer:
        if m := re.fullmatch(r"/registrymanagement/v1\.0/registries/([^/]+)/discovery", path):
            return self._registry_discovery(m[1])
        if path == "/discovery":  # the workspace's discoveryUrl
            return 200, {k: API for k in ("api", "history", "experimentation", "catalog")}, {}
        if m := re.fullmatch(_OPERATION, path):
            return self._operation(m["kind"], m["op"])
        if m := re.fullmatch(r"/history/v1\.0" + _WS + r"/runs/(?P<run>[^/]+)/children", path):
            return self._children(m["run"])
        if re.fullmatch(_REG + r"/import", path):
            return self._import(body)
        if re.fullmatch(_WS, path):
            return 200, self._workspace(path), {}
        if re.fullmatch(_WS + r"/codes/[^/]+/versions", path) and "hash" in query:
            return self._code_lookup(path, query["hash"][0])
        if re.fullmatch(_WS + r"/codes/[^/]+/versions/[^/]+/startPendingUpload", path):
            return self._start_pending_upload(path.removesuffix("/startPendingUpload"))
        if re.fullmatch(_WS + r"/codes/[^/]+/versions/[^/]+", path) and method == "PUT":
            return self._put_code(path, body)
        if path.endswith("/listKeys") and method == "POST":
            ok = path.removesuffix("/listKeys").lower() in self.resources
            return (200, self.keys, {}) if ok else _not_found(path)
        if re.search(r"/onlineEndpoints/[^/]+/token$", path) and method == "POST":
            ok = path.removesuffix("/token").lower() in self.resources
            return (200, self.aml_token, {}) if ok else _not_found(path)
        if path.endswith("/getLogs") and method == "POST":
            return self._get_logs(path.removesuffix("/getLogs"), body)
        if re.fullmatch(_WS + r"/jobs", path) and method == "GET":
            return self._list_jobs(path, query)
        if re.fullmatch(_WS + r"/jobs/[^/]+", path) and method in ("GET", "PUT"):
            return self._get_job(path) if method == "GET" else self._put_job(path, body)
        if method == "PUT" and re.fullmatch(_WS + r"/schedules/[^/]+", path):
            return self._put_schedule(path, body)
        if method == "PUT" and re.search(r"/onlineEndpoints/[^/]+/deployments/[^/]+$", path):
            return self._put_deployment(path, body)
        if method == "PUT" and re.search(r"/onlineEndpoints/[^/]+$", path):
            return self._put_endpoint(path, body)
        if method == "PUT":
            created = path.lower() not in self.resources
            return (201 if created else 200), self._store(path, body), {}
        if method == "DELETE":
            return self._delete(path)
        if method == "GET":
            return self._get(path, query)
        return 400, _error("BadRequest", f"{method} {path} is not faked"), {}

    def _get(self, path: str, query: dict[str, list[str]]) -> Answer:
        found = self.resources.get(path.lower())
        if found is not None:
            return 200, found, {}
        if not re.search(r"/(models|onlineEndpoints|deployments|jobs|versions)$", path):
            return _not_found(path)
        prefix = path.lower() + "/"
        items = [r for k, r in self.resources.items() if k.rpartition("/")[0] + "/" == prefix]
        items.sort(key=lambda r: r["systemData"]["createdAt"], reverse=True)
        return 200, {"value": items[: int(query.get("$top", [len(items)])[0])]}, {}

    def _delete(self, path: str) -> Answer:
        if self.resources.pop(path.lower(), None) is None:
            return 204, None, {}
        for key in [k for k in self.resources if k.startswith(path.lower() + "/")]:
            del self.resources[key]
        if m := re.fullmatch(r"(?P<endpoint>.+)/deployments/(?P<name>[^/]+)", path):
            # an endpoint's traffic names only deployments that exist (a deleted one had 0%)
            endpoint = self.resources.get(m["endpoint"].lower())
            if endpoint is not None:
                (endpoint["properties"].get("traffic") or {}).pop(m["name"], None)
        return 202, None, self._new_operation({"status": "Succeeded"})

    def _get_logs(self, deployment: str, body: Any) -> Answer:
        """POST .../deployments/D/getLogs {"containerType"?, "tail"} -> {"content": ...}."""
        if deployment.lower() not in self.resources:
            return _not_found(deployment)
        unknown = set(body or {}) - {"containerType", "tail"}
        kind = (body or {}).get("containerType", "InferenceServer")
        if unknown or kind not in ("InferenceServer", "StorageInitializer"):
            return 400, _error("BadArgument", f"getLogs: {sorted(unknown)}, {kind}"), {}
        name = deployment.rsplit("/", 1)[1]
        lines = self.logs.get(name, f"{name}: inference server listening on 5001").splitlines()
        return 200, {"content": "\n".join(lines[-int(body.get("tail") or len(lines)) :])}, {}

    def _store(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Keep the resource as Azure ML returns it: the body plus id, name, type, systemData."""
        segments = path.strip("/").split("/")
        previous = self.resources.get(path.lower(), {})
        reg = re.fullmatch(_REG + "/(?P<tail>.+)", path)  # registry assets have azureml:// ids
        stored = {
            **copy.deepcopy(body),
            "id": f"azureml://registries/{reg['reg']}/{reg['tail']}" if reg else path,
            "name": segments[-1],
            "type": "/".join([_RP, *segments[7::2]]),
            "systemData": previous.get("systemData") or _system_data(next(self._created)),
        }
        props = stored.setdefault("properties", {})
        if re.search(r"/(versions|models|codes|components)/[^/]+$", path):
            props.setdefault("provisioningState", "Succeeded")
            props.setdefault("isArchived", False)
        self.resources[path.lower()] = stored
        return stored

    # --- workspace, registry discovery, code -------------------------------------------
    def _workspace(self, path: str) -> dict[str, Any]:
        name, storage = path.rsplit("/", 1)[1], path.split("/providers/")[0]
        return {
            "id": path,
            "name": name,
            "type": f"{_RP}/workspaces",
            "location": REGION,
            "kind": "Default",
            "tags": {},
            "identity": {"type": "SystemAssigned", "principalId": str(uuid.UUID(int=7))},
            "sku": {"name": "Basic", "tier": "Basic"},
            "systemData": _system_data(),
            "properties": {
                "friendlyName": name,
                "workspaceId": WORKSPACE_GUID,
                "discoveryUrl": f"{API}/discovery",
                "mlFlowTrackingUri": f"azureml://{REGION}.api.azureml.ms/mlflow/v1.0{path}",
                "storageAccount": f"{storage}/providers/Microsoft.Storage/storageAccounts/st{name}",
                "provisioningState": "Succeeded",
                "publicNetworkAccess": "Disabled",
                "hbiWorkspace": False,
            },
        }

    def _registry_discovery(self, name: str) -> Answer:
        if name in SYSTEM_REGISTRIES:  # Microsoft's own (`azureml`: curated environments)
            subscription, resource_group = SYSTEM_REGISTRIES[name]
            discovery = {
                "registryName": name,
                "tenantId": str(uuid.UUID(int=3)),
                "primaryRegion": REGION,
                "regions": [REGION],
                "subscriptionId": subscription,
                "resourceGroup": resource_group,
                "primaryRegionResourceProviderUri": f"{API}/",
            }
            return 200, discovery, {}
        if name != self.registry:
            return 404, _error("UserError", f"Registry {name} was not found"), {}
        discovery = {
            "registryName": name,
            "tenantId": str(uuid.UUID(int=2)),
            "primaryRegion": REGION,
            "regions": [REGION],
            "subscriptionId": self.subscription,
            "resourceGroup": self.registry_resource_group,
            "primaryRegionResourceProviderUri": f"{API}/",
        }
        return 200, discovery, {}

    def _code_lookup(self, versions: str, snapshot_hash: str) -> Answer:
        """The code versions of the workspace asked with this snapshot hash. Each workspace has
        its own, as in Azure ML, so a snapshot registered in test is not found in prod.

        Without a blob store every snapshot is already registered (uploads would bypass the
        transport); with one, a snapshot not registered yet is not found (an empty list), so
        the SDK uploads it (`_start_pending_upload`) and registers it (`_put_code`)."""
        key = f"{versions.split('/codes/')[0].lower()}|{snapshot_hash}"
        if self.blob_store is not None:
            found = self.resources.get(self.code_hashes.get(key, "-").lower())
            return 200, {"value": [found] if found else []}, {}
        path = self.code_hashes.setdefault(key, f"{versions}/1")
        if path.lower() not in self.resources:
            container = f"azureml-blobstore-{WORKSPACE_GUID}"
            uri = f"https://stws.blob.core.windows.net/{container}/LocalUpload/{snapshot_hash}/src"
            self._store(path, {"properties": {"codeUri": uri, "isAnonymous": True}})
        return 200, {"value": [self.resources[path.lower()]]}, {}

    def _start_pending_upload(self, version: str) -> Answer:
        """POST .../codes/N/versions/V/startPendingUpload: a new container in the workspace's
        storage (the blob store) and a SAS URL the SDK writes it with (PendingUploadResponseDto).
        Azure ML's own SAS URLs are container URLs too: the SDK takes the container from it."""
        if self.blob_store is None:
            return 400, _error("BadRequest", "uploads need AmlFake(blob_store=...)"), {}
        upload = str(uuid.uuid4())
        sas_uri = self.blob_store.create_container(upload)
        storage = self._workspace(version.split("/codes/")[0])["properties"]["storageAccount"]
        reference = {
            "blobUri": f"{self.blob_store.url}/{upload}",
            "storageAccountArmId": storage,
            "credential": {"credentialType": "SAS", "sasUri": sas_uri},
        }
        answer = {
            "blobReferenceForConsumption": reference,
            "pendingUploadId": upload,
            "pendingUploadType": "TemporaryBlobReference",
        }
        return 200, answer, {}

    def _put_code(self, path: str, body: Any) -> Answer:
        """Register a code version; later lookups of its snapshot hash in this workspace find it.
        With a blob store its codeUri must name blobs there (what the SDK uploaded): else 400.
        Assumed, not observed: the words of Azure ML's answer to a codeUri with nothing behind."""
        props = body["properties"]
        uri = props.get("codeUri") or ""
        if self.blob_store is not None and not self.blob_store.read(uri):
            message = f"Code version {path.rsplit('/codes/', 1)[1]}: no blobs found at {uri}"
            return 400, _error("UserError", message), {}
        created = path.lower() not in self.resources
        stored = self._store(path, body)
        if snapshot_hash := (props.get("properties") or {}).get("hash_sha256"):
            self.code_hashes[f"{path.split('/codes/')[0].lower()}|{snapshot_hash}"] = path
        return (201 if created else 200), stored, {}

    # --- models and the registry -------------------------------------------------------
    def _store_model(self, scope: str, name: str, version: str, props: Any) -> dict[str, Any]:
        container = self.resources.get(f"{scope}/models/{name}".lower())
        if container is None:
            container = self._store(f"{scope}/models/{name}", {"properties": {}})
        latest = max(int(container["properties"].get("latestVersion", 0)), int(version))
        container["properties"].update(latestVersion=str(latest), nextVersion=str(latest + 1))
        sub, rg, ws = scope.split("/")[2], scope.split("/")[4], scope.split("/")[-1]
        uri = f"azureml://subscriptions/{sub}/resourcegroups/{rg}/workspaces/{ws}/datastores"
        model = {
            "modelType": "mlflow_model",
            "modelUri": f"{uri}/workspaceartifactstore/paths/{name}/{version}",
            "isAnonymous": False,
            "flavors": {"python_function": {"data": {"loader_module": "mlflow.sklearn"}}},
            "stage": "Development",
            "properties": {},
            "tags": {},
            **props,
        }
        return self._store(f"{scope}/models/{name}/versions/{version}", {"properties": model})

    def _import(self, body: Any) -> Answer:
        """Copy a workspace model version into the registry, as a long-running operation."""
        props = body["properties"]
        source = re.fullmatch(
            r"azureml://locations/[^/]+/workspaces/([^/]+)/models/([^/]+)/versions/([^/]+)",
            props["sourceAssetId"],
        )
        tail = f"/models/{source[2]}/versions/{source[3]}".lower() if source else "-"
        found = [r for k, r in self.resources.items() if "/workspaces/" in k and k.endswith(tail)]
        if not source or source[1] != WORKSPACE_GUID or not found:
            error = _error("UserError", f"Asset {props['sourceAssetId']} not found")["error"]
            return 202, None, self._new_operation({"status": "Failed", "error": error}, host=MFE)
        blocked = self._storage_blocks_registry(found[0]["id"].split("/models/")[0])
        if blocked:
            error = _error("UserError", blocked)["error"]
            return 202, None, self._new_operation({"status": "Failed", "error": error}, host=MFE)
        name, version = props["destinationName"], props["destinationVersion"]
        copied = copy.deepcopy(found[0]["properties"])
        copied["modelUri"] = (
            f"azureml://registries/{self.registry}/models/{name}/versions/{version}"
        )
        self._store_model(self.registry_id, name, version, copied)
        return 202, None, self._new_operation({"status": "Succeeded"}, host=MFE)

    # --- jobs --------------------------------------------------------------------------
    def _put_job(self, path: str, body: Any) -> Answer:
        name, props = path.rsplit("/", 1)[1], body["properties"]
        if path.lower() in self.resources:
            return 409, _error("UserError", f"A job named {name} already exists"), {}
        studio = f"https://ml.azure.com/runs/{name}?wsid={path.split('/jobs/')[0]}"
        props["status"] = "NotStarted"
        props["services"] = {
            "Tracking": {"jobServiceType": "Tracking", "endpoint": f"azureml://{API[8:]}"},
            "Studio": {"jobServiceType": "Studio", "endpoint": studio},
        }
        self.job_polls[name] = 0
        return 201, self._store(path, body), {}

    def _get_job(self, path: str) -> Answer:
        job = self.resources.get(path.lower())
        if job is None:
            return _not_found(path)
        self.job_polls[job["name"]] = self.job_polls.get(job["name"], 0) + 1
        job["properties"]["status"] = self._job_status(job["name"])
        return 200, job, {}

    def _list_jobs(self, path: str, query: dict[str, list[str]]) -> Answer:
        """GET {ws}/jobs as the service filters it (learn.microsoft.com/rest/api/azureml/jobs/
        list): `tag` keeps the jobs that carry that tag key, `listViewType` ActiveOnly (the
        SDK's default) leaves archived ones out, `scheduled`/`scheduleId` (sent by
        `jobs.list(schedule_defined=, scheduled_job_name=)`) keep the jobs a schedule started.
        Newest first, each with its current status; one page (no nextLink)."""
        prefix = path.lower() + "/"
        jobs = [r for k, r in self.resources.items() if k.rpartition("/")[0] + "/" == prefix]
        if tag := query.get("tag", [""])[0]:
            jobs = [j for j in jobs if tag in (j["properties"].get("tags") or {})]
        if query.get("listViewType", ["ActiveOnly"])[0] == "ActiveOnly":
            jobs = [j for j in jobs if not j["properties"].get("isArchived")]
        if query.get("scheduled", [""])[0] == "true":
            wanted = query.get("scheduleId", [None])[0]
            jobs = [
                j
                for j in jobs
                if j["name"] in self.scheduled_jobs
                and wanted in (None, self.scheduled_jobs[j["name"]])
            ]
        jobs.sort(key=lambda r: r["systemData"]["createdAt"], reverse=True)
        return 200, {"value": jobs}, {}

    def _job_status(self, name: str) -> str:
        if name in self.fixed_status:
            return self.fixed_status[name]
        polls, s = self.job_polls.get(name, 0), self.scenario
        if polls <= 1:
            return "NotStarted"
        if polls < s.polls or s.never_finishes:
            return "Running"
        return "Failed" if s.fail_step else "Completed"

    def _children(self, parent: str) -> Answer:
        """The step runs as run history lists them: those started so far, the last current;
        for a run given children by `seed_run`, exactly those."""
        if parent in self.run_children:
            runs = [
                {**_run(parent, name, status, tags), "runId": name, "runUuid": name}
                for name, status, tags in self.run_children[parent]
            ]
            return 200, {"value": runs, "continuationToken": None, "nextLink": None}, {}
        status, s = self._job_status(parent), self.scenario
        stuck = (
            "evaluate" if s.never_finishes and self.job_polls.get(parent, 0) >= s.polls else "prep"
        )
        last, last_status = {
            "NotStarted": ("", ""),
            "Running": (stuck, "Running"),
            "Failed": (s.fail_step or "", "Failed"),
        }.get(status, (STEPS[-1], "Completed"))
        runs = []
        for step in STEPS[: STEPS.index(last) + 1] if last else ():
            step_status = last_status if step == last else "Completed"
            ran = step_status != "Running"  # a step's tags are there once its code has run
            tags = dict(s.step_tags.get(step, {})) if ran else {}
            runs.append(_run(parent, step, step_status, tags))
        return 200, {"value": runs, "continuationToken": None, "nextLink": None}, {}

    # --- schedules ---------------------------------------------------------------------
    def _put_schedule(self, path: str, body: Any) -> Answer:
        """PUT {ws}/schedules/NAME: created (201) or replaced (200) with provisioningState
        Creating/Updating and an Azure-AsyncOperation to follow, as for other ML resources;
        a monitor's deployment and data must exist (the service validates the ids)."""
        props, created = body["properties"], path.lower() not in self.resources
        monitor = (props.get("action") or {}).get("monitorDefinition") or {}
        wanted = [(monitor.get("monitoringTarget") or {}).get("deploymentId")]
        for signal in (monitor.get("signals") or {}).values():
            for key in ("referenceData", "productionData"):
                wanted.append((signal.get(key) or {}).get("uri"))
        for resource in filter(None, wanted):
            if resource.startswith("/subscriptions/") and resource.lower() not in self.resources:
                return 400, _error("UserError", f"{resource} does not exist"), {}
        props["provisioningState"] = "Creating" if created else "Updating"
        props.setdefault("isEnabled", True)
        stored = self._store(path, body)
        return (
            (201 if created else 200),
            stored,
            self._new_operation({"status": "Succeeded"}, stored),
        )

    # --- online endpoints and deployments ----------------------------------------------
    def _put_endpoint(self, path: str, body: Any) -> Answer:
        name, created = path.rsplit("/", 1)[1], path.lower() not in self.resources
        taken = [
            k
            for k in self.resources
            if k.endswith(f"/onlineendpoints/{name.lower()}") and k != path.lower()
        ]
        if created and taken:  # the name is the scoring host: unique in the region
            message = f"Endpoint name {name} is already in use in region {REGION}"
            return 409, _error("Conflict", message), {}
        traffic = body["properties"].get("traffic") or {}
        missing = [d for d in traffic if f"{path}/deployments/{d}".lower() not in self.resources]
        if missing or sum(traffic.values()) not in (0, 100):
            message = f"Traffic {traffic}: deployments {missing} do not exist or total is not 100"
            return 400, _error("BadArgument", message), {}
        host = f"https://{name}.{REGION}.inference.ml.azure.com"
        body["properties"].update(
            provisioningState="Creating" if created else "Updating",
            scoringUri=f"{host}/score",
            swaggerUri=f"{host}/swagger.json",
        )
        body["identity"] = {**body.get("identity", {}), "principalId": str(uuid.UUID(int=9))}
        stored = self._store(path, body)
        return (
            (201 if created else 200),
            stored,
            self._new_operation({"status": "Succeeded"}, stored),
        )

    def _put_deployment(self, path: str, body: Any) -> Answer:
        endpoint, name = path.split("/deployments/")[0], path.rsplit("/", 1)[1]
        if endpoint.lower() not in self.resources:
            return _not_found(endpoint)
        props, created = body["properties"], path.lower() not in self.resources
        probe = {"initialDelay": "PT10S", "period": "PT10S", "timeout": "PT2S"}
        props.setdefault("scaleSettings", {"scaleType": "Default"})  # the SDK dereferences these
        props.setdefault("requestSettings", {"maxConcurrentRequestsPerInstance": 1})
        props.setdefault("livenessProbe", {**probe, "failureThreshold": 30})
        props.setdefault("readinessProbe", {**probe, "failureThreshold": 30})
        if props.get("endpointComputeType") == "Kubernetes":
            requests_, limits = {"cpu": "100m", "memory": "0.5Gi"}, {"cpu": "1", "memory": "2Gi"}
            props.setdefault(
                "containerResourceRequirements",
                {"containerResourceRequests": requests_, "containerResourceLimits": limits},
            )
        props["provisioningState"] = "Creating" if created else "Updating"
        self._collected_data(path, props.get("dataCollector"))
        stored = self._store(path, body)
        error = self.failing_deployments.get(name) or self._missing_model(props.get("model"))
        final: dict[str, Any] = {"status": "Succeeded"}
        if error:
            final = {"status": "Failed", "error": {"code": "DeploymentFailed", "message": error}}
        return (201 if created else 200), stored, self._new_operation(final, stored)

    def _collected_data(self, path: str, collector: dict[str, Any] | None) -> None:
        """A data collector's collections, as the service completes them: each one without a
        `dataId` gets the data asset it registers, `<endpoint>-<deployment>-<collection>`
        (learn.microsoft.com/azure/machine-learning/how-to-collect-production-data: "two data
        assets will be created with names <endpoint_name>-<deployment_name>-model_inputs and
        ...-model_outputs"), a uri_folder under the workspace's blob store, version 1."""
        if not collector:
            return
        workspace, endpoint = path.split("/onlineEndpoints/")[0], path.split("/")[-3]
        deployment = path.rsplit("/", 1)[1]
        for name, collection in (collector.get("collections") or {}).items():
            # the service answers its enum's casing (DataCollectionMode: Enabled, Disabled);
            # the SDK sends lower case and compares with "Enabled" when it reads
            mode = str(collection.get("dataCollectionMode", "disabled")).lower()
            collection["dataCollectionMode"] = "Enabled" if mode == "enabled" else "Disabled"
            if collection.get("dataId"):
                continue
            asset = f"{endpoint}-{deployment}-{name}"
            uri = (
                "azureml://datastores/workspaceblobstore/paths/modelDataCollector/"
                f"{endpoint}/{deployment}/{name}"
            )
            self._store(
                f"{workspace}/data/{asset}/versions/1",
                {"properties": {"dataType": "uri_folder", "dataUri": uri, "isAnonymous": False}},
            )
            collection["dataId"] = f"{workspace}/data/{asset}/versions/1"

    def _missing_model(self, model: str | None) -> str | None:
        m = re.fullmatch(
            r"azureml://registries/([^/]+)/models/([^/]+)/versions/([^/]+)", model or ""
        )
        if m and m[1] == self.registry and self.registry_model(m[2], m[3]) is None:
            return f"Model {model} was not found in registry {m[1]}"
        return None

    def _score(self, endpoint: str, request: Any, body: Any) -> Answer:
        found = [r for k, r in self.resources.items() if k.endswith(f"/onlineendpoints/{endpoint}")]
        if not found:
            return 404, {"message": f"Endpoint {endpoint} not found"}, {}
        if not self._authorized(found[0]["properties"].get("authMode"), request):
            return 401, {"message": "Unauthorized"}, {}
        traffic = found[0]["properties"].get("traffic") or {}
        name = request.headers.get("azureml-model-deployment") or max(
            traffic, key=lambda d: traffic[d], default=""
        )
        if f"{found[0]['id']}/deployments/{name}".lower() not in self.resources:
            return 404, {"message": "No valid deployments to route to."}, {}
        answer = self.scoring.get(name, Scoring())
        if answer.status == 200 and answer.body is None:
            return 200, [0 for _ in (body or {}).get("data", [])], {}
        return answer.status, answer.body, {}

    def _authorized(self, auth_mode: str | None, request: Any) -> bool:
        """The credential the endpoint's auth mode takes, as Azure ML checks it: its key, an
        Azure ML token from POST .../token, or an Entra token for https://ml.azure.com."""
        bearer = (request.headers.get("Authorization") or "").removeprefix("Bearer ")
        mode = (auth_mode or "Key").lower()
        if mode == "key":
            return bearer in (self.keys["primaryKey"], self.keys["secondaryKey"])
        if mode == "amltoken":
            return bearer == self.aml_token["accessToken"]
        return _audience(bearer) == "https://ml.azure.com"

    # --- long-running operations -------------------------------------------------------
    def _new_operation(
        self, final: dict[str, Any], resource: dict[str, Any] | None = None, host: str = ARM
    ) -> dict[str, str]:
        op = uuid.uuid4().hex
        self.operations[op] = {"final": final, "polls": 0, "resource": resource}
        base = f"{host}/subscriptions/{self.subscription}/providers/{_RP}/locations/{REGION}"
        return {
            "Azure-AsyncOperation": f"{base}/mfeOperationsStatus/{op}?api-version=2023-04-01",
            "Location": f"{base}/mfeOperationResults/{op}?api-version=2023-04-01",
        }

    def _operation(self, kind: str, op: str) -> Answer:
        state = self.operations[op]
        if kind == "mfeOperationResults":
            return 200, None, {}
        state["polls"] += 1
        resource = state["resource"] or {}
        if any(re.search(p, resource.get("id", ""), re.I) for p in tuple(self.unfinished)):
            return 200, {"status": "InProgress"}, {}
        if state["polls"] == 1:
            return 200, {"status": "Running"}, {}
        if state["resource"] is not None:
            state["resource"]["properties"]["provisioningState"] = state["final"]["status"]
        return 200, state["final"], {}

    # --- contract ----------------------------------------------------------------------
    def _check_contract(self, recorded: Recorded, path: str) -> None:
        problems: list[str] = []
        body, version = recorded.body, recorded.api_version
        if recorded.method == "POST" and path.endswith("/import"):
            sent = set(body["properties"])
            if set(body) != {"properties"} or not sent <= _IMPORT_KEYS:
                problems.append(f"import body: {sorted(body)}, {sorted(sent - _IMPORT_KEYS)}")
        elif recorded.method == "POST" and path.endswith("/startPendingUpload"):
            problems = _violations(rest.PendingUploadRequestDto, body, "PendingUploadRequestDto")
        elif recorded.method == "PUT":
            contract = next((c for c in _CONTRACTS if re.search(c[0] + "$", path)), None)
            if contract is None:
                problems.append("no REST model known")
            else:
                if contract[1] is rest.Schedule:
                    body, legacy = _legacy_monitor(body)
                    problems.extend(legacy)
                problems = problems + _violations(contract[1], body, contract[1].__name__)
                if version not in contract[2] and "/registries/" not in path:
                    problems.append(f"api-version {version}, shapes taken for {contract[2]}")
        if problems:
            self.contract_errors.extend(f"{recorded.method} {path}: {p}" for p in problems)
            raise AssertionError(f"{recorded.method} {path}: {problems}")


# --- the SDK's REST models, walked ---------------------------------------------------------
_GLOBALS = {**vars(sys.modules[rest.JobBase.__module__]), "_models": rest}


@functools.cache
def _fields(cls: type[RestModel]) -> dict[str, tuple[Any, Any]]:
    """REST name -> (type hint, rest field) of a model class."""
    cls({})  # the model base computes `_attr_to_rest_field` on first instantiation
    hints = typing.get_type_hints(cls, globalns=_GLOBALS)
    return {rf._rest_name: (hints.get(attr), rf) for attr, rf in cls._attr_to_rest_field.items()}


def _violations(cls: type[RestModel], data: Any, where: str) -> list[str]:
    """What in `data` the model does not know, may not be sent (read-only) or lacks."""
    if not isinstance(data, dict):
        return [f"{where}: expected an object, got {type(data).__name__}"]
    cls = type(cls._deserialize(data, []))  # follow discriminators to the concrete class
    fields, out = _fields(cls), []
    for key, value in data.items():
        if key not in fields:
            out.append(f"{where}.{key}: unknown to {cls.__name__}")
        elif fields[key][1]._visibility == ["read"]:
            out.append(f"{where}.{key}: read-only")
        elif value is not None:
            out.extend(_type_violations(fields[key][0], value, f"{where}.{key}"))
    for key, (hint, rf) in fields.items():
        optional = type(None) in typing.get_args(hint) or rf._default is not _UNSET
        if key not in data and not optional and "create" in (rf._visibility or []):
            out.append(f"{where}.{key}: required by {cls.__name__}")
    return out


def _type_violations(hint: Any, value: Any, where: str) -> list[str]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        models = [a for a in args if isinstance(a, type) and issubclass(a, RestModel)]
        return _type_violations(models[0], value, where) if models else []
    if origin is list and isinstance(value, list):
        return [
            e for i, v in enumerate(value) for e in _type_violations(args[0], v, f"{where}[{i}]")
        ]
    if origin is dict and isinstance(value, dict):
        return [e for k, v in value.items() for e in _type_violations(args[1], v, f"{where}.{k}")]
    if isinstance(hint, type) and issubclass(hint, RestModel):
        return _violations(hint, value, where)
    return []


def _legacy_monitor(body: Any) -> tuple[Any, list[str]]:
    """A monitor schedule's body in the shared models' terms. The 2023-06-01-preview wire
    names two things the newer models renamed: a signal's `mode` (MonitoringNotificationMode,
    Disabled or Enabled; now notificationTypes) and the production data window
    `inputDataType: Trailing` (now Rolling, with the same windowSize and windowOffset).
    Anything else must pass the shared models as it is."""
    body, problems = copy.deepcopy(body), []
    monitor = ((body.get("properties") or {}).get("action") or {}).get("monitorDefinition")
    for name, signal in ((monitor or {}).get("signals") or {}).items():
        mode = signal.pop("mode", "Disabled")
        if mode not in ("Disabled", "Enabled"):
            problems.append(f"signal {name}: mode {mode!r}")
        for data in (signal.get("productionData"), signal.get("referenceData")):
            if isinstance(data, dict) and data.get("inputDataType") == "Trailing":
                data["inputDataType"] = "Rolling"
    return body, problems


# --- helpers -------------------------------------------------------------------------------
def _system_data(n: int = 0) -> dict[str, Any]:
    at = f"2026-11-26T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}.000000+00:00"  # n-th made
    return {
        "createdAt": at,
        "createdBy": "fake@contoso.com",
        "createdByType": "User",
        "lastModifiedAt": at,
        "lastModifiedBy": "fake@contoso.com",
        "lastModifiedByType": "User",
    }


def _run(parent: str, step: str, status: str, tags: dict[str, str]) -> dict[str, Any]:
    """A step run as run history returns it (child jobs are no longer served by ARM).

    Assumed, not observed: the step's name is the run's displayName (no node id property).
    """
    run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{parent}/{step}"))
    at = "2026-11-26T00:00:00.000000+00:00"
    return {
        "runId": run_id,
        "runUuid": run_id,
        "parentRunId": parent,
        "rootRunId": parent,
        "experimentId": str(uuid.uuid5(uuid.NAMESPACE_URL, "diagnosis")),
        "displayName": step,
        "name": step,
        "status": status,
        "runType": "azureml.StepRun",
        "createdUtc": at,
        "startTimeUtc": at,
        "endTimeUtc": at if status in ("Completed", "Failed") else None,
        "tags": tags,
        "properties": {},
        "target": "cpu-cluster",
        "error": _error("UserError", f"{step} failed") if status == "Failed" else None,
    }


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": [], "additionalInfo": []}}


def _not_found(path: str) -> Answer:
    body = _error("UserError", f"Resource not found: {path.split('/providers/')[-1]}")
    body["error"]["innerError"] = {"code": "NotFoundError"}
    return 404, body, {}


@contextmanager
def offline(fake: AmlFake, poll_interval: float = 0) -> Iterator[AmlFake]:
    """What `transport=` alone cannot cover, patched for the duration.

    - `models.share` (also data and environment share) and, for a registry model,
      `online_deployments.begin_create_or_update` build registry clients without the MLClient's
      transport (the network, retried for ~5 s when offline): they are routed to the fake;
    - any request still reaching `RequestsTransport` fails the test instead of going out, but
      those to the fake's blob store (Azurite, on 127.0.0.1): they go there and are recorded
      in `fake.blob_requests` (the SDK's uploads and the fake's own reads);
    - deployment LROs poll with `AzureMLPolling` every 5 s whatever `polling_interval` says.
    """
    from azure.ai.ml._utils import _registry_utils
    from azure.ai.ml.constants._common import LROConfigurations
    from azure.ai.ml.operations import _data_operations, _environment_operations, _model_operations

    original = _registry_utils.get_registry_client

    def through_fake(credential: Any, registry_name: str, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("transport", fake)
        kwargs.setdefault("polling_interval", 0)
        kwargs.setdefault("retry_backoff_factor", 0.01)
        return original(credential, registry_name, *args, **kwargs)

    send = RequestsTransport.send

    def no_network(transport: Any, request: Any, **kwargs: Any) -> Any:
        if fake.blob_store is not None and fake.blob_store.holds(request.url):
            url = urlparse(request.url)
            recorded = Recorded(request.method, url.path, url.query, None, url.netloc)
            fake.blob_requests.append(recorded)
            return send(transport, request, **kwargs)  # uploads, to Azurite on 127.0.0.1
        raise AssertionError(f"a request bypassed the fake: {request.method} {request.url}")

    modules = (_registry_utils, _model_operations, _data_operations, _environment_operations)
    with ExitStack() as stack:
        for module in modules:
            stack.enter_context(patch.object(module, "get_registry_client", through_fake))
        stack.enter_context(patch.object(RequestsTransport, "send", no_network))
        stack.enter_context(patch.object(LROConfigurations, "POLL_INTERVAL", poll_interval))
        yield fake


def _audience(token: str) -> str | None:
    """The `aud` claim of a JWT-shaped token (FakeCredential's), None when it is not one."""
    parts = token.split(".")
    if len(parts) < 2:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    return claims.get("aud") if isinstance(claims, dict) else None
