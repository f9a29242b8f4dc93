"""Gunicorn settings for the local endpoint: what Azure's front end does before the server.

On Azure ML, requests reach azureml-inference-server-http through Azure's own front end,
which refuses bodies over its size limit and does not let a client that never finishes its
body hold a worker. Locally nothing stands in front of the server, so this gunicorn
configuration module (loaded with `--config python:mlops.backends.local._front_end`, the
server and its app unchanged) does the same:

- threaded workers (`gthread`), so a few slow clients cannot take every worker;
- every request body is read in full before the app sees it, within MLOPS_BODY_TIMEOUT
  seconds (408 otherwise) and MLOPS_MAX_REQUEST_BYTES bytes (413 otherwise); broken
  chunked framing is 400;
- a JSON body that the server's own parser would crash on (answering 500) is 400 instead:
  not UTF-8, nested deeper than the interpreter recurses, an integer with more digits than
  Python converts. Any other body reaches the server untouched, so its answers stay its own.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

# gunicorn settings, read by gunicorn from this module
worker_class = "gthread"
threads = int(os.environ.get("MLOPS_SERVER_THREADS", "16"))
graceful_timeout = 10

DEFAULT_BODY_TIMEOUT = 10.0
_CHUNK = 64 * 1024


def post_worker_init(worker: Any) -> None:
    """gunicorn hook: put the front end around the app the worker has just loaded."""
    worker.wsgi = FrontEnd(
        worker.wsgi,
        max_bytes=int(os.environ.get("MLOPS_MAX_REQUEST_BYTES", "1500000")),
        body_timeout=float(os.environ.get("MLOPS_BODY_TIMEOUT", DEFAULT_BODY_TIMEOUT)),
    )


class _Refused(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class FrontEnd:
    """WSGI middleware: a complete, bounded, parseable body or a 4xx answer."""

    def __init__(self, app: Callable, *, max_bytes: int, body_timeout: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.body_timeout = body_timeout

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in ("POST", "PUT", "PATCH"):
            return self.app(environ, start_response)
        try:
            body = self._read_body(environ)
            if "json" in environ.get("CONTENT_TYPE", "").lower():
                _check_json(body)
        except _Refused as refused:
            body_bytes = json.dumps({"message": refused.message}).encode()
            start_response(
                refused.status,
                [
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(body_bytes))),
                    ("Connection", "close"),  # whatever of the body is unread stays unread
                ],
            )
            return [body_bytes]
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        declared = environ.get("CONTENT_LENGTH") or ""
        if declared.isdigit() and int(declared) > self.max_bytes:
            self._drain(environ, int(declared))
            raise _Refused("413 Payload Too Large", self._too_large())
        sock: socket.socket | None = environ.get("gunicorn.socket")
        previous = sock.gettimeout() if sock is not None else None
        deadline = time.monotonic() + self.body_timeout
        stream = environ["wsgi.input"]
        parts, size = [], 0
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                if sock is not None:
                    sock.settimeout(left)
                part = stream.read(_CHUNK)
                if not part:
                    break
                size += len(part)
                if size > self.max_bytes:
                    raise _Refused("413 Payload Too Large", self._too_large())
                parts.append(part)
        except TimeoutError:
            raise _Refused(
                "408 Request Timeout",
                f"the request body did not arrive within {self.body_timeout:g} s",
            ) from None
        except _Refused:
            raise
        except Exception as exc:  # gunicorn's parse errors: bad chunk sizes, short bodies...
            raise _Refused(
                "400 Bad Request", f"the request body is malformed: {type(exc).__name__}"
            ) from None
        finally:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.settimeout(previous)
        return b"".join(parts)

    def _drain(self, environ: dict[str, Any], declared: int) -> None:
        """Read what fits in a short while, so the client reads our 413 rather than a reset."""
        if declared > 8 * self.max_bytes:
            return
        sock: socket.socket | None = environ.get("gunicorn.socket")
        deadline = time.monotonic() + min(self.body_timeout, 2.0)
        try:
            while time.monotonic() < deadline:
                if sock is not None:
                    sock.settimeout(max(deadline - time.monotonic(), 0.01))
                if not environ["wsgi.input"].read(_CHUNK):
                    return
        except Exception:
            return

    def _too_large(self) -> str:
        return (
            f"the request body is over {self.max_bytes} bytes"
            " (deployment.max_request_bytes in mlops.yaml)"
        )


def _check_json(body: bytes) -> None:
    """400 for the bodies the server's parser would raise something other than a JSON error on."""
    try:
        json.loads(body)
    except UnicodeDecodeError as exc:
        raise _Refused(
            "400 Bad Request", f"the request body is not valid UTF-8 (byte {exc.start})"
        ) from None
    except RecursionError:
        raise _Refused("400 Bad Request", "the request body's JSON is nested too deeply") from None
    except json.JSONDecodeError:
        return  # the server answers that one itself, with a 400
    except ValueError as exc:  # e.g. an integer over sys.get_int_max_str_digits() digits
        raise _Refused("400 Bad Request", f"the request body's JSON is not usable: {exc}") from None


# --- the data collector agent ---------------------------------------------------------------
# On Azure ML, a deployment with `data_collector` runs Azure's collector agent beside the
# server: azureml-ai-monitoring's Collector, in the scoring script, POSTs each collected
# DataFrame to it (http://$AZUREML_MDC_HOST:$AZUREML_MDC_PORT/modeldata/log, CloudEvents
# headers `ce-*`), and the agent writes it to the workspace's blob storage as JSON lines under
# modelDataCollector/<endpoint>/<deployment>/<collection>/yyyy/MM/dd/HH/, one record per line
# (https://learn.microsoft.com/azure/machine-learning/how-to-collect-production-data,
# "Collected data storage" and "Collected data format"). The local endpoint runs this agent
# instead, writing the same records in the same layout under MLOPS_COLLECT_DIR: the scoring
# script and the Collector package are the same code in both places.

COLLECT_DIR = "MLOPS_COLLECT_DIR"  # <state>/modelDataCollector/<endpoint>/<deployment>
COLLECT_SOURCE = "MLOPS_COLLECT_SOURCE"  # the records' `source`: which endpoint and deployment
COLLECT_SAMPLE_RATE = "MLOPS_COLLECT_SAMPLE_RATE"  # percent of requests, as the Collector reads
_COLLECTION = re.compile(r"[a-z0-9_]{1,64}")


def collector_record(
    headers: dict[str, str], body: bytes, source: str
) -> tuple[str, float, dict[str, Any]]:
    """(collection, epoch seconds, record) of one POST from azureml-ai-monitoring's sender.

    Raises ValueError for a request that is not one (unknown event type, body not JSON)."""
    event = headers.get("ce-type", "")
    collection = event.removeprefix("azureml.inference.")
    if not event.startswith("azureml.inference.") or not _COLLECTION.fullmatch(collection):
        raise ValueError(f"not a collector event: ce-type {event[:80]!r}")
    data = json.loads(body)
    stamp = float(headers.get("ce-time") or time.time())
    request_id = headers.get("ce-x-request-id", "")
    record = {
        "specversion": "1.0",
        "id": headers.get("trace-id", ""),
        "source": source,
        "type": event,
        "datacontenttype": "application/json",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp)),
        "data": data,
        "correlationid": request_id,
        "xrequestid": request_id,
        "modelversion": headers.get("ce-model-version", ""),
        "collectdatatype": headers.get("ce-collect-data-type", ""),
        "agent": headers.get("ce-agent", ""),
        "contentrange": f"bytes 0-{max(len(body) - 1, 0)}/{len(body)}",
    }
    return collection, stamp, record


class CollectorAgent:
    """Appends each collected record to <root>/<collection>/yyyy/MM/dd/HH/<instance>.jsonl."""

    def __init__(self, root: str, source: str, instance: str) -> None:
        import threading

        self.root = root
        self.source = source
        self.instance = instance
        self._lock = threading.Lock()

    def write(self, headers: dict[str, str], body: bytes) -> None:
        collection, stamp, record = collector_record(headers, body, self.source)
        hour = time.strftime("%Y/%m/%d/%H", time.gmtime(stamp))
        folder = os.path.join(self.root, collection, *hour.split("/"))
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, f"{self.instance}.jsonl"), "a", encoding="utf-8") as out:
                out.write(line)

    def serve(self, sock: socket.socket) -> None:
        """Answer POST /modeldata/log on the listening socket `sock` until terminated."""
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        agent = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                if self.path != "/modeldata/log":
                    self._answer(404, "unknown path")
                    return
                try:
                    agent.write(headers, body)
                except (ValueError, OSError) as exc:
                    self._answer(400, str(exc))
                    return
                self._answer(200, "accepted")

            def _answer(self, status: int, message: str) -> None:
                data = message.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the server's log is for the server

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        server.socket.close()
        server.socket = sock
        server.server_address = sock.getsockname()
        server.serve_forever()


def start_collector_agent(environ: dict[str, str] | os._Environ) -> Any:
    """Start the agent as a child process when MLOPS_COLLECT_DIR is set, and point
    azureml-ai-monitoring at it (the Collector's own variables, read by each worker when the
    scoring script creates its collectors); None when collection is off."""
    import subprocess
    import sys

    for name in [k for k in environ if k.startswith("AZUREML_MDC_")]:
        del environ[name]  # only this agent, never a stray setting, receives the data
    root = environ.get(COLLECT_DIR)
    if not root:
        return None
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    package = __package__ or "mlops.backends.local"
    agent = subprocess.Popen(
        [sys.executable, "-m", f"{package}._front_end", str(sock.fileno()), root],
        pass_fds=(sock.fileno(),),
        env=dict(environ),
    )
    port = sock.getsockname()[1]
    sock.close()
    environ["AZUREML_MDC_ENABLED"] = "true"
    environ["AZUREML_MDC_HOST"] = "127.0.0.1"
    environ["AZUREML_MDC_PORT"] = str(port)
    environ["AZUREML_MDC_SAMPLE_RATE"] = environ.get(COLLECT_SAMPLE_RATE, "100")
    return agent


def _agent_main(fd: str, root: str) -> None:
    sock = socket.socket(fileno=int(fd))
    source = os.environ.get(COLLECT_SOURCE, root)
    CollectorAgent(root, source, f"{socket.gethostname()}-{os.getppid()}").serve(sock)


if __name__ == "__main__":
    import sys

    _agent_main(*sys.argv[1:3])
