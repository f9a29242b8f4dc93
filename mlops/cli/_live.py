"""Live progress of a pipeline run on stderr: a table in a terminal, one line per change in logs."""

from __future__ import annotations

import threading
import time
from typing import Any

from mlops.cli import _output

_STYLE = {
    "waiting": "dim",
    "running": "cyan",
    "completed": "green",
    "reused": "blue",
    "failed": "red",
    "skipped": "yellow",
    "canceled": "yellow",
}


class LiveView:
    def __init__(self, steps: list[str], *, stream_logs: bool) -> None:
        self.steps = steps
        self.state = dict.fromkeys(steps, "waiting")
        self.started: dict[str, float] = {}
        self.duration: dict[str, float] = {}
        self.notes: dict[str, str] = {}  # a running step's latest progress (a sweep's trials)
        self.stream_logs = stream_logs
        self.console = _output.stderr()
        self._live: Any = None
        self._lock = threading.Lock()

    def __enter__(self) -> LiveView:
        if self.console.is_terminal:
            from rich.live import Live

            self._live = Live(
                get_renderable=self._table, console=self.console, refresh_per_second=8
            )
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop redrawing; idempotent (the view also closes itself when every step ended)."""
        if self._live is not None:
            live, self._live = self._live, None
            live.stop()

    def on_event(self, event: Any) -> None:
        with self._lock:
            self.state[event.step] = event.state
            if event.state == "running":
                self.started[event.step] = time.perf_counter()
            elif event.result is not None:
                self.duration[event.step] = event.result.duration
        if self._live is None:
            self._print_event(event)
        elif all(state not in ("waiting", "running") for state in self.state.values()):
            self.close()

    def on_line(self, step: str, line: str) -> None:
        from rich.markup import escape

        self.console.print(f"[dim]{escape(step)} |[/dim] {escape(line)}")

    def on_note(self, step: str, line: str) -> None:
        """A step's progress: the latest beside the step in a terminal, else a line of its own."""
        if self._live is None:
            self.on_line(step, line)
            return
        with self._lock:
            self.notes[step] = line

    def _print_event(self, event: Any) -> None:
        from rich.markup import escape

        style = _STYLE.get(event.state, "")
        took = f" ({self.duration[event.step]:.1f}s)" if event.step in self.duration else ""
        reason = f": {event.result.reason}" if event.result and event.result.reason else ""
        self.console.print(
            f"[{style}]{event.state:>9}[/{style}] {escape(event.step)}{took}{escape(reason)}"
        )

    def _table(self) -> Any:
        from rich.markup import escape
        from rich.table import Table

        table = Table(box=None, show_header=False, pad_edge=False)
        with self._lock:
            for step in self.steps:
                state = self.state[step]
                if state == "running":
                    seconds = time.perf_counter() - self.started[step]
                elif step in self.duration:
                    seconds = self.duration[step]
                else:
                    seconds = None
                took = f"{seconds:6.1f}s" if seconds is not None else ""
                style = _STYLE.get(state, "")
                note = self.notes.get(step, "") if state == "running" else ""
                table.add_row(f"[{style}]{state:>9}[/{style}]", step, took, escape(note))
        return table
