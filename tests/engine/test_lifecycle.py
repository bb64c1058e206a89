"""Hot reload, graceful SIGTERM, client keys, management guard, CLI and slow event subscribers."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time

import httpx
import openai
import pytest

from tests.engine_harness import EngineProcess, fakes_config, free_port


def _wait(pred, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_hot_reload_valid_then_invalid(fakes):
    port = free_port()
    with EngineProcess(fakes_config(port, *fakes), port) as eng:
        sub = eng.subscribe()
        sub.wait_for("hello")
        client = openai.OpenAI(base_url=eng.url + "/v1", api_key="x", max_retries=0)
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="Brainy", messages=[{"role": "user", "content": "x"}])
        text = eng.config_path.read_text().replace("models:\n", "models:\n  Brainy: {openai: gpt-4.1}\n")
        eng.config_path.write_text(text)
        ev = sub.wait_for("config.reloaded", lambda e: e["ok"])
        assert ev["errors"] == [] and ev["warnings"] == []
        r = client.chat.completions.create(model="Brainy", messages=[{"role": "user", "content": "x"}])
        assert r.choices[0].message.content == "Hello from gpt-4.1!"
        bad = text + "routing: {retries: lots}\n"
        eng.config_path.write_text(bad)
        ev = sub.wait_for("config.reloaded", lambda e: not e["ok"])
        err = ev["errors"][0]
        assert err["file"] == str(eng.config_path) and err["line"] == bad.count("\n") and "retries" in err["message"]
        r = client.chat.completions.create(model="Brainy", messages=[{"role": "user", "content": "x"}])
        assert r.choices[0].message.content == "Hello from gpt-4.1!", "the last good config keeps serving"
        status = eng.api("GET", "/v0/status").json()
        assert status["config_ok"] is False and status["config_errors"][0]["line"] == err["line"]
        local = "providers:\n  local: {kind: openai_compatible, base_url: http://127.0.0.1:9}\n"
        eng.config_path.write_text(text.replace("providers:\n", local))
        ev = sub.wait_for("config.reloaded", lambda e: e["ok"] and e["warnings"])
        assert len(ev["warnings"]) == 1 and "'local'" in ev["warnings"][0] and "/v1" in ev["warnings"][0]
        sub.close()


def test_put_config_validates_and_applies(fakes):
    port = free_port()
    with EngineProcess(fakes_config(port, *fakes), port) as eng:
        r = eng.api("PUT", "/v0/config", content="host: 127.0.0.1\nport: 99999\n")
        assert r.status_code == 422 and r.json()["errors"][0]["line"] == 2
        good = fakes_config(port, *fakes).replace("models:\n", "models:\n  Tiny: {openai: gpt-4o-mini}\n")
        r = eng.api("PUT", "/v0/config", content=good)
        assert r.status_code == 200 and r.json()["ok"]
        assert stat.S_IMODE(os.stat(eng.config_path).st_mode) == 0o600
        assert "Tiny" in eng.api("GET", "/v0/config").json()["text"]
        assert "Tiny" in [m["id"] for m in httpx.get(eng.url + "/v1/models").json()["data"]]
        # GET and PUT are symmetric: what GET returns ({path, text, ...}) can be sent back as JSON
        got = eng.api("GET", "/v0/config").json()
        got["text"] = got["text"].replace("  Tiny:", "  Wee:")
        r = eng.api("PUT", "/v0/config", json=got)
        assert r.status_code == 200 and r.json()["ok"] and "Wee" in eng.config_path.read_text()
        r = eng.api("PUT", "/v0/config", json={"yaml": "port: 1"})
        assert r.status_code == 400 and '{"text"' in r.json()["errors"][0]["message"]
        assert "Wee" in eng.config_path.read_text()


def test_sigterm_lets_a_stream_finish_and_flushes_the_ledger(fakes):
    fo = fakes[0]
    fo.script(text="one two three four five", chunks=5, chunk_delay=0.2)
    port = free_port()
    eng = EngineProcess(fakes_config(port, *fakes), port).start()
    got: list[str] = []

    def consume():
        client = openai.OpenAI(base_url=eng.url + "/v1", api_key="x", max_retries=0)
        s = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}], stream=True)
        got.append("".join(c.choices[0].delta.content or "" for c in s if c.choices))

    t = threading.Thread(target=consume)
    t.start()
    assert fo.wait_for_requests(1)
    time.sleep(0.3)
    assert eng.stop(signal.SIGTERM) == 0
    t.join(10)
    assert got == ["one two three four five"], "an in-flight stream finishes within the grace period"
    with sqlite3.connect(eng.home / "data" / "usage.db") as db:
        rows = db.execute("SELECT status, model, output_tokens FROM requests").fetchall()
    assert rows and rows[0][0] == 200 and rows[0][1] == "gpt-4o"


def test_client_keys_required_when_configured(fakes):
    port = free_port()
    cfg = fakes_config(port, *fakes, extra="clients:\n  - {name: laptop, key: env:LAPTOP_KEY}\n")
    with EngineProcess(cfg, port, env={"LAPTOP_KEY": "pp-laptop-secret-123"}) as eng:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"x-api-key": "nope"}):
            r = httpx.post(eng.url + "/v1/messages", json={"model": "Smart"}, headers=headers)
            assert r.status_code == 401 and r.json()["type"] == "error"
        good = [{"Authorization": "Bearer pp-laptop-secret-123"}, {"x-api-key": "pp-laptop-secret-123"},
                {"x-goog-api-key": "pp-laptop-secret-123"}]  # fmt: skip
        for headers in good:
            r = httpx.post(eng.url + "/v1/chat/completions", headers=headers,
                           json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})  # fmt: skip
            assert r.status_code == 200, r.text
        r = httpx.post(eng.url + "/v1beta/models/gemini-2.5-flash:generateContent?key=pp-laptop-secret-123",
                       json={"contents": [{"role": "user", "parts": [{"text": "x"}]}]})  # fmt: skip
        assert r.status_code == 200
        assert eng.records(1)[0]["client"] == "laptop"
        log = (eng.home / "state" / "logs" / "engine.log").read_text()
    assert "pp-laptop-secret-123" not in log and "sk-fake-openai" not in log


def test_non_loopback_without_client_keys_refuses_to_start(tmp_path):
    (tmp_path / "config.yaml").write_text("host: 0.0.0.0\nport: 0\n")
    env = dict(os.environ, PROXYPAL_HOME=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "proxy_engine", "serve"], env=env, capture_output=True, text=True,
                       timeout=30)  # fmt: skip
    assert r.returncode == 2 and "needs client keys" in r.stderr


def test_port_in_use_is_reported_not_killed(tmp_path):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    (tmp_path / "config.yaml").write_text(f"port: {port}\n")
    env = dict(os.environ, PROXYPAL_HOME=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "proxy_engine", "serve"], env=env, capture_output=True, text=True,
                       timeout=30)  # fmt: skip
    holder.close()
    assert r.returncode == 3 and f"port {port} is in use" in r.stderr


def test_check_config_cli(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("port: 8317\nproviders:\n  openai: {api_key: sk-live-oops}\n")
    r = subprocess.run([sys.executable, "-m", "proxy_engine", "check-config", str(bad)], capture_output=True,
                       text=True)  # fmt: skip
    assert r.returncode == 1
    assert f"{bad}:3: providers.openai.api_key" in r.stderr and "sk-live-oops" not in r.stderr
    good = tmp_path / "good.yaml"
    good.write_text("port: 8400\n")
    r = subprocess.run([sys.executable, "-m", "proxy_engine", "check-config", str(good)], capture_output=True,
                       text=True)  # fmt: skip
    assert r.returncode == 0
    assert "warning" not in r.stderr


def test_check_config_warns_about_an_openai_base_url_without_v1(tmp_path):
    """Paths are appended to base_url as is: without /v1 the calls go to /chat/completions and 404."""
    path = tmp_path / "c.yaml"
    path.write_text(
        "providers:\n  local: {kind: openai_compatible, base_url: http://127.0.0.1:11434}\n"
        "  groq: {kind: openai_compatible, base_url: https://api.groq.com/openai/v1}\n"
        "  gem: {kind: openai_compatible, base_url: https://g.example/v1beta/openai/}\n"
    )
    r = subprocess.run([sys.executable, "-m", "proxy_engine", "check-config", str(path)], capture_output=True,
                       text=True)  # fmt: skip
    assert r.returncode == 0 and r.stdout.strip().endswith(": ok")
    warnings = [line for line in r.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "'local'" in warnings[0] and "http://127.0.0.1:11434/chat/completions" in warnings[0]


def test_management_api_needs_the_key_and_files_are_private(engine):
    assert httpx.get(engine.url + "/v0/status").status_code == 401
    assert httpx.get(engine.url + "/v0/status", headers={"Authorization": "Bearer nope"}).status_code == 401
    status = engine.api("GET", "/v0/status").json()
    assert status["port"] == engine.port and status["pid"] > 0
    assert stat.S_IMODE(os.stat(engine.home / "data" / "management.key").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(status["events_socket"]).st_mode) == 0o600
    auth = engine.api("GET", "/v0/auth/status").json()["providers"]
    assert {p["name"]: p["credentials"][0]["state"] for p in auth} == {"openai": "valid", "anthropic": "valid",
                                                                        "gemini": "valid"}  # fmt: skip
    assert "sk-fake-openai" not in str(auth)
    assert engine.api("GET", "/v0/usage?group=week").status_code == 400


def test_stalled_subscriber_does_not_slow_requests(engine, fakes):
    stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(engine.events_socket())
    fakes[0].script(text="x" * 2000)
    live = engine.subscribe()
    client = openai.OpenAI(base_url=engine.url + "/v1", api_key="x", max_retries=0)
    for _ in range(150):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "y" * 3000}])
    live.wait_for("request.finished")
    assert len([e for e in live.events if e["type"] == "request.finished"]) >= 100
    f = stalled.makefile("rb")
    lines = [f.readline() for _ in range(3)]
    assert b'"hello"' in lines[0]
    stalled.close()
    live.close()


def test_tail_prints_events(engine):
    env = dict(os.environ, PROXYPAL_HOME=str(engine.home))
    p = subprocess.Popen([sys.executable, "-m", "proxy_engine", "tail", "--json"], env=env, stdout=subprocess.PIPE)
    try:
        first = p.stdout.readline()
        assert b'"type":"hello"' in first
        httpx.get(engine.url + "/v1/models")
        openai.OpenAI(base_url=engine.url + "/v1", api_key="x").chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "x"}]
        )
        assert _wait(lambda: b"request" in p.stdout.readline(), 10)
    finally:
        p.terminate()
        p.wait(5)


def test_configured_but_unreadable_client_keys_refuse_everyone(fakes):
    """A client key that cannot be resolved must not leave the proxy open."""
    port = free_port()
    cfg = fakes_config(port, *fakes, extra="clients:\n  - {name: laptop, key: env:UNSET_CLIENT_KEY}\n")
    with EngineProcess(cfg, port) as eng:
        for headers in ({}, {"Authorization": "Bearer anything"}):
            r = httpx.post(eng.url + "/v1/chat/completions", headers=headers,
                           json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})  # fmt: skip
            assert r.status_code == 401
        log = (eng.home / "state" / "logs" / "engine.log").read_text()
    assert "laptop" in log and "cannot be read" in log
