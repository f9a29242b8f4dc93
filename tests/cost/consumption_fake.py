"""A fake of the Azure budgets API (Microsoft.Consumption/budgets) at the HTTP boundary, for
the real `azure-mgmt-consumption` client injected with `transport=`.

It answers GET and PUT `{scope}/providers/Microsoft.Consumption/budgets/{name}` as the
service documents them (learn.microsoft.com/rest/api/consumption/budgets/get and
/create-or-update): 404 for an unknown budget, 201 on create and 200 on update with the
budget, its `eTag` and Azure's read-only `currentSpend`; a PUT with a stale `eTag` is refused
(412). Request bodies are read back through the SDK's own models: a field the model lacks or
that the service sets (read-only) fails the test, and so do the service's documented rules:
a start date on the first of a month, at most five notifications, thresholds above 0 and up
to 1000, and a contact email (or group) on a subscription or resource group budget.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

from azure.mgmt.consumption import models

from tests.infra.arm_fake import FakeTransport, Fault, json_body, respond

_BUDGET = (
    r"(?P<scope>/subscriptions/[^/]+(?:/resourceGroups/[^/]+)?)"
    r"/providers/Microsoft\.Consumption/budgets/(?P<name>[^/]+)"
)
API_VERSION = "2024-08-01"


@dataclass
class Recorded:
    method: str
    path: str
    api_version: str | None
    body: Any


class FakeBudgets(FakeTransport):
    """Injected as `transport=` into ConsumptionManagementClient."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.budgets: dict[str, dict[str, Any]] = {}  # id lower -> budget as GET returns it
        self.faults: list[Fault] = []
        self.contract_errors: list[str] = []
        self._etags = 0

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "GET"]

    def change_in_portal(self, budget_id: str, **properties: Any) -> None:
        """Someone edits the budget in the portal: its properties change and so does its eTag."""
        budget = self.budgets[budget_id.lower()]
        budget["properties"].update(copy.deepcopy(properties))
        budget["eTag"] = self._next_etag()

    def send(self, request: Any, **_: Any) -> Any:
        url = urlparse(request.url)
        body = json_body(request)
        version = parse_qs(url.query).get("api-version", [None])[0]
        self.requests.append(Recorded(request.method, url.path, version, body))
        for fault in self.faults:
            if (
                fault.times
                and fault.method == request.method
                and re.search(fault.path_pattern, url.path)
            ):
                fault.times -= 1
                return respond(request, fault.status, _error("Fault", "injected"), fault.headers)
        m = re.fullmatch(_BUDGET, url.path, re.IGNORECASE)
        if m is None or version != API_VERSION:
            return respond(
                request, 400, _error("BadRequest", f"not faked: {url.path} {version}"), {}
            )
        if request.method == "GET":
            found = self.budgets.get(url.path.lower())
            if found is None:
                return respond(
                    request, 404, _error("NotFound", f"Budget {m['name']} not found"), {}
                )
            return respond(request, 200, found, {})
        if request.method == "PUT":
            return respond(request, *self._put(url.path, m["scope"], m["name"], body))
        return respond(request, 405, _error("MethodNotAllowed", request.method), {})

    def _put(self, path: str, scope: str, name: str, body: Any) -> tuple[int, Any, dict]:
        problems = _contract(body) + _rules(scope, body)
        if problems:
            self.contract_errors += problems
            return 400, _error("BadRequest", "; ".join(problems)), {}
        existing = self.budgets.get(path.lower())
        if existing is not None and body.get("eTag") not in (None, existing["eTag"]):
            message = "The eTag does not match the budget's: it changed since it was read"
            return 412, _error("PreconditionFailed", message), {}
        stored = {
            "id": path,
            "name": name,
            "type": "Microsoft.Consumption/budgets",
            "eTag": self._next_etag(),
            "properties": {
                **copy.deepcopy(body["properties"]),
                "currentSpend": {"amount": 0.0, "unit": "EUR"},
            },
        }
        self.budgets[path.lower()] = stored
        return (201 if existing is None else 200), stored, {}

    def _next_etag(self) -> str:
        self._etags += 1
        return f'"{self._etags:016x}"'


def _writable(model: type) -> set[str]:
    fields = type(model())._attr_to_rest_field  # wire names and visibility (set on first use)
    return {f._rest_name for f in fields.values() if "create" in (f._visibility or ["create"])}


def _contract(body: Any) -> list[str]:
    """What the SDK's Budget model would not send: unknown or read-only fields."""
    out = []
    extra = set(body) - {"properties", "eTag"}
    props = body.get("properties") or {}
    extra |= {f"properties.{k}" for k in set(props) - _writable(models.BudgetProperties)}
    for key, note in (props.get("notifications") or {}).items():
        extra |= {f"notifications.{key}.{k}" for k in set(note) - _writable(models.Notification)}
    if extra:
        out.append(f"not sendable: {sorted(extra)}")
    for field in ("category", "amount", "timeGrain", "timePeriod"):
        if field not in props:
            out.append(f"properties.{field} is required")
    return out


def _rules(scope: str, body: Any) -> list[str]:
    props = body.get("properties") or {}
    out = []
    start = str((props.get("timePeriod") or {}).get("startDate", ""))
    if not re.fullmatch(r"\d{4}-\d{2}-01T00:00:00(?:\.0+)?Z?", start):
        out.append(f"timePeriod.startDate {start!r}: the start date must be first of the month")
    notes = props.get("notifications") or {}
    if len(notes) > 5:
        out.append("a budget can have up to five notifications")
    for key, note in notes.items():
        if not 0 < float(note.get("threshold", 0)) <= 1000:
            out.append(f"notifications.{key}.threshold must be above 0 and at most 1000")
        if not note.get("contactEmails") and not note.get("contactGroups"):
            out.append(f"notifications.{key}: at least one contact email or contact group")
    return out


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
