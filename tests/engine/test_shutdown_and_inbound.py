"""SIGTERM ends open streams properly within the grace, and slow or surplus clients cannot hold the
proxy's connections (issue #17: items 19 and 13). Real engine subprocesses, raw sockets."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import threading
import time

import httpx
import pytest

from tests.engine_harness import EngineProcess, fakes_config, free_port
from tests.fakes import parse_sse

GRACE_S = 1.0
MARGIN_S = 4.0  # process start-up of the shutdown path, ledger flush, interpreter exit on a busy machine
ASK = [{"role": "user", "content": "x"}]


def _stream_until_shutdown(eng: EngineProcess, path: str, body: dict, got: dict) -> None:
    """Read a whole stream with plain HTTP; a truncated chunked body raises, and is kept as the error."""
    try:
        with httpx.stream("POST", eng.url + path, json=body, timeout=30) as r:
            got["status"] = r.status_code
            got["body"] = r.read()
    except httpx.HTTPError as e:
        got["error"] = repr(e)


@pytest.mark.parametrize(
    ("path", "model", "extra"),
    [
        ("/v1/chat/completions", "gpt-4o", {}),
        ("/v1/messages", "claude-haiku-4-5", {"max_tokens": 50}),
        ("/v1/chat/completions", "claude-haiku-4-5", {}),
    ],
    ids=["openai", "anthropic", "translated"],
)
def test_sigterm_ends_an_open_stream_with_an_error_event_within_the_grace(fakes, path, model, extra):
    for f in fakes:
        f.script(text="slow " * 100, chunks=100, chunk_delay=0.2)  # 20 s: far longer than the grace
    port = free_port()
    eng = EngineProcess(fakes_config(port, *fakes, extra=f"shutdown_grace_s: {GRACE_S}\n"), port).start()
    got: dict = {}
    t = threading.Thread(target=_stream_until_shutdown, args=(eng, path, {"model": model, "stream": True,
                                                                        "messages": ASK, **extra}, got))  # fmt: skip
    t.start()
    upstream = fakes[0] if model == "gpt-4o" else fakes[1]
    assert upstream.wait_for_requests(1)
    time.sleep(0.5)  # some chunks reach the client
    t0 = time.monotonic()
    assert eng.stop(signal.SIGTERM) == 0
    took = time.monotonic() - t0
    t.join(10)
    assert "error" not in got, f"the stream must end with a proper chunked end, not be cut: {got.get('error')}"
    assert got["status"] == 200
    name, last = parse_sse(got["body"])[-1]
    if path == "/v1/messages":
        assert name == "error" and last["error"]["type"] == "overloaded_error"
    else:
        assert "shutting down" in last["error"]["message"]
    assert took < GRACE_S + MARGIN_S, f"SIGTERM took {took:.1f}s with a {GRACE_S}s grace"
    with sqlite3.connect(eng.home / "data" / "usage.db") as db:
        status, error, output = db.execute("SELECT status, error, output_tokens FROM requests").fetchone()
    assert status == 503 and json.loads(error)["code"] == "server_shutdown"
    assert output > 0, "what reached the client is counted"


def test_sigterm_answers_a_call_still_waiting_for_its_upstream_with_503(fakes):
    fakes[0].script(delay=20)
    port = free_port()
    eng = EngineProcess(fakes_config(port, *fakes, extra=f"shutdown_grace_s: {GRACE_S}\n"), port).start()
    got: dict = {}

    def call() -> None:
        r = httpx.post(eng.url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": ASK}, timeout=30)
        got["status"], got["body"] = r.status_code, r.json()

    t = threading.Thread(target=call)
    t.start()
    assert fakes[0].wait_for_requests(1)
    assert eng.stop(signal.SIGTERM) == 0
    t.join(10)
    assert got["status"] == 503 and got["body"]["error"]["code"] == "server_shutdown"


def test_sigterm_answers_a_call_whose_body_is_still_arriving_with_503_at_once(fakes, tmp_path):
    """aiohttp stops reading connections when shutdown starts, so the rest of this body never comes:
    the call is answered 503 at once (not after the grace, when its client may have given up) and recorded."""
    port = free_port()
    eng = EngineProcess(fakes_config(port, *fakes, extra="shutdown_grace_s: 30\n"), port, home=str(tmp_path)).start()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n{\"model\": ")  # fmt: skip
        time.sleep(0.5)  # the handler is reading the body
        started = time.monotonic()
        assert eng.stop(signal.SIGTERM) == 0
        assert time.monotonic() - started < 15, "the call did not wait out the 30 s grace"
        reply = _closed_within(s, 5.0)
    finally:
        s.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503"), reply[:300]
    assert json.loads(body)["error"]["code"] == "server_shutdown"
    rid = next(line.split(b":", 1)[1].strip().decode() for line in head.split(b"\r\n")
               if line.lower().startswith(b"x-proxypal-request-id:"))  # fmt: skip
    with sqlite3.connect(tmp_path / "data" / "usage.db") as db:
        assert db.execute("SELECT status FROM requests WHERE id = ?", (rid,)).fetchone() == (503,)


# ----- inbound: header and body read timeouts, the connection cap -----

INBOUND = "inbound: {header_timeout_s: 1.0, body_timeout_s: 1.0, max_connections: 4}\n"


@pytest.fixture(scope="module")
def guarded(fakes):
    port = free_port()
    with EngineProcess(fakes_config(port, *fakes, extra=INBOUND), port) as eng:
        yield eng


def _connect(eng: EngineProcess) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", eng.port), timeout=10)
    return s


def _closed_within(s: socket.socket, seconds: float) -> bytes:
    """Everything the server sent until it closed the connection; fails if it is still open after `seconds`."""
    s.settimeout(seconds)
    data = b""
    try:
        while chunk := s.recv(4096):
            data += chunk
    except TimeoutError:
        pytest.fail(f"the proxy kept the connection open (it sent {data[:200]!r})")
    except ConnectionResetError:
        pass
    return data


def test_a_slowloris_client_is_closed_and_others_are_still_served(guarded):
    slow = _connect(guarded)
    slow.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    stop = threading.Event()

    def drip() -> None:  # one header line every 0.3 s, never the blank line that ends them
        n = 0
        while not stop.wait(0.3):
            try:
                slow.sendall(f"X-Drip-{n}: a\r\n".encode())
            except OSError:
                return
            n += 1

    dripper = threading.Thread(target=drip)
    dripper.start()
    try:
        r = httpx.post(guarded.url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": ASK}, timeout=10)
        assert r.status_code == 200, "another client is served meanwhile"
        _closed_within(slow, 5.0)
    finally:
        stop.set()
        dripper.join(5)
        slow.close()


def test_a_body_that_does_not_arrive_is_a_408_and_the_connection_closes(guarded):
    s = _connect(guarded)
    try:
        s.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n{\"model\": ")  # fmt: skip
        reply = _closed_within(s, 5.0)
    finally:
        s.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    assert b"did not arrive" in body and b'"type":"error"' in body.replace(b" ", b"")


def test_connections_beyond_the_cap_are_refused_and_served_again_once_one_closes(guarded):
    held = [_connect(guarded) for _ in range(4)]
    try:
        time.sleep(0.2)
        extra = _connect(guarded)
        assert _closed_within(extra, 5.0).startswith(b"HTTP/1.1 503")
        extra.close()
        held.pop().close()
        time.sleep(0.2)
        r = httpx.get(guarded.url + "/healthz", timeout=5)
        assert r.status_code == 200
    finally:
        for s in held:
            s.close()


def test_a_long_stream_is_not_cut_by_the_inbound_timeouts(guarded, fakes):
    fakes[0].script(text="slow " * 15, chunks=15, chunk_delay=0.2)  # 3 s: longer than both timeouts
    body = {"model": "gpt-4o", "stream": True, "messages": ASK}
    r = httpx.post(guarded.url + "/v1/chat/completions", json=body, timeout=20)
    assert r.status_code == 200 and parse_sse(r.content)[-1][1] == "[DONE]"
