"""An online endpoint's tags through the real `azure-ai-ml` SDK: where off-hours sleep records
what the endpoint served, so waking it serves the same model again."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops.backends.azure.aml import TRAFFIC_UPDATE_TIMEOUT, _call, _finish

if TYPE_CHECKING:
    from azure.ai.ml import MLClient


def endpoint_tags(ml: MLClient, endpoint: str) -> dict[str, str] | None:
    """The endpoint's tags, or None when there is no such endpoint."""
    from azure.core.exceptions import ResourceNotFoundError

    def read() -> dict[str, str] | None:
        try:
            found = ml.online_endpoints.get(endpoint)
        except ResourceNotFoundError:
            return None
        return {str(k): str(v) for k, v in (found.tags or {}).items()}

    return _call(read, f"reading endpoint {endpoint}")


def set_endpoint_tags(ml: MLClient, endpoint: str, tags: dict[str, str | None]) -> None:
    """Set (a value) or remove (None) tags on the endpoint, keeping its other settings."""
    what = f"tagging endpoint {endpoint}"

    def update() -> None:
        found = ml.online_endpoints.get(endpoint)
        merged = dict(found.tags or {})
        for key, value in tags.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        found.tags = merged
        _finish(ml.online_endpoints.begin_create_or_update(found), TRAFFIC_UPDATE_TIMEOUT, what)

    _call(update, what)
