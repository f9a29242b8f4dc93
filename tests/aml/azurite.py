"""Azurite, Microsoft's storage emulator, run as the blob service where the SDK's uploads land.

Uploads bypass the fake's transport: azure-storage-blob builds its own client from the SAS URL
that `startPendingUpload` hands out. With a `BlobStore` the fake hands out SAS URLs into Azurite,
so the SDK's real upload code runs and the fake can read back what it wrote.

Azurite comes from npm (it needs Node): `.ci/run` installs it into `.ci/node`; locally run
`npm install --no-save --prefix .ci/node azurite@3`. The process is started on a free port on
127.0.0.1, in memory, with telemetry off, and stopped by its pid.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).parents[2]
ACCOUNT = "devstoreaccount1"  # Azurite's account; its key is made up per run (AZURITE_ACCOUNTS)
INSTALL = "npm install --no-save --prefix .ci/node azurite@3"
_LISTENING = re.compile(r"successfully listens on (http://127\.0\.0\.1:\d+)")


class AzuriteMissing(RuntimeError):
    """Node or the azurite package is not installed: the message says how to install it."""


@dataclass(frozen=True)
class BlobStore:
    """A blob service account (Azurite's), reached path-style: {endpoint}/{account}/{container}."""

    endpoint: str  # http://127.0.0.1:PORT
    key: str
    account: str = ACCOUNT

    @property
    def url(self) -> str:
        return f"{self.endpoint}/{self.account}"

    def holds(self, url: str) -> bool:
        """Whether `url` points into this account (requests to it may leave the process)."""
        return url.startswith(self.url + "/") or url == self.url

    def create_container(self, name: str) -> str:
        """Create container `name`; return a URL to it with a SAS that lets a client without
        the key read, write and list it (as `startPendingUpload` hands out)."""
        from azure.storage.blob import ContainerSasPermissions, generate_container_sas

        self._service().create_container(name)
        sas = generate_container_sas(
            self.account,
            name,
            account_key=self.key,
            permission=ContainerSasPermissions(read=True, write=True, list=True, add=True),
            expiry=datetime.now(UTC) + timedelta(hours=1),
        )
        return f"{self.url}/{name}?{sas}"

    def read(self, folder_url: str) -> dict[str, bytes]:
        """The blobs under a folder URL of this account ({url}/{container}/{path}), by name
        relative to the folder; {} when there are none or the URL points elsewhere."""
        from azure.core.exceptions import ResourceNotFoundError

        if not self.holds(folder_url):
            return {}
        container, _, folder = folder_url.removeprefix(self.url + "/").partition("/")
        prefix = folder.strip("/") + "/" if folder.strip("/") else ""
        client = self._service().get_container_client(container)
        try:
            names = [b.name for b in client.list_blobs(name_starts_with=prefix)]
        except ResourceNotFoundError:
            return {}
        return {n.removeprefix(prefix): client.download_blob(n).readall() for n in names}

    def _service(self) -> Any:  # a BlobServiceClient (azure.storage.blob imported lazily)
        from azure.storage.blob import BlobServiceClient

        credential = {"account_name": self.account, "account_key": self.key}
        return BlobServiceClient(self.url, credential=credential)


def executable() -> list[str]:
    """The command that starts Azurite's blob service, or AzuriteMissing saying how to get it."""
    node = shutil.which("node")
    script = REPO / ".ci/node/node_modules/azurite/dist/src/blob/main.js"
    if node is None:
        raise AzuriteMissing(
            "Node.js is not installed: the code upload tests run Azurite, an npm package."
            f" Install Node 20 (apt-get install nodejs npm), then run `{INSTALL}` in {REPO}."
        )
    if not script.is_file():
        raise AzuriteMissing(
            f"Azurite is not installed in {script.parents[4]}: run `{INSTALL}` in {REPO}"
            " (.ci/run does it before the tests)."
        )
    return [node, str(script)]


@contextmanager
def running(folder: Path, timeout_s: float = 15) -> Iterator[BlobStore]:
    """Azurite's blob service on a free port of 127.0.0.1 for the duration; its output in
    `folder/azurite.log` (shown when it fails to start)."""
    key = base64.b64encode(uuid.uuid4().bytes * 4).decode()
    log_path = folder / "azurite.log"
    args = [  # in memory: nothing written but the log
        *executable(),
        *("--blobHost", "127.0.0.1", "--blobPort", "0"),  # 0: the system picks a free port
        "--inMemoryPersistence",
        "--disableTelemetry",  # it would call home otherwise
        "--skipApiVersionCheck",  # azure-storage-blob may speak a newer x-ms-version
        "--loose",
        "--silent",
    ]
    env = {**os.environ, "AZURITE_ACCOUNTS": f"{ACCOUNT}:{key}"}
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    try:
        yield BlobStore(_wait_until_listening(process, log_path, timeout_s), key)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_listening(process: subprocess.Popen, log_path: Path, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        output = log_path.read_text(encoding="utf-8", errors="replace")
        if found := _LISTENING.search(output):
            return found[1]
        if process.poll() is not None:
            raise RuntimeError(f"Azurite exited with {process.returncode}:\n{output}")
        time.sleep(0.05)
    raise RuntimeError(f"Azurite did not listen within {timeout_s} s:\n{output}")
