"""Registered data assets in an Azure ML workspace, through the real `azure-ai-ml` SDK.

Only what retraining needs: the versions of one asset with when each was registered, as plain
records (no SDK entity leaves this module).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops.backends.azure.aml import _call

if TYPE_CHECKING:
    from azure.ai.ml import MLClient


@dataclass(frozen=True)
class DataVersion:
    """One version of a data asset: `created_ms` is when it was registered (epoch ms)."""

    name: str
    version: str
    created_ms: int
    reference: str  # azureml:NAME:VERSION, what a pipeline input names it by


def data_versions(ml: MLClient, name: str) -> list[DataVersion]:
    """Every active version of `name`, newest first ([] when the workspace has no such asset).

    Newest is most recently *created*, Azure ML's own meaning of `latest` ("the most recently
    created, not the most recently updated": `DataOperations._get_latest_version` in
    azure-ai-ml); archived versions are left out as `az ml data list` leaves them out."""
    from azure.core.exceptions import ResourceNotFoundError

    def read() -> list[DataVersion]:
        try:
            found = list(ml.data.list(name=name))
        except ResourceNotFoundError:
            return []
        versions = []
        for data in found:
            created = getattr(data.creation_context, "created_at", None)
            versions.append(
                DataVersion(
                    name=name,
                    version=str(data.version),
                    created_ms=int(created.timestamp() * 1000) if created else 0,
                    reference=f"azureml:{name}:{data.version}",
                )
            )
        return sorted(versions, key=lambda v: v.created_ms, reverse=True)

    return _call(read, f"listing versions of data asset {name}")
