"""`proxypal-engine login/logout --json`: the lines the TUI reads, from real subprocesses.

Logins run against the local OAuth server (tests/logins/oauth_server.py) with the encrypted-file
secret store; no secret may appear in any line, and nothing prompts on a terminal.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proxy_engine.logins.tokens import load_tokens
from tests.engine_harness import SECRET_ENV, EngineProcess, free_port
from tests.logins.helpers import fetch_authorize
from tests.logins.oauth_server import FakeIdP
from tests.tui.login_env import REPO, login_env, secrets_file_store

API_KEY = "sk-json-test-SECRET-93f1e2d4c5b6"


@pytest.fixture
async def idp() -> AsyncIterator[FakeIdP]:
    server = await FakeIdP().start()
    yield server
    await server.close()


class JsonCli:
    def __init__(self, home: Path, idp: FakeIdP | None) -> None:
        self.env = login_env(home, idp)
        self.lines: list[dict] = []
        self.raw: list[str] = []

    async def start(self, *args: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "proxy_engine", *args, cwd=REPO, env=self.env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip

    async def line(self, proc: asyncio.subprocess.Process) -> dict:
        raw = await asyncio.wait_for(proc.stdout.readline(), 30)  # type: ignore[union-attr]
        assert raw, "the CLI ended early"
        self.raw.append(raw.decode())
        self.lines.append(json.loads(raw))  # every stdout line is one JSON object
        return self.lines[-1]

    async def until(self, proc: asyncio.subprocess.Process, kind: str) -> dict:
        while (ev := await self.line(proc))["type"] != kind:
            assert ev["type"] != "error", ev
        return ev

    async def finish(self, proc: asyncio.subprocess.Process) -> int:
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        self.raw += [out.decode(), err.decode()]
        self.lines += [json.loads(ln) for ln in out.decode().splitlines()]
        return proc.returncode or 0

    async def run(self, *args: str, stdin: str = "") -> tuple[int, list[dict]]:
        proc = await self.start(*args)
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 30)
        self.raw += [out.decode(), err.decode()]
        lines = [json.loads(ln) for ln in out.decode().splitlines()]
        self.lines += lines
        return proc.returncode or 0, lines


async def test_api_key_from_stdin_then_logout(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cli = JsonCli(home, None)
    code, lines = await cli.run("login", "gemini", "--json", "--api-key-stdin", stdin=API_KEY)
    assert code == 0
    assert [ln["type"] for ln in lines] == ["store", "status", "done"]  # no engine running: nobody to tell
    assert lines[0]["backend"].startswith("encrypted file") and "PROXYPAL_SECRET_BACKEND=file" in lines[0]["notice"]
    assert lines[-1] == {"type": "done", "provider": "gemini", "credential": "keyring:gemini", "account": None,
                         "ref": "keyring:gemini"}  # fmt: skip
    assert secrets_file_store(home).get("gemini") == API_KEY
    code, lines = await cli.run("logout", "gemini", "--json", "--api-key")
    assert code == 0 and lines[-1] == {"type": "done", "provider": "gemini", "removed": ["api key keyring:gemini"]}
    assert secrets_file_store(home).get("gemini") is None
    code, lines = await cli.run("logout", "gemini", "--json")
    assert code == 1 and lines == [{"type": "error", "message": "Nothing stored for gemini."}]
    assert all(API_KEY not in text for text in cli.raw)


async def test_json_mode_never_prompts(tmp_path: Path) -> None:
    cli = JsonCli(tmp_path / "home", None)
    code, lines = await cli.run("login", "openai", "--json")
    assert code == 1 and lines[-1]["type"] == "error" and "--api-key-stdin" in lines[-1]["message"]
    cli.env.pop("PROXYPAL_PASSPHRASE")
    code, lines = await cli.run("login", "openai", "--json", "--api-key-stdin", stdin=API_KEY)
    assert code == 1 and lines[-1]["type"] == "error" and "PROXYPAL_PASSPHRASE" in lines[-1]["message"]


async def test_device_code_login_lines(tmp_path: Path, idp: FakeIdP) -> None:
    home = tmp_path / "home"
    cli = JsonCli(home, idp)
    proc = await cli.start("login", "copilot", "--json")
    code_line = await cli.until(proc, "device_code")
    assert code_line["verification_uri"].startswith(idp.base_url) and code_line["user_code"]
    idp.approve_device(code_line["user_code"])
    assert await cli.finish(proc) == 0
    done = cli.lines[-1]
    assert done == {"type": "done", "provider": "copilot", "credential": "ann-gh", "account": "ann-gh",
                    "project": None}  # fmt: skip
    assert load_tokens(secrets_file_store(home), "copilot", "ann-gh") is not None
    for secret in idp.issued:
        assert all(secret not in text for text in cli.raw)


async def test_browser_login_by_pasting_the_redirect_url(tmp_path: Path, idp: FakeIdP) -> None:
    home = tmp_path / "home"
    cli = JsonCli(home, idp)
    proc = await cli.start("login", "codex", "--json", "--no-browser")
    url_line = await cli.until(proc, "authorize_url")
    assert url_line["listening"] is False and url_line["browser_opened"] is False
    location = await fetch_authorize(url_line["url"])  # the user logs in on another machine's browser
    proc.stdin.write((location + "\n").encode())  # type: ignore[union-attr]
    await proc.stdin.drain()  # type: ignore[union-attr]
    assert await cli.finish(proc) == 0
    assert cli.lines[-1]["type"] == "done" and cli.lines[-1]["account"] == "ann@example.com"
    assert any(ln["type"] == "status" for ln in cli.lines)  # "exchanging the authorization code"
    for secret in idp.issued:
        assert all(secret not in text for text in cli.raw)


async def test_a_running_engine_is_told_about_a_new_login(tmp_path: Path, idp: FakeIdP) -> None:
    home = tmp_path / "home"
    port = free_port()
    config = f"port: {port}\nproviders:\n  copilot: {{}}\n"
    cli = JsonCli(home, idp)
    cli.env |= SECRET_ENV  # the harness's store settings, so engine and CLI open the same file
    with EngineProcess(
        config, port, env={"PROXYPAL_AUTH_ENDPOINTS": cli.env["PROXYPAL_AUTH_ENDPOINTS"]}, home=str(home)
    ) as eng:
        before = eng.api("GET", "/v0/auth/status").json()
        copilot = next(p for p in before["providers"] if p["name"] == "copilot")
        assert [c["state"] for c in copilot["credentials"]] == ["missing"]
        proc = await cli.start("login", "copilot", "--json")
        idp.approve_device((await cli.until(proc, "device_code"))["user_code"])
        assert await cli.finish(proc) == 0
        engine_line = next(ln for ln in cli.lines if ln["type"] == "engine")
        assert f"127.0.0.1:{port} picked up the change" in engine_line["message"]
        after = eng.api("GET", "/v0/auth/status").json()  # no waiting: the CLI posted /v0/auth/reload
        copilot = next(p for p in after["providers"] if p["name"] == "copilot")
        assert [(c["id"], c["state"]) for c in copilot["credentials"]] == [("ann-gh", "valid")]
