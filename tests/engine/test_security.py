"""Issue #17: DNS rebinding, a reload that would open the proxy, text that broke the ledger and the
event stream, management calls through HTTP_PROXY, deep YAML, the events socket path, and /v0 errors.

Each test drives a real engine process; fake upstreams and Amp's servers are real local HTTP servers.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from proxy_engine.config import is_loopback
from proxy_engine.events import EventBus
from proxy_engine.protocol import AuthChanged, Hello, HelloSnapshot
from proxy_engine.usage.ledger import CostLedger
from tests.engine.security_helpers import HostEngine, RecordingListener
from tests.engine_harness import SECRET_ENV, EngineProcess, EventSubscriber, fakes_config, free_port

AMP_KEY = "amp-upstream-key-do-not-leak"
CLIENT_KEY = "client-key-for-security-tests"
CLIENTS = "clients:\n  - {name: laptop, key: env:PP_CLIENT_KEY}\n"
REBOUND = "127.0.0.1.evil.example"
CHAT = {"model": "Smart", "messages": [{"role": "user", "content": "hi"}]}


def _wait(pred, timeout: float = 10.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def amp_upstream():
    with RecordingListener() as listener:
        yield listener


@pytest.fixture(scope="module")
def keyless(fakes, amp_upstream):
    """A keyless loopback engine that relays Amp's API to a recording listener with an upstream key."""
    port = free_port()
    extra = f'amp_upstream_url: "{amp_upstream.url}"\namp_upstream_api_key: env:AMP_KEY\n'
    with EngineProcess(fakes_config(port, *fakes, extra=extra), port, env={"AMP_KEY": AMP_KEY}) as eng:
        yield eng


# ---- 1. DNS rebinding ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("LOCALHOST.", True), ("app.localhost", True), ("127.0.0.1.evil.example", False), ("127.evil", False),
     ("0.0.0.0", False), ("10.0.0.1", False), ("localhost.evil.example", False), ("evil-localhost", False)],
)  # fmt: skip
def test_is_loopback_decides_from_ip_literals_and_localhost_only(host, loopback):
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("method", "path", "body", "shape"),
    [("POST", "/v1/chat/completions", CHAT, "openai"),
     ("POST", "/v1/messages", {**CHAT, "max_tokens": 5}, "anthropic"),
     ("POST", "/v1beta/models/Smart:generateContent", {"contents": [{"parts": [{"text": "hi"}]}]}, "gemini"),
     ("POST", "/v1/models/Smart:generateContent", {"contents": [{"parts": [{"text": "hi"}]}]}, "gemini"),
     ("GET", "/v1/models", None, "openai"),
     ("GET", "/v1beta/models", None, "gemini"),
     ("GET", "/api/provider/openai/v1/models", None, "openai"),
     ("POST", "/api/provider/anthropic/v1/messages", {**CHAT, "max_tokens": 5}, "anthropic")],
)  # fmt: skip
def test_a_rebinding_host_is_refused_on_every_route_in_the_callers_dialect(keyless, fakes, method, path, body, shape):
    """`Host: 127.0.0.1.evil.example` with a same-origin Origin is what a DNS-rebinding page sends."""
    headers = {"Host": f"{REBOUND}:{keyless.port}", "Origin": f"http://{REBOUND}:{keyless.port}"}
    r = httpx.request(method, keyless.url + path, json=body, headers=headers, timeout=10)
    assert r.status_code == 403, r.text
    err = r.json()
    if shape == "anthropic":
        assert err["type"] == "error" and err["error"]["type"] == "permission_error"
    elif shape == "gemini":
        assert err["error"]["code"] == 403 and err["error"]["status"] == "PERMISSION_DENIED"
    else:
        assert err["error"]["code"] == "browser_request_refused"
    assert REBOUND in r.text
    assert not any(f.requests for f in fakes), "nothing reached an upstream"
    ok = httpx.request(method, keyless.url + path, json=body, timeout=10)
    assert ok.status_code == 200, "the same call addressed to 127.0.0.1 is served"


def test_the_amp_relay_never_gives_its_key_to_a_rebinding_host(keyless, amp_upstream):
    amp_upstream.hits.clear()
    for method in ("GET", "POST"):
        r = httpx.request(method, keyless.url + "/api/user", headers={"Host": f"{REBOUND}:{keyless.port}"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "amp_request_refused"
    assert amp_upstream.hits == []
    r = httpx.get(keyless.url + "/api/user")
    assert r.status_code == 200 and amp_upstream.hits[-1]["headers"]["Authorization"] == "Bearer " + AMP_KEY
    r = httpx.get(
        keyless.url + "/auth/cli-login", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    )
    assert r.status_code == 200, "amp login pages still open in a browser"


def test_health_and_management_keep_their_own_rules(keyless):
    assert httpx.get(keyless.url + "/healthz", headers={"Host": REBOUND}).status_code == 200
    r = keyless.api("GET", "/v0/status", headers={"Host": REBOUND})
    assert r.status_code == 200


# ---- 2. a reload must not open a non-loopback bind -----------------------------------------------


def test_a_reload_that_would_drop_client_keys_on_a_public_bind_is_refused(fakes):
    port = free_port()
    with HostEngine(fakes_config(port, *fakes, extra=CLIENTS), port, "0.0.0.0",
                    env={"PP_CLIENT_KEY": CLIENT_KEY}) as eng:  # fmt: skip
        sub = eng.subscribe()
        sub.wait_for("hello")
        url = eng.url + "/v1/chat/completions"
        assert httpx.post(url, json=CHAT).status_code == 401
        without = fakes_config(port, *fakes)
        eng.config_path.write_text(without)
        ev = sub.wait_for("config.reloaded", lambda e: not e["ok"])
        err = ev["errors"][0]
        assert err["file"] == str(eng.config_path) and "0.0.0.0" in err["message"] and "clients" in err["message"]
        assert httpx.post(url, json=CHAT).status_code == 401, "keyless requests stay refused"
        assert httpx.post(url, json=CHAT, headers={"Authorization": "Bearer " + CLIENT_KEY}).status_code == 200
        r = eng.api("POST", "/v0/config/reload")
        assert r.json()["ok"] is False
        r = eng.api("PUT", "/v0/config", content=without)
        assert r.status_code == 422 and "clients" in r.json()["errors"][0]["message"]
        sub.close()


# ---- 3. text that cannot be encoded -----------------------------------------------------------------


def test_undecodable_text_before_authentication_stops_neither_ledger_nor_events(fakes):
    port = free_port()
    with EngineProcess(fakes_config(port, *fakes, extra=CLIENTS), port, env={"PP_CLIENT_KEY": CLIENT_KEY}) as eng:
        early = eng.subscribe()
        early.wait_for("hello")
        url = eng.url + "/v1/chat/completions"
        r = httpx.post(url, content=b'{"model": "x"}', headers={"User-Agent": b"tool\xff\xfe/1.0"})
        assert r.status_code == 401
        r = httpx.post(url, content=b'{"model": "\\ud800", "messages": []}',
                       headers={"Authorization": "Bearer " + CLIENT_KEY})  # fmt: skip
        assert r.status_code == 404
        time.sleep(0.5)  # two ledger flushes and several event batches carry the bad rows
        r = httpx.post(url, json=CHAT, headers={"Authorization": "Bearer " + CLIENT_KEY, "User-Agent": "after/1"})
        assert r.status_code == 200
        done = early.wait_for("request.finished", lambda e: e["agent"] == "after")
        late = eng.subscribe()
        hello = late.wait_for("hello", timeout=5)
        assert any(rec["id"] == done["id"] for rec in hello["snapshot"]["recent"])
        rows = {row["id"]: row for row in eng.records()}
        assert done["id"] in rows, "rows after the bad ones are written"
        assert {row["agent"] for row in rows.values()} >= {"tool\ufffd\ufffd", "after"}
        assert "\ufffd" in {row["model_requested"] for row in rows.values()}
        early.close()
        late.close()


# ---- 5. management calls from the CLI ignore proxy variables -------------------------------------------


def _cli(home: Path, env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, PROXYPAL_HOME=str(home), **SECRET_ENV, **env)
    full.pop("PROXYPAL_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "proxy_engine", *args], input=stdin, env=full,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_login_tells_the_engine_directly_never_through_http_proxy(fakes):
    port = free_port()
    with RecordingListener() as proxy, EngineProcess(fakes_config(port, *fakes), port) as eng:
        sub = eng.subscribe()
        sub.wait_for("hello")
        env = {name: proxy.url for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy")}
        r = _cli(eng.home, env, "login", "openai", "--api-key-stdin", stdin="sk-test-key-for-proxy-check\n")
        assert r.returncode == 0, r.stderr
        assert proxy.hits == [], "the management key never went to the proxy"
        sub.wait_for("config.reloaded", lambda e: e["ok"])
        assert "picked up the change" in r.stdout
        r = _cli(eng.home, env, "logout", "openai")
        assert r.returncode == 0, r.stderr
        assert proxy.hits == []
        sub.close()


def test_a_reload_nobody_confirmed_is_not_reported_as_success(tmp_path):
    with RecordingListener(ok=False) as stranger:
        home = tmp_path / "home"
        home.mkdir()
        (home / "config.yaml").write_text(f"port: {stranger.port}\n")
        (home / "data").mkdir()
        (home / "data" / "management.key").write_text("k\n")
        r = _cli(home, {}, "login", "openai", "--api-key-stdin", stdin="sk-test-key-for-proxy-check\n")
        assert r.returncode == 0, r.stderr
        assert stranger.hits, "the call was made"
        assert "picked up" not in r.stdout and "did not take the change" in r.stdout


# ---- 11. deep YAML -------------------------------------------------------------------------------------


def test_deep_yaml_is_an_invalid_config_and_later_edits_still_apply(fakes):
    port = free_port()
    with EngineProcess(fakes_config(port, *fakes), port) as eng:
        sub = eng.subscribe()
        sub.wait_for("hello")
        good = eng.config_path.read_text()
        eng.config_path.write_text(good + "deep: " + "[" * 5000 + "]" * 5000 + "\n")
        ev = sub.wait_for("config.reloaded", lambda e: not e["ok"])
        assert ev["errors"][0]["file"] == str(eng.config_path) and "nested too deeply" in ev["errors"][0]["message"]
        eng.config_path.write_text(good.replace("models:\n", "models:\n  Brainy: {openai: gpt-4.1}\n"))
        sub.wait_for("config.reloaded", lambda e: e["ok"])
        r = httpx.post(eng.url + "/v1/chat/completions", json={**CHAT, "model": "Brainy"})
        assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "Hello from gpt-4.1!"
        sub.close()


def test_check_config_reports_deep_yaml_without_a_traceback(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "{b: " * 3000 + "1" + "}" * 3000 + "\n")
    r = subprocess.run([sys.executable, "-m", "proxy_engine", "check-config", str(path)],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 1
    assert r.stderr.startswith(f"{path}:1: ") and "nested too deeply" in r.stderr and "Traceback" not in r.stderr


# ---- 12. the events socket path ---------------------------------------------------------------------------


def _serve(home: Path, port: int, sock: Path) -> subprocess.CompletedProcess[str]:
    (home / "config.yaml").write_text(f"port: {port}\nevents: {{socket: '{sock}'}}\n")
    return _cli(home, {}, "serve", "--port", str(port))


def test_a_regular_file_at_the_socket_path_is_left_alone(tmp_path):
    precious = tmp_path / "notes.txt"
    precious.write_text("mine")
    r = _serve(tmp_path, free_port(), precious)
    assert r.returncode == 2 and "not a socket" in r.stderr and "Traceback" not in r.stderr
    assert precious.read_text() == "mine"


def test_a_live_socket_is_not_stolen_and_a_stale_one_is_replaced(tmp_path, fakes):
    port = free_port()
    with EngineProcess(fakes_config(port, *fakes), port) as eng:
        live = Path(eng.events_socket())
        r = _serve(tmp_path, free_port(), live)
        assert r.returncode == 2 and "in use" in r.stderr and "Traceback" not in r.stderr
        sub = EventSubscriber(str(live))
        assert sub.wait_for("hello")["listen"].endswith(str(port)), "the first engine keeps its socket"
        sub.close()
    stale = tmp_path / "stale.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(stale))
    s.close()
    port = free_port()
    home = tmp_path / "stale-home"
    home.mkdir()
    (home / "config.yaml").write_text(f"port: {port}\nevents: {{socket: '{stale}'}}\n")
    with EngineProcess((home / "config.yaml").read_text(), port, home=str(home)):
        sub = EventSubscriber(str(stale))
        assert sub.wait_for("hello")["listen"].endswith(str(port))
        sub.close()


# ---- 7. /v0 never answers a traceback -----------------------------------------------------------------------


def test_put_config_with_a_non_utf8_body_is_a_400(keyless):
    before = keyless.config_path.read_text()
    r = keyless.api("PUT", "/v0/config", content=b"port: 8317\nname: \xff\xfe\n")
    assert r.status_code == 400 and "UTF-8" in r.json()["errors"][0]["message"]
    assert keyless.config_path.read_text() == before


def test_an_unexpected_management_failure_is_a_json_500(fakes):
    port = free_port()
    with EngineProcess(fakes_config(port, *fakes), port) as eng:
        db = eng.home / "data" / "usage.db"
        assert _wait(db.exists)
        db.rename(eng.home / "data" / "moved.db")
        db.mkdir()  # the query's own connection cannot open a directory
        r = eng.api("GET", "/v0/usage")
        assert r.status_code == 500 and r.headers["content-type"].startswith("application/json")
        assert "error" in r.json() and "Traceback" not in r.text
        assert eng.api("GET", "/v0/status").status_code == 200


# ---- 3 (the background tasks themselves): one bad row or event is skipped, never the rest -----------------


async def test_the_ledger_writer_skips_a_row_it_cannot_store_and_goes_on(tmp_path):
    ledger = CostLedger(tmp_path / "usage.db", tmp_path / "journal", flush_interval=0.02)
    await ledger.open()
    try:
        row = {"ts_start": time.time(), "status": 200, "stream": False}
        ledger.append({**row, "id": "bad", "model_requested": "\ud800"})  # bypasses the record's own cleaning
        ledger.append({**row, "id": "good-1"})
        await asyncio.sleep(0.2)  # the writer task flushes both batches on its own
        ledger.append({**row, "id": "good-2"})
        assert await _eventually(
            lambda: ledger.recent(10), lambda rows: {"good-1", "good-2"} <= {r["id"] for r in rows}
        )
        assert "bad" not in {r["id"] for r in await ledger.recent(10)}
    finally:
        await ledger.close()


async def test_an_event_that_cannot_be_encoded_costs_only_itself(tmp_path):
    bus = EventBus()
    bad = AuthChanged(provider="p", credential="c", state="valid", message="\udcff")
    bus.hello = lambda: Hello(version="t", snapshot=HelloSnapshot(auth=[bad]))
    path = tmp_path / "ev.sock"
    await bus.start(path)
    try:
        reader, writer = await asyncio.open_unix_connection(str(path))
        hello = json.loads(await asyncio.wait_for(reader.readline(), 5))
        assert hello["type"] == "hello" and hello["version"] == "t" and "snapshot" not in hello
        await _eventually(lambda: _value(bus.subscribers), lambda n: n == 1)
        bus.emit("log", {"message": "bad \ud800"})
        bus.emit("log", {"message": "good"})
        line = json.loads(await asyncio.wait_for(reader.readline(), 5))
        assert line["message"] == "good"
        writer.close()
    finally:
        await bus.close()


async def _value(v):
    return v


async def _eventually(get, ok, within: float = 5.0):
    deadline = time.time() + within
    while True:
        value = await get()
        if ok(value) or time.time() > deadline:
            return ok(value)
        await asyncio.sleep(0.05)
