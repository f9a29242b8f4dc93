"""Environments of pipeline steps: what a component declares, built once with uv, cached.

`resolve` (pure) turns a component's `environment:` into an `EnvSpec`; `builder.ensure`
builds it into the shared cache and returns the `bin` folder to put first on a step's PATH.
"""

from __future__ import annotations

from mlops.environments.spec import ENV_MODES, EnvMode, EnvSpec, from_requirements, resolve

__all__ = ["ENV_MODES", "EnvMode", "EnvSpec", "from_requirements", "resolve"]
