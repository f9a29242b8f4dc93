"""The local endpoint answers hostile bodies with 4xx, never 500, and keeps serving; slow clients
that never finish their bodies cannot keep it from answering others."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.endpoint.conftest import deploy, good_request, healthy, post

BODY_TIMEOUT = 3  # seconds the server's front end waits for a body (MLOPS_BODY_TIMEOUT)


@pytest.fixture(scope="module")
def endpoint(trained_project: Path) -> Iterator[dict]:
    """One endpoint for the module: every test leaves it healthy, or the next ones fail too."""
    here = Path.cwd()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_BODY_TIMEOUT", str(BODY_TIMEOUT))  # the server inherits it
        os.chdir(trained_project)
        try:
            yield deploy()
        finally:
            run_cli("deploy", "--env", "local", "--stop")
            os.chdir(here)


def _with_first_value(literal: bytes) -> bytes:
    return good_request().replace(b"1.0", literal, 1)


HOSTILE = {
    "invalid UTF-8 in a value": b'{"data": [{"mean_radius": "\xff\xfe"}]}',
    "invalid UTF-8 in a key": b'{"data\xff": []}',
    "1e400": _with_first_value(b"1e400"),
    "-1e400": _with_first_value(b"-1e400"),
    "10**400 as an integer": _with_first_value(b"1" + b"0" * 400),
    "an integer of 5000 digits": _with_first_value(b"9" * 5000),
    "NaN": _with_first_value(b"NaN"),
    "nested lists 100000 deep": b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "nested objects 50000 deep": b'{"data": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_001,
    "nested 500 deep": b'{"data": ' + b"[" * 500 + b"]" * 500 + b"}",
    "an unexpected top-level key": json.dumps({**json.loads(good_request()), "extra": 1}).encode(),
    "a top-level key beside a bad row": b'{"data": [1], "debug": true}',
}


def test_hostile_bodies_get_4xx_never_500_and_the_server_stays_healthy(endpoint):
    for name, body in HOSTILE.items():
        status, answer = post(endpoint["url"], body)
        assert 400 <= status < 500, (name, status, answer[:300])
        assert answer.strip(), name
        assert healthy(endpoint["port"]), name
    assert post(endpoint["url"], good_request())[0] == 200


def test_an_unexpected_top_level_key_is_named_in_the_answer(endpoint):
    body = json.dumps({**json.loads(good_request()), "threshold": 0.1}).encode()
    status, answer = post(endpoint["url"], body)
    assert status == 400
    assert "threshold" in answer


def test_a_body_over_max_request_bytes_gets_413_naming_the_setting(endpoint):
    padding = "x" * 1_600_000  # over the default 1.5 MB, Azure ML's limit
    status, answer = post(endpoint["url"], json.dumps({"data": [], "pad": padding}).encode())
    assert status == 413, answer[:300]
    assert "max_request_bytes" in answer
    assert healthy(endpoint["port"])


def _raw_exchange(port: int, request: bytes, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as client:
        client.sendall(request)
        client.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
        return answer


@pytest.mark.parametrize(
    "framing",
    [
        b"zz\r\n{}\r\n0\r\n\r\n",  # a chunk size that is not hexadecimal
        b"2\r\n{}XX0\r\n\r\n",  # no CRLF after the chunk's data
        b"5\r\n{}",  # a chunk that ends early
    ],
    ids=["bad size", "missing CRLF", "truncated"],
)
def test_bad_chunked_transfer_encoding_gets_4xx(endpoint, framing):
    request = (
        b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + framing
    )
    answer = _raw_exchange(endpoint["port"], request)
    status = int(answer.split(b" ", 2)[1])
    assert 400 <= status < 500, answer[:300]
    assert healthy(endpoint["port"])


def test_the_endpoint_answers_while_8_slow_clients_hold_unfinished_bodies(endpoint):
    slow = []
    try:
        for _ in range(8):  # each promises 100 kB and sends one byte
            client = socket.create_connection(("127.0.0.1", endpoint["port"]), timeout=15)
            client.sendall(
                b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
            )
            slow.append(client)
        time.sleep(0.5)  # let the server take them all up
        status, answer = post(endpoint["url"], good_request())  # urllib's timeout: 10 s
        assert status == 200, answer
        for client in slow:  # and none of them holds a thread for ever: 408 in the end
            assert client.recv(200).startswith(b"HTTP/1.1 408"), "a slow client got no 408"
    finally:
        for client in slow:
            client.close()
    assert healthy(endpoint["port"])
