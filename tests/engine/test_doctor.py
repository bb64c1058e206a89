"""`proxypal-engine doctor` as a user runs it: a real subprocess against real fake providers, a real
engine, real SQLite and secrets files, a real process holding the port, a tool's real settings file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from proxy_engine.credentials.cooldowns import Cooldown, CooldownStore
from proxy_engine.secrets.encrypted_file import EncryptedFileStore
from tests.engine_harness import FAKE_KEYS, SECRET_ENV, EngineProcess, fakes_config, free_port
from tests.fakes import FakeAnthropic, FakeGemini, FakeOpenAI, FakeServerThread

WRONG_KEY = "sk-wrong-key-that-must-never-be-printed"


@pytest.fixture(scope="module")
def fakes():
    with FakeServerThread(FakeOpenAI()) as fo, FakeServerThread(FakeAnthropic()) as fa, \
            FakeServerThread(FakeGemini()) as fg:  # fmt: skip
        yield fo, fa, fg


@pytest.fixture(autouse=True)
def _reset(fakes):
    for f in fakes:
        f.reset()
    yield


class Setup:
    """One user's machine: a PROXYPAL_HOME, a HOME for the tools' files, and no tool binary on PATH."""

    def __init__(self, config: str, env: dict[str, str] | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="pp-doctor-"))
        self.pp_home = self.root / "pp"
        self.home = self.root / "home"
        self.pp_home.mkdir()
        self.home.mkdir()
        self.config = self.pp_home / "config.yaml"
        self.config.write_text(config)
        self.env = {**os.environ, "PROXYPAL_HOME": str(self.pp_home), "HOME": str(self.home),
                    "PATH": str(self.root / "bin"), **FAKE_KEYS, **SECRET_ENV, **(env or {})}  # fmt: skip
        self.env.pop("PROXYPAL_CONFIG", None)

    def run(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "proxy_engine", "doctor", *extra], env=self.env,
                              capture_output=True, text=True, timeout=90)  # fmt: skip

    def report(self) -> tuple[int, dict[str, Any]]:
        done = self.run("--json")
        assert done.stderr == "" or "Traceback" not in done.stderr, done.stderr
        return done.returncode, json.loads(done.stdout)


def failures(report: dict[str, Any], check: str) -> list[dict[str, Any]]:
    return [c for c in report["checks"] if c["check"] == check and c["status"] == "fail"]


def test_healthy_setup_with_a_running_engine_exits_0(fakes) -> None:
    port = free_port()
    s = Setup(fakes_config(port, *fakes))
    with EngineProcess(s.config.read_text(), port, home=str(s.pp_home)) as eng:
        code, report = s.report()
    assert code == 0, json.dumps(report, indent=1)
    assert report["ok"] is True
    by_check = {c["check"] for c in report["checks"]}
    assert {"config", "secrets", "provider", "credential", "port", "clock", "tool"} <= by_check
    port_row = next(c for c in report["checks"] if c["check"] == "port")
    assert f"pid {eng.proc.pid}" in port_row["detail"] and "this engine" in port_row["detail"]
    providers = {c["subject"]: c for c in report["checks"] if c["check"] == "provider"}
    assert {"openai/env:OK", "anthropic/env:AK", "gemini/env:GK"} <= set(providers)
    assert all(c["status"] == "ok" for c in providers.values())
    # Each kind's models list was called with its own auth, and nothing else was asked of the providers.
    fo, fa, fg = fakes
    assert [r.path for r in fo.requests] == ["/v1/models"]
    assert fa.requests[-1].path == "/v1/models" and fa.requests[-1].headers["x-api-key"] == FAKE_KEYS["AK"]
    assert fg.requests[-1].path == "/v1beta/models" and fg.requests[-1].headers["x-goog-api-key"] == FAKE_KEYS["GK"]
    credentials = [c for c in report["checks"] if c["check"] == "credential"]
    assert {c["subject"] for c in credentials} >= {"openai/env:OK", "anthropic/env:AK"}  # from /v0/auth/status


def test_json_shape(fakes) -> None:
    s = Setup(fakes_config(free_port(), *fakes))
    code, report = s.report()
    assert code == 0, report
    assert set(report) == {"ok", "config_file", "checks"}
    assert report["config_file"] == str(s.config)
    for c in report["checks"]:
        assert set(c) == {"check", "subject", "status", "detail", "fix"}
        assert c["status"] in ("ok", "fail", "note")


def test_bad_config_names_file_and_line_with_its_fix(fakes) -> None:
    s = Setup("port: 8317\nproviders:\n  openai:\n    base_url: 12\n    api_kee: env:OK\n")
    code, report = s.report()
    assert code == 1
    bad = failures(report, "config")
    assert bad and all(c["subject"].startswith(str(s.config) + ":") for c in bad)
    assert any(c["subject"] == f"{s.config}:5" and "api_kee" in c["detail"] for c in bad)
    assert all("edit line" in c["fix"] for c in bad)
    table = s.run()
    assert table.returncode == 1
    assert f"{s.config}:5" in table.stdout and "fix: edit line 5" in table.stdout


@pytest.mark.parametrize(("passphrase", "says", "fix"), [
    (None, "needs a passphrase", "PROXYPAL_PASSPHRASE"),
    ("not-the-passphrase", "", "is not the passphrase"),
])  # fmt: skip
def test_locked_or_undecryptable_secret_store(fakes, passphrase: str | None, says: str, fix: str) -> None:
    fo, _fa, _fg = fakes
    s = Setup(f'port: {free_port()}\nproviders:\n  openai: {{base_url: "{fo.base_url}", api_key: keyring:openai}}\n')
    EncryptedFileStore(s.pp_home / "data" / "secrets", passphrase=lambda: "the-right-one").set("openai", "sk-x")
    s.env.pop("PROXYPAL_PASSPHRASE")
    if passphrase:
        s.env["PROXYPAL_PASSPHRASE"] = passphrase
    code, report = s.report()
    assert code == 1
    [store] = failures(report, "secrets")
    assert says in store["detail"] and fix in store["fix"]
    [key] = failures(report, "provider")
    assert key["subject"] == "openai/keyring:openai" and "login openai --api-key-stdin --name openai" in key["fix"]


def test_provider_refusing_the_key(fakes) -> None:
    fo, fa, fg = fakes
    s = Setup(fakes_config(free_port(), fo, fa, fg), env={"OK": WRONG_KEY})
    code, report = s.report()
    assert code == 1
    [refused] = failures(report, "provider")
    assert refused["subject"] == "openai/env:OK"
    assert "HTTP 401" in refused["detail"] and "login openai --api-key-stdin" in refused["fix"]
    table = s.run()
    assert WRONG_KEY not in table.stdout + table.stderr
    assert WRONG_KEY not in json.dumps(report)
    assert "Incorrect API key" not in table.stdout  # the upstream's own error text is not echoed


def test_cooling_credential_from_the_ledger(fakes) -> None:
    import asyncio

    s = Setup(fakes_config(free_port(), *fakes))

    async def cool() -> None:
        store = await CooldownStore.open(s.pp_home / "data" / "usage.db")
        await store.put(Cooldown("anthropic", "env:AK", "claude-sonnet-4-6", time.time() + 600, "rate_limit", 429, 1))

    asyncio.run(cool())
    code, report = s.report()
    assert code == 1
    [cooling] = failures(report, "credential")
    assert cooling["subject"] == "anthropic/env:AK"
    assert "claude-sonnet-4-6" in cooling["detail"] and "HTTP 429" in cooling["detail"]
    assert "auth cooldowns --clear --provider anthropic --credential env:AK" in cooling["fix"]


def test_cooling_credential_from_the_running_engine(fakes) -> None:
    fo, fa, fg = fakes
    port = free_port()
    s = Setup(fakes_config(port, fo, fa, fg))
    with EngineProcess(s.config.read_text(), port, home=str(s.pp_home)) as eng:
        fo.queue(status=429, retry_after=300)
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        httpx.post(eng.url + "/v1/chat/completions", json=body, timeout=30)
        code, report = s.report()
    assert code == 1
    [cooling] = failures(report, "credential")
    assert cooling["subject"] == "openai/env:OK"
    assert "gpt-4o-mini" in cooling["detail"] and "HTTP 429" in cooling["detail"] and "min" in cooling["detail"]


def test_port_taken_by_another_process(fakes) -> None:
    port = free_port()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import socket, sys, time; s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); "
        "print('ready', flush=True); time.sleep(120)"), str(port)], stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        s = Setup(fakes_config(port, *fakes))
        code, report = s.report()
    finally:
        holder.kill()
        holder.wait()
    assert code == 1
    [taken] = failures(report, "port")
    assert f"pid {holder.pid}" in taken["detail"] and "python" in taken["detail"]
    assert "another `port:`" in taken["fix"]


def test_tool_pointing_elsewhere(fakes) -> None:
    s = Setup(fakes_config(free_port(), *fakes))
    (s.home / ".claude").mkdir()
    (s.home / ".claude" / "settings.json").write_text(
        json.dumps({"env": {"ANTHROPIC_BASE_URL": "https://api.anthropic.com", "ANTHROPIC_AUTH_TOKEN": "x"}})
    )
    code, report = s.report()
    assert code == 1
    [tool] = failures(report, "tool")
    assert tool["subject"] == "Claude Code" and "https://api.anthropic.com" in tool["detail"]
    assert "tools apply claude-code" in tool["fix"]


def test_tool_pointed_here_with_a_key_the_proxy_refuses(fakes) -> None:
    port = free_port()
    s = Setup(fakes_config(port, *fakes) + "clients:\n  - {name: laptop, key: env:CLIENT_KEY}\n",
              env={"CLIENT_KEY": "client-key-accepted"})  # fmt: skip
    (s.home / ".claude").mkdir()
    settings = s.home / ".claude" / "settings.json"
    env = {"ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}", "ANTHROPIC_AUTH_TOKEN": "client-key-stale"}
    settings.write_text(json.dumps({"env": env}))
    code, report = s.report()
    assert code == 1
    [tool] = failures(report, "tool")
    assert "does not accept" in tool["detail"]
    env["ANTHROPIC_AUTH_TOKEN"] = "client-key-accepted"
    settings.write_text(json.dumps({"env": env}))
    code, report = s.report()
    assert code == 0, report
    assert any(c["check"] == "tool" and "accepted" in c["detail"] for c in report["checks"])


def test_clock_skew_from_a_providers_date_header(fakes) -> None:
    fo, fa, fg = fakes
    fa.clock_offset_s = -300.0
    s = Setup(fakes_config(free_port(), fo, fa, fg))
    code, report = s.report()
    assert code == 1
    [clock] = failures(report, "clock")
    assert "anthropic" in clock["detail"] and "ahead of" in clock["detail"]
    assert 290 <= int(clock["detail"].split(" s ")[0]) <= 310
    assert "NTP" in clock["fix"]


def test_a_public_host_without_client_keys_is_refused_like_the_engine_does(fakes) -> None:
    s = Setup(fakes_config(free_port(), *fakes).replace("port:", "host: 0.0.0.0\nport:", 1))
    code, report = s.report()
    assert code == 1
    [refused] = failures(report, "config")
    assert "not loopback" in refused["detail"] and "clients:" in refused["fix"]
