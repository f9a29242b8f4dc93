"""A fake of Azure Resource Manager at the HTTP boundary, for the real SDK clients.

It answers like ARM (resource groups, what-if and deployments as long-running operations,
deployment operations, deployment stacks with their managed resources and deny assignments,
resources read and written by id, role definitions and assignments) and keeps what was
deployed, so a second what-if or listing sees it. Every request is recorded; request bodies
are read back through the SDK's own models, and must not carry fields the models do not know
or that the service sets itself (read-only). Faults can be injected: throttling and 5xx
before a request is handled, a resource that fails once, a principal that Entra has not
replicated yet, an exception (Ctrl-C) while the SDK polls.
"""

from __future__ import annotations

import base64
import io
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import requests
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import HttpTransport, RequestsTransportResponse
from azure.core.rest import HttpRequest as RestHttpRequest
from azure.core.rest._requests_basic import RestRequestsTransportResponse
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters, RoleDefinition
from azure.mgmt.authorization.v2020_10_01.models import (
    RoleEligibilityScheduleRequest,
    RoleManagementPolicy,
)
from azure.mgmt.resource.deployments.models import DeploymentWhatIf
from azure.mgmt.resource.deploymentstacks.models import DeploymentStack, DeploymentStackProperties
from azure.mgmt.resource.resources.models import ResourceGroup

HOST = "https://management.azure.com"


class FakeCredential:
    """A credential whose token looks like a JWT for the scope asked (never a real secret);
    `oid` is the principal's object id, as Entra puts it in the token (deny assignments)."""

    def __init__(self, oid: str | None = None) -> None:
        self.oid = oid

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        audience = scopes[0].removesuffix("/.default") if scopes else ""
        claims = {"aud": audience, **({"oid": self.oid} if self.oid else {})}
        payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode()
        return AccessToken(f"eyJhbGciOiJub25lIn0.{payload.rstrip('=')}.", int(time.time()) + 3600)


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    body: Any


@dataclass
class Fault:
    method: str
    path_pattern: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    #: raised instead of answering (e.g. KeyboardInterrupt: Ctrl-C while the SDK polls)
    exception: BaseException | None = None


_RG = r"/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)"
_AUTH = r"(?P<scope>.*)/providers/Microsoft\.Authorization/"
#: built-in role ids are the same in every tenant; these are the ones the platform assigns
BUILTIN_ROLE_IDS = frozenset(
    {
        "b24988ac-6180-42a0-ab88-20f7382dd24c",  # Contributor
        "acdd72a7-3385-48ef-bd42-f606fba81ae7",  # Reader
        "f58310d9-a9f6-439a-9e8d-f62e7b41a168",  # Role Based Access Control Administrator
        "e503ece1-11d0-4e8e-8e2c-7a6c3bf38815",  # AzureML Compute Operator
        "1823dd4f-9b8c-4ab6-ab4e-7397a3684615",  # AzureML Registry User
        "ba92f5b4-2d11-453d-a403-e96b0029c9fe",  # Storage Blob Data Contributor
        "f6c7c914-8db3-469d-8ca1-694a8f32e121",  # AzureML Data Scientist
        "4abbcc35-e782-43d8-92c5-2d3f1bd2253f",  # Azure Kubernetes Service Cluster User Role
        "7f6c6a51-bcf8-42ba-9220-52d62157d7db",  # Azure Kubernetes Service RBAC Reader
        "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb",  # Azure Kubernetes Service RBAC Writer
    }
)
_DEPLOYMENT = _RG + r"(?:/providers/Microsoft\.Resources)?/deployments/(?P<name>[^/]+)"
_REMEDIATION = _RG + r"/providers/Microsoft\.PolicyInsights/remediations/(?P<name>[^/]+)"


class FakeTransport(HttpTransport):
    """An in-process transport: nothing to open or close; subclasses answer in `send`."""

    def __enter__(self) -> FakeTransport:
        return self

    def __exit__(self, *_: Any) -> None:
        pass

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass


class FakeArm(FakeTransport):
    """Injected as `transport=`: every SDK request lands in `send`."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.resource_groups: dict[str, dict[str, Any]] = {}
        # (rg, type lower, name lower) -> the resource as deployed
        self.resources: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.faults: list[Fault] = []
        self.fail_once: dict[str, str] = {}  # resource name -> error message
        self.operations: dict[str, dict[str, Any]] = {}  # async operation id -> state
        self.deployment_operations: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.role_definitions: dict[str, dict[str, Any]] = {}  # guid -> definition
        self.role_assignments: dict[str, dict[str, Any]] = {}  # id lower -> assignment
        # PIM: eligibility requests by id lower; each (scope, role)'s default policy by id lower
        self.eligibility_requests: dict[str, dict[str, Any]] = {}
        self.pim_policies: dict[str, dict[str, Any]] = {}
        self.replicating: dict[str, int] = {}  # principal id -> PrincipalNotFound answers left
        # (rg lower, stack name) -> the deployment stack as GET returns it
        self.stacks: dict[tuple[str, str], dict[str, Any]] = {}
        # (rg, type lower, name lower) -> deny mode, excluded principals and actions, stack,
        # per resource
        self.denied: dict[tuple[str, str, str], dict[str, Any]] = {}
        # rg lower -> remediation name -> the remediation task as GET returns it
        self.remediations: dict[str, dict[str, dict[str, Any]]] = {}
        self.principal: str | None = None  # the caller of the request being answered
        #: called with (method, path) before each request is answered (another run, say)
        self.on_request: Any = None
        # what-if answers beside the plain difference, switched on per test, as ARM gives them:
        # Azure fills in properties the template does not set (reported as deleted, or as
        # NoEffect), so an unchanged resource comes back as Modify
        self.noisy = False
        self.unsupported: dict[str, str] = {}  # resource name -> unsupportedReason
        self.potential: set[str] = set()  # resource names listed in potentialChanges
        self.what_if_diagnostics: list[dict[str, Any]] = []  # as ARM sends them

    # --- what tests look at ------------------------------------------------------------
    def writes(self) -> list[Recorded]:
        return [
            r
            for r in self.requests
            if r.method in ("PUT", "POST", "PATCH", "DELETE")
            and not r.path.lower().endswith("/whatif")
        ]

    # --- HttpTransport -----------------------------------------------------------------
    def send(self, request: Any, **_: Any) -> Any:
        url = urlparse(request.url)
        body = json_body(request)
        self.requests.append(Recorded(request.method, url.path, url.query, body))
        if self.on_request is not None:
            self.on_request(request.method, url.path)
        for fault in self.faults:
            if (
                fault.times
                and fault.method == request.method
                and re.search(fault.path_pattern, url.path, re.IGNORECASE)
            ):
                fault.times -= 1
                if fault.exception is not None:
                    raise fault.exception
                return respond(request, fault.status, {"error": {"code": "Fault"}}, fault.headers)
        self.principal = _principal(request)
        status, payload, headers = self._route(request.method, url.path, body)
        return respond(request, status, payload, headers)

    # --- ARM ---------------------------------------------------------------------------
    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        if m := re.fullmatch(_AUTH + r"roleDefinitions/(?P<id>[^/]+)", path, re.IGNORECASE):
            return self._role_definition(method, m["scope"], m["id"], body)
        if m := re.fullmatch(_AUTH + r"roleAssignments", path, re.IGNORECASE):
            scope = m["scope"].lower()
            found = [
                a
                for a in self.role_assignments.values()
                if _related(a["properties"]["scope"].lower(), scope)
            ]
            return 200, {"value": found}, {}
        if m := re.fullmatch(_AUTH + r"roleAssignments/(?P<name>[^/]+)", path, re.IGNORECASE):
            return self._role_assignment(method, m["scope"], m["name"], body)
        if m := re.fullmatch(
            _AUTH + r"roleEligibilityScheduleRequests/(?P<name>[^/]+)", path, re.IGNORECASE
        ):
            return self._eligibility_request(method, m["scope"], m["name"], body)
        if m := re.fullmatch(_AUTH + r"roleManagementPolicyAssignments", path, re.IGNORECASE):
            return 200, {"value": self._policy_assignments(m["scope"])}, {}
        if m := re.fullmatch(
            _AUTH + r"roleManagementPolicies/(?P<name>[^/]+)", path, re.IGNORECASE
        ):
            return self._pim_policy(method, path, body)
        if m := re.fullmatch(r"/operations/(?P<id>[^/]+)", path):
            return self._operation(m["id"])
        if m := re.fullmatch(_STACK, path, re.IGNORECASE):
            return self._stack(method, m["sub"], m["rg"], m["name"], body)
        if m := re.fullmatch(_DEPLOYMENT + r"/operations", path, re.IGNORECASE):
            ops = self.deployment_operations.get((m["rg"].lower(), m["name"]), [])
            return 200, {"value": ops}, {}
        if m := re.fullmatch(_DEPLOYMENT + r"/whatIf", path, re.IGNORECASE):
            assert method == "POST"
            return self._what_if(m["rg"], body)
        if re.fullmatch(_DEPLOYMENT, path, re.IGNORECASE):
            raise AssertionError(f"{method} {path}: mlops applies deployment stacks only")
        if m := re.fullmatch(_RG, path, re.IGNORECASE):
            rg = m["rg"].lower()
            if method == "HEAD":
                return (204 if rg in self.resource_groups else 404), None, {}
            if method == "PUT":
                model = ResourceGroup(body)
                assert model.location, "a resource group needs a location"
                created = rg not in self.resource_groups
                self.resource_groups[rg] = {
                    "id": path,
                    "name": m["rg"],
                    "location": model.location,
                    "tags": model.tags or {},
                    "properties": {"provisioningState": "Succeeded"},
                }
                return (201 if created else 200), self.resource_groups[rg], {}
        if m := re.fullmatch(_REMEDIATION, path, re.IGNORECASE):
            from tests.infra.policy_fake import remediation

            return remediation(self, method, m["rg"], m["name"], body)
        if m := re.fullmatch(_RG + r"/providers/(?P<rest>.+)", path, re.IGNORECASE):
            return self._generic(method, m["rg"], path, body)
        return 404, {"error": {"code": "NotFound", "message": f"{method} {path}"}}, {}

    def hold(self, resource_group: str, template: dict[str, Any]) -> None:
        """The resource group and the template's resources as a finished deployment leaves
        them (a platform provisioned earlier), without a request."""
        rg = resource_group.lower()
        self.resource_groups.setdefault(
            rg,
            {
                "id": f"/subscriptions/sub/resourceGroups/{resource_group}",
                "name": resource_group,
                "location": "westeurope",
                "tags": {},
                "properties": {"provisioningState": "Succeeded"},
            },
        )
        for resource in _evaluated(template):
            key = (rg, resource["type"].lower(), resource["name"].lower())
            self.resources[key] = json.loads(json.dumps(resource))

    def _what_if(self, rg: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        model = DeploymentWhatIf(body)
        assert model.properties.mode == "Incremental"
        template = model.properties.template
        assert template["$schema"].endswith("deploymentTemplate.json#")
        if rg.lower() not in self.resource_groups:
            return 404, {"error": {"code": "ResourceGroupNotFound", "message": rg}}, {}
        changes = []
        potential = []
        declared = set()
        for resource in _evaluated(template):
            key = (rg.lower(), resource["type"].lower(), resource["name"].lower())
            declared.add(key)
            rid = _resource_id(rg, resource)
            before = self.resources.get(key)
            if before is not None and self.noisy:
                before = _as_azure_returns(before)
            if resource["name"] in self.potential:
                potential.append({"resourceId": rid, "changeType": "Modify", "after": resource})
            if resource["name"] in self.unsupported:
                reason = self.unsupported[resource["name"]]
                changes.append(
                    {"resourceId": rid, "changeType": "Unsupported", "unsupportedReason": reason}
                )
            elif before is None:
                changes.append({"resourceId": rid, "changeType": "Create", "after": resource})
            elif _canonical(before) == _canonical(resource):
                changes.append({"resourceId": rid, "changeType": "NoChange", "before": before})
            else:
                changes.append(
                    {
                        "resourceId": rid,
                        "changeType": "Modify",
                        "before": before,
                        "after": resource,
                        "delta": _delta(before, resource, ""),
                    }
                )
        for key, resource in self.resources.items():
            if key[0] == rg.lower() and key not in declared:
                changes.append({"resourceId": _resource_id(rg, resource), "changeType": "Ignore"})
        properties: dict[str, Any] = {"changes": changes}
        if potential:
            properties["potentialChanges"] = potential
        if self.what_if_diagnostics:
            properties["diagnostics"] = self.what_if_diagnostics
        op = self._new_operation({"status": "Succeeded", "properties": properties})
        return 202, None, {"Location": f"{HOST}/operations/{op}"}

    def _new_operation(self, final: dict[str, Any], running_first: bool = False) -> str:
        op = uuid.uuid4().hex
        self.operations[op] = {"final": final, "polls": 0 if running_first else 1}
        return op

    def _operation(self, op: str) -> tuple[int, Any, dict[str, str]]:
        state = self.operations[op]
        state["polls"] += 1
        if state["polls"] == 1:
            return 200, {"status": "Running"}, {}
        if state.get("then") is not None:
            state.pop("then")()
        return 200, state["final"], {}

    # --- Microsoft.Resources/deploymentStacks ------------------------------------------
    def _stack(
        self, method: str, sub: str, rg: str, name: str, body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        key = (rg.lower(), name)
        if method == "GET":
            if key not in self.stacks:
                return 404, _error("DeploymentStackNotFound", f"{name} not found"), {}
            return 200, self.stacks[key], {}
        assert method == "PUT", method
        if rg.lower() not in self.resource_groups:
            return 404, _error("ResourceGroupNotFound", rg), {}
        model = _strict_stack(body)
        props = model.properties
        action = props.action_on_unmanage.resources
        assert action in ("detach", "delete"), action
        deny = props.deny_settings
        assert deny.mode in ("none", "denyDelete", "denyWriteAndDelete"), deny.mode
        excluded = list(deny.excluded_principals or [])
        if len(excluded) > 5:
            message = "Up to 5 principals are permitted in excludedPrincipals."
            return 400, _error("DeploymentStackInvalidDenySettings", message), {}
        previous = self.stacks.get(key)
        before = {
            r["id"].lower(): r["id"]
            for r in (previous or {}).get("properties", {}).get("resources", [])
        }
        deployment = f"{name}-{uuid.uuid4().hex[:8]}"
        ops, managed, failed = [], [], None
        for resource in _evaluated(props.template):
            rid = _resource_id(rg, resource)
            op = {
                "id": f"{_DEPLOY_PREFIX(sub, rg, deployment)}/operations/{uuid.uuid4().hex}",
                "operationId": uuid.uuid4().hex,
                "properties": {
                    "provisioningOperation": "Create",
                    "provisioningState": "Succeeded",
                    "targetResource": {
                        "id": rid,
                        "resourceType": resource["type"],
                        "resourceName": resource["name"],
                    },
                },
            }
            message = self.fail_once.pop(resource["name"], None)
            if message is not None:
                op["properties"]["provisioningState"] = "Failed"
                op["properties"]["statusMessage"] = {
                    "status": "Failed",
                    "error": {"code": "BadRequest", "message": message},
                }
                ops.append(op)
                failed = (rid, message)
                break
            self.resources[_key(rg, resource)] = json.loads(json.dumps(resource))
            managed.append(rid)
            ops.append(op)
        self.deployment_operations[(rg.lower(), deployment)] = ops
        detached, deleted = [], []
        if failed is None:  # a failed update releases nothing
            kept = {rid.lower() for rid in managed}
            for lowered, rid in before.items():
                if lowered in kept:
                    continue
                rkey = _key_of(rg, rid)
                self.denied.pop(rkey, None)
                if action == "delete":
                    self.resources.pop(rkey, None)
                    deleted.append({"id": rid})
                else:
                    detached.append({"id": rid})
        else:
            managed += [rid for lowered, rid in before.items() if rid not in managed]
        for rid in managed:
            self.denied[_key_of(rg, rid)] = {
                "mode": deny.mode,
                "excluded": set(excluded),
                "actions": list(deny.excluded_actions or []),
                "stack": name,
            }
        now = _clock()
        stack = {
            "id": f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Resources"
            f"/deploymentStacks/{name}",
            "name": name,
            "type": "Microsoft.Resources/deploymentStacks",
            "systemData": {
                "createdAt": (previous or {}).get("systemData", {}).get("createdAt", now),
                "lastModifiedAt": now,
            },
            "properties": {
                "actionOnUnmanage": body["properties"]["actionOnUnmanage"],
                "denySettings": body["properties"]["denySettings"],
                "provisioningState": "deploying",
                "correlationId": str(uuid.uuid4()),
                "deploymentId": f"/subscriptions/{sub}/resourceGroups/{rg}/providers"
                f"/Microsoft.Resources/deployments/{deployment}",
                "resources": [
                    {"id": rid, "status": "managed", "denyStatus": deny.mode} for rid in managed
                ],
                "detachedResources": detached,
                "deletedResources": deleted,
                "failedResources": [],
            },
        }
        self.stacks[key] = stack
        final: dict[str, Any] = {"status": "Failed" if failed else "Succeeded"}
        error = None
        if failed:
            error = {
                "code": "DeploymentStackDeploymentFailed",
                "message": "One or more resources could not be deployed.",
            }
            final["error"] = error

        def settle() -> None:
            stack["properties"]["provisioningState"] = "failed" if failed else "succeeded"
            if failed:
                stack["properties"]["error"] = error
                stack["properties"]["failedResources"] = [
                    {"id": failed[0], "error": {"code": "BadRequest", "message": failed[1]}}
                ]

        op_id = self._new_operation(final, running_first=True)
        self.operations[op_id]["then"] = settle
        return 201, stack, {"Azure-AsyncOperation": f"{HOST}/operations/{op_id}"}

    def start_elsewhere(self, rg: str, name: str) -> dict[str, Any]:
        """Another run's update of a stack, still deploying (it never ends by itself)."""
        stack = self.stacks[(rg.lower(), name)]
        stack["properties"]["provisioningState"] = "deploying"
        stack["properties"]["correlationId"] = str(uuid.uuid4())
        stack["systemData"]["lastModifiedAt"] = _clock()
        return stack

    def _generic(
        self, method: str, rg: str, path: str, body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        """A resource read or written by id (the generic resources API, as a hand edit)."""
        rtype, name = _type_and_name(path)
        key = (rg.lower(), rtype.lower(), name.lower())
        existing = self.resources.get(key)
        if method == "GET":
            if existing is None:
                return 404, _error("ResourceNotFound", path), {}
            return 200, existing, {}
        assert method in ("PUT", "PATCH", "DELETE"), method
        verb = "delete" if method == "DELETE" else "write"
        # a deny assignment covers its resource and, read conservatively (Microsoft does not
        # say either way), the extension resources at it: a diagnostic setting at
        # <resource>/providers/Microsoft.Insights/... (mlops.plan.stacks.EXCLUDED_ACTIONS)
        parent = path[: path.lower().rfind("/providers/")]
        deny = self.denied.get(key) or (
            self.denied.get(_key_of(rg, parent)) if parent.lower().count("/providers/") else None
        )
        blocked = deny is not None and (
            deny["mode"] == "denyWriteAndDelete"
            or (deny["mode"] == "denyDelete" and method == "DELETE")
        )
        if blocked and _excluded_action(f"{rtype}/{verb}", deny.get("actions", [])):
            blocked = False
        if blocked and self.principal not in deny["excluded"]:
            message = (
                f"The client with object id '{self.principal}' has permission to perform action"
                f" '{rtype}/{verb}' on scope '{path}'; however, the access is denied because of"
                f" the deny assignment of deployment stack '{deny['stack']}'."
            )
            return 403, _error("DenyAssignmentAuthorizationFailed", message), {}
        if method == "DELETE":
            self.resources.pop(key, None)
            return (200 if existing else 204), None, {}
        stored = {**(existing or {}), **(body or {}), "type": rtype, "name": name}
        self.resources[key] = stored
        return (200 if existing else 201), stored, {}

    # --- Microsoft.Authorization -------------------------------------------------------
    def _role_definition(
        self, method: str, scope: str, guid: str, body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if method == "GET":
            found = self.role_definitions.get(guid.lower())
            if found is None:
                message = f"The specified role definition with ID '{guid}' does not exist."
                return 404, _error("RoleDefinitionDoesNotExist", message), {}
            return 200, found, {}
        assert method == "PUT", method
        assert re.fullmatch(r"/subscriptions/[^/]+", scope), f"custom roles at {scope}"
        model = _strict(RoleDefinition, body)
        assert model.role_type == "CustomRole"
        assert model.assignable_scopes, "a custom role needs assignable scopes"
        for s in model.assignable_scopes:
            assert re.fullmatch(r"/subscriptions/[^/{}]+/resourceGroups/[^/{}]+", s), s
        for other, existing in self.role_definitions.items():
            if other != guid.lower() and existing["properties"]["roleName"] == model.role_name:
                return 409, _error("RoleDefinitionWithSameNameExists", model.role_name), {}
        stored = {
            "id": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
            "name": guid,
            "type": "Microsoft.Authorization/roleDefinitions",
            "properties": {**json.loads(json.dumps(body["properties"])), "createdOn": _NOW},
        }
        self.role_definitions[guid.lower()] = stored
        return 201, stored, {}  # the REST spec defines 201 only, for updates too

    def _role_assignment(
        self, method: str, scope: str, name: str, body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        rid = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"
        existing = self.role_assignments.get(rid.lower())
        if method == "GET":
            if existing is None:
                return 404, _error("RoleAssignmentNotFound", rid), {}
            return 200, existing, {}
        if method == "DELETE":
            if existing is None:
                return 204, None, {}
            return 200, self.role_assignments.pop(rid.lower()), {}
        assert method == "PUT", method
        model = _strict(RoleAssignmentCreateParameters, body)
        assert model.principal_type in ("User", "Group", "ServicePrincipal"), model.principal_type
        uuid.UUID(name)  # role-assignment names are GUIDs
        if self.replicating.get(model.principal_id, 0) > 0:
            self.replicating[model.principal_id] -= 1
            message = (
                f"Principal {model.principal_id.replace('-', '')} does not exist in the"
                " directory. If you are creating this principal and then immediately"
                " assigning a role, this error might be related to a replication delay."
            )
            return 400, _error("PrincipalNotFound", message), {}
        role = model.role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()
        custom = self.role_definitions.get(role)
        if role not in BUILTIN_ROLE_IDS and custom is None:
            return 400, _error("RoleDefinitionDoesNotExist", model.role_definition_id), {}
        if custom is not None:
            allowed = [s.lower() for s in custom["properties"]["assignableScopes"]]
            here = scope.lower()
            if not any(here == a or here.startswith(a + "/") for a in allowed):
                return 403, _error("AuthorizationFailed", f"{scope} not assignable"), {}
        for other in self.role_assignments.values():
            props = other["properties"]
            same = (
                props["scope"].lower() == scope.lower()
                and props["principalId"] == model.principal_id
                and props["roleDefinitionId"].rsplit("/", 1)[-1].lower() == role
            )
            if same and other["id"].lower() != rid.lower():
                return (
                    409,
                    _error("RoleAssignmentExists", "The role assignment already exists."),
                    {},
                )
        if existing is not None:
            props = existing["properties"]
            if props["principalId"] != model.principal_id or props["roleDefinitionId"] != (
                model.role_definition_id
            ):
                return 400, _error("RoleAssignmentUpdateNotPermitted", rid), {}
        stored = {
            "id": rid,
            "name": name,
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {**body["properties"], "scope": scope, "createdOn": _NOW},
        }
        self.role_assignments[rid.lower()] = stored
        return (200 if existing else 201), stored, {}

    # --- Privileged Identity Management (2020-10-01) ------------------------------------
    def _eligibility_request(
        self, method: str, scope: str, name: str, body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        rid = f"{scope}/providers/Microsoft.Authorization/roleEligibilityScheduleRequests/{name}"
        existing = self.eligibility_requests.get(rid.lower())
        if method == "GET":
            if existing is None:
                return 404, _error("RoleEligibilityScheduleRequestNotFound", rid), {}
            return 200, existing, {}
        assert method == "PUT", method
        model = _strict(RoleEligibilityScheduleRequest, body)
        assert model.request_type == "AdminAssign", model.request_type
        uuid.UUID(name)  # request names are GUIDs
        role = model.role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()
        if role not in BUILTIN_ROLE_IDS and role not in self.role_definitions:
            return 400, _error("RoleDefinitionDoesNotExist", model.role_definition_id), {}
        expiration = model.schedule_info.expiration
        assert expiration.type == "AfterDuration" and expiration.duration, expiration
        stored = {
            "id": rid,
            "name": name,
            "type": "Microsoft.Authorization/roleEligibilityScheduleRequests",
            "properties": {
                **json.loads(json.dumps(body["properties"])),
                "scope": scope,
                "status": "Provisioned",
                "createdOn": _NOW,
            },
        }
        self.eligibility_requests[rid.lower()] = stored
        return 201, stored, {}

    def _policy_for(self, scope: str, role: str) -> dict[str, Any]:
        """The default PIM policy Azure keeps for each role at each scope."""
        name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scope.lower()}|{role}"))
        pid = f"{scope}/providers/Microsoft.Authorization/roleManagementPolicies/{name}"
        return self.pim_policies.setdefault(
            pid.lower(),
            {
                "id": pid,
                "name": name,
                "type": "Microsoft.Authorization/RoleManagementPolicies",
                "properties": {
                    "scope": scope,
                    "rules": [
                        {
                            "id": "Expiration_EndUser_Assignment",
                            "ruleType": "RoleManagementPolicyExpirationRule",
                            "isExpirationRequired": True,
                            "maximumDuration": "PT8H",
                            "target": {
                                "caller": "EndUser",
                                "operations": ["All"],
                                "level": "Assignment",
                            },
                        }
                    ],
                },
            },
        )

    def _policy_assignments(self, scope: str) -> list[dict[str, Any]]:
        sub = scope.split("/")[2]
        out = []
        for role in sorted(BUILTIN_ROLE_IDS | set(self.role_definitions)):
            policy = self._policy_for(scope, role)
            out.append(
                {
                    "id": f"{policy['id']}Assignment",
                    "name": policy["name"],
                    "type": "Microsoft.Authorization/roleManagementPolicyAssignment",
                    "properties": {
                        "scope": scope,
                        "roleDefinitionId": f"/subscriptions/{sub}/providers/"
                        f"Microsoft.Authorization/roleDefinitions/{role}",
                        "policyId": policy["id"],
                    },
                }
            )
        return out

    def _pim_policy(self, method: str, path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        found = self.pim_policies.get(path.lower())
        if found is None:
            return 404, _error("RoleManagementPolicyNotFound", path), {}
        if method == "GET":
            return 200, found, {}
        assert method == "PATCH", method
        _strict(RoleManagementPolicy, body)
        rules = {r["id"]: r for r in found["properties"]["rules"]}
        for rule in body["properties"]["rules"]:
            assert rule["id"] in rules, f"PIM has no rule {rule['id']}"
            rules[rule["id"]] = {**rules[rule["id"]], **rule}
        found["properties"]["rules"] = list(rules.values())
        return 200, found, {}

    def add_assignment(
        self, scope: str, role_id: str, principal_id: str, principal_type: str, **extra: Any
    ) -> str:
        """An assignment made outside mlops (by hand in the portal, or by Azure itself)."""
        name = str(uuid.uuid4())
        rid = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"
        sub = scope.split("/")[2]
        self.role_assignments[rid.lower()] = {
            "id": rid,
            "name": name,
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {
                "scope": scope,
                "roleDefinitionId": f"/subscriptions/{sub}/providers/Microsoft.Authorization"
                f"/roleDefinitions/{role_id}",
                "principalId": principal_id,
                "principalType": principal_type,
                **extra,
            },
        }
        return rid


_NOW = "2026-11-26T00:00:00.0000000Z"


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _excluded_action(action: str, excluded: list[str]) -> bool:
    """Whether a deny assignment's excluded actions (NotActions, '*' a wildcard) hold it."""
    return any(
        re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), action, re.IGNORECASE)
        for pattern in excluded
    )


def _related(a: str, b: str) -> bool:
    """Whether one scope is the other or an ancestor of it (assignments listed both ways)."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def _strict(model: Any, body: Any) -> Any:
    """The body as the SDK model, refusing fields the model lacks or the service sets."""
    attribute_map = model._attribute_map
    readonly = {attribute_map[k]["key"] for k, v in model._validation.items() if v.get("readonly")}
    known = {v["key"] for v in attribute_map.values()} - readonly
    sent = {f"properties.{k}" for k in body.get("properties", {})}
    sent |= {k for k in body if k != "properties"}
    assert sent <= known, f"{model.__name__}: not sendable: {sorted(sent - known)}"
    return model.deserialize(body)


def _DEPLOY_PREFIX(sub: str, rg: str, name: str) -> str:
    deployments = "providers/Microsoft.Resources/deployments"
    return f"/subscriptions/{sub}/resourceGroups/{rg}/{deployments}/{name}"


_STACK = _RG + r"/providers/Microsoft\.Resources/deploymentStacks/(?P<name>[^/]+)"


def _strict_stack(body: Any) -> Any:
    """The body as the SDK's DeploymentStack, refusing fields it lacks or ARM sets itself."""
    model = DeploymentStack(body)
    for cls, sent in ((DeploymentStack, body), (DeploymentStackProperties, body["properties"])):
        fields = cls._attr_to_rest_field.values()  # filled in by the instance above
        sendable = {f._rest_name for f in fields if {"create", "update"} & set(f._visibility)}
        assert set(sent) <= sendable, f"{cls.__name__}: not sendable: {set(sent) - sendable}"
    return model


def _principal(request: Any) -> str | None:
    """The object id in the bearer token (None when the token carries none)."""
    auth = request.headers.get("Authorization", "")
    try:
        payload = auth.removeprefix("Bearer ").split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    return claims.get("oid")


def _type_and_name(resource_id: str) -> tuple[str, str]:
    parts = resource_id.strip("/").split("/")
    start = len(parts) - 1 - [p.lower() for p in parts][::-1].index("providers")
    namespace, rest = parts[start + 1], parts[start + 2 :]
    return "/".join([namespace, *rest[0::2]]), "/".join(rest[1::2])


def _key(rg: str, resource: dict[str, Any]) -> tuple[str, str, str]:
    return (rg.lower(), resource["type"].lower(), resource["name"].lower())


def _key_of(rg: str, resource_id: str) -> tuple[str, str, str]:
    rtype, name = _type_and_name(resource_id)
    return (rg.lower(), rtype.lower(), name.lower())


def _clock() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime())


def _resource_id(rg: str, resource: dict[str, Any]) -> str:
    rtype, names = resource["type"].split("/"), resource["name"].split("/")
    segments = [rtype[0], rtype[1], names[0]]
    for t, n in zip(rtype[2:], names[1:], strict=True):
        segments += [t, n]
    return f"/subscriptions/sub/resourceGroups/{rg}/providers/" + "/".join(segments)


def _evaluated(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The resources with `[variables('x')]` values replaced, as ARM evaluates them."""
    variables = template.get("variables", {})

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            m = re.fullmatch(r"\[variables\('([^']+)'\)\]", value)
            return walk(variables[m[1]]) if m else value
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return [walk(r) for r in template["resources"]]


def _canonical(resource: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in resource.items() if k != "dependsOn"}, sort_keys=True)


#: what Azure fills in on the resource types the platform deploys, as a GET returns it (the
#: what-if noise that mlops.plan.noise cites): type -> function adding it to a copy
_FILLED_IN = {
    "microsoft.operationalinsights/workspaces": lambda r: r.setdefault("properties", {}).update(
        {
            "createdDate": "2026-11-26T00:00:00.0000000Z",
            "features": {"legacy": 0, "searchVersion": 1},
        }
    ),
    "microsoft.network/virtualnetworks": lambda r: [
        subnet.setdefault("type", "Microsoft.Network/virtualNetworks/subnets")
        for subnet in r.get("properties", {}).get("subnets", [])
    ],
}
#: properties what-if reports as NoEffect rather than deleted (Azure paths)
_NO_EFFECT = re.compile(r"properties\.subnets\[\d+\]\.type")


def _as_azure_returns(resource: dict[str, Any]) -> dict[str, Any]:
    copy = json.loads(json.dumps(resource))
    fill = _FILLED_IN.get(resource["type"].lower())
    if fill is not None:
        fill(copy)
    return copy


def _delta(before: Any, after: Any, path: str, full: str | None = None) -> list[dict[str, Any]]:
    """Property differences as what-if reports them: dotted paths into objects, and for a
    list an Array entry whose children carry the index ("0") as their path. `full` is the
    Azure path (`properties.subnets[0].type`) for the NoEffect properties."""
    full = path if full is None else full
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after)):
            if key == "dependsOn":
                continue
            sub = f"{path}.{key}" if path else key
            whole = f"{full}.{key}" if full else key
            if key not in before:
                out.append({"path": sub, "propertyChangeType": "Create", "after": after[key]})
            elif key not in after:
                kind = "NoEffect" if _NO_EFFECT.fullmatch(whole) else "Delete"
                out.append({"path": sub, "propertyChangeType": kind, "before": before[key]})
            elif before[key] != after[key]:
                out.extend(_delta(before[key], after[key], sub, whole))
        return out
    if isinstance(before, list) and isinstance(after, list):
        children: list[dict[str, Any]] = []
        for i in range(max(len(before), len(after))):
            if i >= len(before):
                children.append({"path": str(i), "propertyChangeType": "Create", "after": after[i]})
            elif i >= len(after):
                children.append(
                    {"path": str(i), "propertyChangeType": "Delete", "before": before[i]}
                )
            elif isinstance(before[i], dict) and isinstance(after[i], dict):
                if before[i] != after[i]:
                    nested = _delta(before[i], after[i], "", f"{full}[{i}]")
                    children.append(
                        {"path": str(i), "propertyChangeType": "Modify", "children": nested}
                    )
            elif before[i] != after[i]:
                children.append(
                    {
                        "path": str(i),
                        "propertyChangeType": "Modify",
                        "before": before[i],
                        "after": after[i],
                    }
                )
        return (
            [{"path": path, "propertyChangeType": "Array", "children": children}]
            if children
            else []
        )
    return [{"path": path, "propertyChangeType": "Modify", "before": before, "after": after}]


def json_body(request: Any) -> Any:
    """A request's JSON body, whatever kind of azure-core request carries it."""
    content = getattr(request, "content", None)
    if content is None:
        content = getattr(request, "data", None) or getattr(request, "body", None)
    if not content:
        return None
    if isinstance(content, bytes | bytearray):
        content = content.decode()
    return json.loads(content) if isinstance(content, str) else content


def respond(request: Any, status: int, payload: Any, headers: dict[str, str]) -> Any:
    """The response class the request's kind expects (azure.core.rest or the legacy one)."""
    response = requests.Response()
    response.status_code = status
    response.headers.update({"Content-Type": "application/json", **headers})
    response.raw = io.BytesIO(json.dumps(payload).encode() if payload is not None else b"")
    response.url = request.url
    response.request = requests.Request(request.method, request.url).prepare()
    if isinstance(request, RestHttpRequest):
        return RestRequestsTransportResponse(request=request, internal_response=response)
    return RequestsTransportResponse(request, response)
