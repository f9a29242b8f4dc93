"""mlops.yaml: the typed model, its loader and its JSON Schema. Imports no SDK, typer or rich."""

from mlops.config.loader import (
    CONFIG_FILE,
    LoadedConfig,
    display_path,
    find_config,
    load_config,
)
from mlops.config.root import Config

__all__ = [
    "CONFIG_FILE",
    "Config",
    "LoadedConfig",
    "display_path",
    "find_config",
    "load_config",
]
