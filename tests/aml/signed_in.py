"""The `mlops` CLI signed in against the fake of Azure ML, through the same doors as on a
workstation: DefaultAzureCredential asks the Azure CLI for a token (a fake `az` on PATH,
the only credential allowed by `AZURE_TOKEN_CREDENTIALS`), and the SDK's default transport
(`RequestsTransport`, which `offline` closes) hands every request to the fake."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest.mock import patch

from azure.core.pipeline.transport import RequestsTransport

from tests.aml.aml_fake import AmlFake
from tests.conftest import CliResult, run_cli

#: `az account get-access-token --output json --resource R`: a JWT-shaped token for R
_SIGNED_IN = """\
import base64, json, sys, time
resource = sys.argv[sys.argv.index("--resource") + 1]
part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
token = ".".join([part({"alg": "none"}), part({"aud": resource, "tid": "t"}), "sig"])
print(json.dumps({"accessToken": token, "expires_on": int(time.time()) + 3600}))
"""
_SIGNED_OUT = """\
import sys
sys.stderr.write("ERROR: Please run 'az login' to setup account.\\n")
sys.exit(1)
"""


def az_env(folder: Path, *, signed_in: bool = True) -> dict[str, str]:
    """Environment for `run_cli`: a fake `az` first on PATH, and DefaultAzureCredential
    limited to it (no managed identity probe, no environment secrets)."""
    bin_dir = folder / "fake-az-bin"
    bin_dir.mkdir(exist_ok=True)
    az = bin_dir / "az"
    az.write_text(
        f"#!{sys.executable}\n" + (_SIGNED_IN if signed_in else _SIGNED_OUT), encoding="utf-8"
    )
    az.chmod(az.stat().st_mode | stat.S_IXUSR)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "AZURE_TOKEN_CREDENTIALS": "AzureCliCredential",
    }


@contextmanager
def default_transport_to(fake: AmlFake) -> Iterator[AmlFake]:
    """The SDK's default transport answers from `fake` (inside `offline(fake)`), its
    retry waits recorded instead of slept."""

    def send(_: RequestsTransport, request: Any, **kwargs: Any) -> Any:
        return fake.send(request, **kwargs)

    def sleep(_: RequestsTransport, duration: float) -> None:
        fake.sleep(duration)

    with (
        patch.object(RequestsTransport, "send", send),
        patch.object(RequestsTransport, "sleep", sleep),
    ):
        yield fake


def run_cli_signed_in(fake: AmlFake, folder: Path, *args: str, signed_in: bool = True) -> CliResult:
    """`mlops ARGS` as a signed-in user (or, `signed_in=False`, one who is not) would run it,
    with Azure ML answered by `fake`; `folder` holds the fake `az`."""
    with default_transport_to(fake):
        return run_cli(*args, env=az_env(folder, signed_in=signed_in))
