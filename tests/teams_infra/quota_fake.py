"""A fake of Azure ML's location-level quota API at the HTTP boundary, beside the ARM fake.

It answers as the REST reference documents (learn.microsoft.com/rest/api/azureml/
virtual-machine-sizes/list, /quotas/list, /quotas/update): `GET .../locations/{loc}/vmSizes`
lists sizes with their `family`; `GET .../quotas` lists a quota per workspace and VM family
for the workspaces the ARM fake holds (no limit set: the subscription's); `POST
.../updateQuotas` answers each quota with a `status`: Success, or
InvalidQuotaExceedsSubscriptionLimit above the family's subscription limit, or
InvalidVMFamilyName for an unknown family. Request bodies are read back through the SDK's
own QuotaUpdateParameters model (azure-ai-ml's ARM client): an unknown field fails the test.
"""

from __future__ import annotations

import re
import warnings
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.infra.arm_fake import FakeArm, FakeTransport, json_body, respond

_LOCATION = (
    r"/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.MachineLearningServices"
    r"/locations/(?P<loc>[^/]+)/(?P<what>vmSizes|quotas|updateQuotas)"
)
#: a few sizes as Azure ML names their families
SIZES = {
    "Standard_DS3_v2": ("standardDSv2Family", 4),
    "Standard_DS4_v2": ("standardDSv2Family", 8),
    "Standard_NC6s_v3": ("standardNCSv3Family", 6),
}
SUBSCRIPTION_LIMIT = 100


class FakeAzure(FakeTransport):
    """The ARM fake, with Azure ML's quota API in front of it."""

    def __init__(self) -> None:
        self.arm = FakeArm()
        self.limits: dict[str, int] = {}  # workspace quota id (lowercase) -> limit set
        self.updates: list[Any] = []
        self.contract_errors: list[str] = []

    def send(self, request: Any, **kwargs: Any) -> Any:
        url = urlparse(request.url)
        m = re.fullmatch(_LOCATION, url.path, re.IGNORECASE)
        if m is None:
            return self.arm.send(request, **kwargs)
        version = parse_qs(url.query).get("api-version", [None])[0]
        if version is None:
            return respond(request, 400, {"error": {"code": "MissingApiVersion"}}, {})
        if m["what"] == "vmSizes" and request.method == "GET":
            sizes = [{"name": n, "family": f, "vCPUs": c} for n, (f, c) in SIZES.items()]
            return respond(request, 200, {"value": sizes}, {})
        if m["what"] == "quotas" and request.method == "GET":
            return respond(request, 200, {"value": self._listed(m["sub"])}, {})
        if m["what"] == "updateQuotas" and request.method == "POST":
            return respond(request, 200, self._update(json_body(request)), {})
        return respond(request, 405, {"error": {"code": "MethodNotAllowed"}}, {})

    def _workspaces(self, sub: str) -> list[tuple[str, str]]:
        return [
            (rg, name)
            for (rg, kind, name) in self.arm.resources
            if kind == "microsoft.machinelearningservices/workspaces"
        ]

    def _listed(self, sub: str) -> list[dict[str, Any]]:
        out = []
        for rg, workspace in self._workspaces(sub):
            for family in sorted({f for f, _ in SIZES.values()}):
                quota_id = (
                    f"/subscriptions/{sub}/resourceGroups/{rg}/providers/"
                    f"Microsoft.MachineLearningServices/workspaces/{workspace}/quotas/{family}"
                )
                out.append(
                    {
                        "id": quota_id,
                        "type": "Microsoft.MachineLearningServices/workspaces/quotas",
                        "name": {"value": family},
                        "limit": self.limits.get(quota_id.lower(), SUBSCRIPTION_LIMIT),
                        "unit": "Count",
                    }
                )
        return out

    def _update(self, body: Any) -> dict[str, Any]:
        with warnings.catch_warnings():  # azure.ai.ml's marshmallow schemas warn on import
            warnings.simplefilter("ignore")
            from azure.ai.ml._restclient.arm_ml_service.models import (
                QuotaBaseProperties,
                QuotaUpdateParameters,
            )

        self.updates.append(body)
        wire, item_wire = (
            {f._rest_name for f in type(m())._attr_to_rest_field.values()}
            for m in (QuotaUpdateParameters, QuotaBaseProperties)
        )
        if set(body) - wire:
            self.contract_errors.append(f"not sendable: {sorted(set(body) - wire)}")
        out = []
        for item in body.get("value") or []:
            if set(item) - item_wire:
                self.contract_errors.append(f"not sendable: {sorted(set(item) - item_wire)}")
            family = str(item.get("id", "")).rsplit("/", 1)[-1]
            if family not in {f for f, _ in SIZES.values()}:
                status = "InvalidVMFamilyName"
            elif int(item.get("limit", 0)) > SUBSCRIPTION_LIMIT:
                status = "InvalidQuotaExceedsSubscriptionLimit"
            else:
                status = "Success"
                self.limits[str(item["id"]).lower()] = int(item["limit"])
            out.append({**item, "status": status})
        return {"value": out}
