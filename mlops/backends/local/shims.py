"""Copies of mlops' own stdlib-only programs, as packages an environment without mlops can
import: put the returned folder on PYTHONPATH and it adds that one package, nothing else of
the CLI's environment.

- `mlops_local_server`: the inference server's entry point and gunicorn settings;
- `mlops_local_drivers`: the `drivers` package (parallel steps, distributed launches).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

SERVER_PACKAGE = "mlops_local_server"
DRIVERS_PACKAGE = "mlops_local_drivers"
_HERE = Path(__file__).parent


def write_server(folder: Path) -> Path:
    return _write(
        folder,
        SERVER_PACKAGE,
        {
            "__init__.py": '"""Written by mlops: the local inference server\'s entry point."""\n',
            "_inference_server.py": (_HERE / "_inference_server.py").read_text("utf-8"),
            "_front_end.py": (_HERE / "_front_end.py").read_text("utf-8"),
        },
    )


def write_drivers(folder: Path) -> Path:
    drivers = _HERE / "drivers"
    return _write(
        folder,
        DRIVERS_PACKAGE,
        {p.name: p.read_text("utf-8") for p in sorted(drivers.glob("*.py"))},
    )


def _write(folder: Path, package: str, files: dict[str, str]) -> Path:
    """Write `files` into `folder/package`; each rewritten only when its content changed,
    atomically, so processes writing it at once never see half a file."""
    target_dir = folder / package
    target_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        target = target_dir / name
        with contextlib.suppress(OSError):
            if target.read_text("utf-8") == text:
                continue
        tmp = target_dir / f".{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        tmp.write_text(text, "utf-8")
        tmp.replace(target)
    return folder
