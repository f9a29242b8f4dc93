"""What the commands that reach Azure share: signed-in clients and progress lines for logs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from mlops.cli import _output

if TYPE_CHECKING:
    from mlops.backends.azure.clients import AzureClients
    from mlops.cli._options import Session
    from mlops.config import LoadedConfig


def signed_in_clients(loaded: LoadedConfig) -> AzureClients:
    """SDK clients with DefaultAzureCredential; exit 1 with a hint when not signed in."""
    from mlops.backends.azure.clients import default_clients, require_signed_in

    clients = default_clients(loaded.config.azure.tenant_id)
    require_signed_in(clients)
    return clients


def progress(current: Session, width: int = 12) -> Callable[[str, str], None]:
    """One timestamped line per event on stderr (pipeline logs); nothing with --output json."""
    err = _output.stderr()

    def on_event(event: str, detail: str) -> None:
        if not current.json:
            err.print(f"  [{time.strftime('%H:%M:%S')}] {event:<{width}} {detail}", highlight=False)

    return on_event
