"""Azure ML use cases, one module each: the environments' workspaces and the registry
(`workspaces`), continuous training (`training`), models and promotion (`models`), and
blue/green deployment (`release`). The CLI calls them through this package."""

from mlops.services.azure_ml.models import Promotion, models, promote, show
from mlops.services.azure_ml.release import Deployed, Release, deploy, dry_run
from mlops.services.azure_ml.training import AzureRun, run
from mlops.services.azure_ml.workspaces import (
    PROMOTED,
    OnEvent,
    Workspace,
    environment,
    registry,
    workspace,
)

__all__ = [
    "PROMOTED",
    "AzureRun",
    "Deployed",
    "OnEvent",
    "Promotion",
    "Release",
    "Workspace",
    "deploy",
    "dry_run",
    "environment",
    "models",
    "promote",
    "registry",
    "run",
    "show",
    "workspace",
]
