"""Step reuse records under `.mlops/cache/`: a successful step's outputs, by reuse key."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class CachedStep:
    run_id: str
    step: str
    outputs: dict[str, str]
    mlflow_run_id: str | None = None


class StepCache:
    def __init__(self, state_dir: Path) -> None:
        self.folder = state_dir / "cache" / "steps"

    def get(self, key: str) -> CachedStep | None:
        """The record for `key`, or None when absent or when its outputs were deleted."""
        path = self.folder / f"{key}.json"
        try:
            record = CachedStep(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None
        if not all(Path(p).exists() for p in record.outputs.values()):
            return None
        return record

    def put(self, key: str, record: CachedStep) -> None:
        """Write atomically, so a crash never leaves a half-written record."""
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(json.dumps(asdict(record), indent=2), encoding="utf-8")
        tmp.replace(self.folder / f"{key}.json")
