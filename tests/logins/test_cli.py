"""`login`, `logout`, `auth ...` as real subprocesses, on a headless box (no keyring, no terminal)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from pathlib import Path

import pytest

from proxy_engine.credentials.cooldowns import Cooldown, CooldownStore
from proxy_engine.logins.tokens import load_tokens, save_tokens
from proxy_engine.paths import resolve_paths
from proxy_engine.secrets.encrypted_file import EncryptedFileStore
from tests.logins.helpers import fetch_authorize, rsa_service_account
from tests.logins.oauth_server import FakeIdP

ROOT = Path(__file__).resolve().parents[2]
PASS = "cli-test-passphrase-91"
API_KEY = "sk-cli-test-SECRET-5f0e6d4c3b2a"


class CLI:
    def __init__(self, home: Path, idp: FakeIdP | None, tmp: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PROXYPAL_", "PYTHON_KEYRING"))}
        self.env |= {
            "PROXYPAL_HOME": str(home),
            "PROXYPAL_PASSPHRASE": PASS,
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",  # a headless box: no OS keyring
            "BROWSER": f"{sys.executable} {ROOT / 'tests/logins/fake_browser.py'} %s",
        }
        if idp is not None:
            overrides = tmp / "endpoints.json"
            names = ("claude", "codex", "gemini-cli", "copilot", "qwen", "vertex")
            overrides.write_text(json.dumps({n: idp.endpoints(n) for n in names}))
            self.env["PROXYPAL_AUTH_ENDPOINTS"] = str(overrides)
        self.outputs: list[str] = []

    async def start(self, *args: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.logins.cli_main",
            *args,
            cwd=ROOT,
            env=self.env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # no controlling terminal, like a service or a CI job
        )

    async def run(self, *args: str, stdin: str = "") -> tuple[int, str, str]:
        proc = await self.start(*args)
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
        self.outputs += [out.decode(), err.decode()]
        return proc.returncode or 0, out.decode(), err.decode()

    async def finish(self, proc: asyncio.subprocess.Process, seen: str = "") -> tuple[int, str, str]:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        self.outputs += [seen, out.decode(), err.decode()]
        return proc.returncode or 0, seen + out.decode(), err.decode()


async def _read_until(proc: asyncio.subprocess.Process, pattern: str) -> tuple[str, re.Match]:
    seen = ""
    while True:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)  # type: ignore[union-attr]
        if not line:
            raise AssertionError(f"CLI ended before printing {pattern!r}:\n{seen}")
        seen += line.decode()
        if m := re.search(pattern, seen):
            return seen, m


@pytest.fixture
def cli(pp_home: Path, tmp_path: Path) -> CLI:
    return CLI(pp_home, None, tmp_path)


@pytest.fixture
def idp_cli(pp_home: Path, tmp_path: Path, idp: FakeIdP) -> CLI:
    return CLI(pp_home, idp, tmp_path)


def _file_store() -> EncryptedFileStore:
    return EncryptedFileStore(resolve_paths().data_dir / "secrets", passphrase=lambda: PASS)


async def test_api_key_from_stdin_goes_to_the_encrypted_file(cli: CLI) -> None:
    code, out, err = await cli.run("login", "anthropic", "--api-key-stdin", stdin=API_KEY + "\n")
    assert code == 0, err
    assert "keyring:anthropic" in out
    assert "Secrets: encrypted file" in out and "Notice: no OS keyring backend is available" in out
    assert _file_store().get("anthropic") == API_KEY
    code, out, _ = await cli.run("login", "work-llm", "--api-key-stdin", "--name", "work", stdin=API_KEY)
    assert code == 0 and "api_key: keyring:work" in out
    code, out, _ = await cli.run("auth", "status")
    assert code == 0 and "keyring:anthropic" in out and "keyring:work" in out
    assert all(API_KEY not in text for text in cli.outputs)


async def test_api_key_input_errors(cli: CLI) -> None:
    code, _, err = await cli.run("login", "openai", "--api-key-stdin", stdin="  \n")
    assert code == 1 and "empty" in err
    code, _, err = await cli.run("login", "openai")  # no terminal to prompt on
    assert code == 1 and "--api-key-stdin" in err
    code, _, err = await cli.run("login", "openai", "--api-key-stdin", stdin="two words")
    assert code == 1 and "whitespace" in err


async def test_wrong_passphrase_is_a_clean_error(cli: CLI) -> None:
    assert (await cli.run("login", "openai", "--api-key-stdin", stdin=API_KEY))[0] == 0
    cli.env["PROXYPAL_PASSPHRASE"] = "wrong"
    code, _, err = await cli.run("auth", "status")
    assert code == 1 and "wrong passphrase" in err and "Traceback" not in err


async def test_claude_browser_login_status_logout(idp_cli: CLI, idp: FakeIdP) -> None:
    code, out, err = await idp_cli.run("login", "claude")
    assert code == 0, err
    assert "Logged in to claude as ann@example.com (credential ann@example.com)" in out
    assert "Your browser was opened" in out
    tokens = load_tokens(_file_store(), "claude", "ann@example.com")
    assert tokens is not None and tokens.access_token in idp.access

    code, out, _ = await idp_cli.run("auth", "status")
    assert code == 0 and re.search(r"claude\s+ann@example.com\s+valid, expires in \d+ min", out)
    code, out, _ = await idp_cli.run("logout", "claude")
    assert code == 0 and "Removed claude: ann@example.com" in out
    assert load_tokens(_file_store(), "claude", "ann@example.com") is None
    assert (await idp_cli.run("logout", "claude"))[0] == 1
    for secret in idp.issued:
        assert all(secret not in text for text in idp_cli.outputs)


async def test_codex_login_over_ssh_by_pasting(idp_cli: CLI, idp: FakeIdP) -> None:
    proc = await idp_cli.start("login", "codex", "--no-browser")
    seen, m = await _read_until(proc, r"\n  (http\S+)\n")
    location = await fetch_authorize(m.group(1))  # the user logs in on their laptop's browser
    proc.stdin.write((location + "\n").encode())  # type: ignore[union-attr]
    await proc.stdin.drain()  # type: ignore[union-attr]
    code, out, err = await idp_cli.finish(proc, seen)
    assert code == 0, err
    assert "Logged in to codex as ann@example.com" in out
    assert "paste it here" in out


async def test_copilot_device_login(idp_cli: CLI, idp: FakeIdP) -> None:
    proc = await idp_cli.start("login", "copilot")
    seen, m = await _read_until(proc, r"enter the code:\n\n  (\S+)\n")
    idp.approve_device(m.group(1))
    code, out, err = await idp_cli.finish(proc, seen)
    assert code == 0, err
    assert "Logged in to copilot as ann-gh" in out


async def test_device_flag_on_a_browser_only_provider(idp_cli: CLI) -> None:
    code, _, err = await idp_cli.run("login", "claude", "--device")
    assert code == 1 and "no device-code login" in err


async def test_vertex_service_account_login(idp_cli: CLI, idp: FakeIdP, tmp_path: Path) -> None:
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps(rsa_service_account(idp)))
    code, out, err = await idp_cli.run("login", "vertex", "--service-account", str(key_file))
    assert code == 0, err
    assert "Logged in to vertex as robot@proj-1.iam.gserviceaccount.com" in out and "Project: proj-1" in out
    assert "PRIVATE KEY" not in out + err


async def test_status_is_non_zero_when_a_refresh_fails(idp_cli: CLI, idp: FakeIdP) -> None:
    assert (await idp_cli.run("login", "claude"))[0] == 0
    store = _file_store()
    tokens = load_tokens(store, "claude", "ann@example.com")
    assert tokens is not None
    tokens.expires_at = time.time() - 5
    save_tokens(store, tokens)
    code, out, _ = await idp_cli.run("auth", "status")
    assert code == 0 and "expired" in out  # expired but refreshable is not an error yet

    idp.revoke_refresh_tokens()
    code, out, err = await idp_cli.run("auth", "status", "--refresh")
    assert code == 1
    assert re.search(r"claude\s+ann@example.com\s+error.*invalid_grant", out)
    assert "login(s) in error" in err
    code, out, _ = await idp_cli.run("auth", "status", "--json")
    data = json.loads(out)
    assert code == 1 and data["logins"][0]["state"] == "error" and "encrypted file" in data["backend"]

    assert (await idp_cli.run("login", "claude"))[0] == 0  # logging in again fixes it
    assert (await idp_cli.run("auth", "status"))[0] == 0


async def test_cooldowns_list_and_clear(cli: CLI) -> None:
    cooldowns = await CooldownStore.open(resolve_paths().ledger_file)
    await cooldowns.put(Cooldown("openai", "work", "gpt-5", time.time() + 300, "rate_limit", 429, 1))
    code, out, _ = await cli.run("auth", "cooldowns")
    assert code == 0 and "openai/work gpt-5: rate_limit (HTTP 429)" in out
    code, out, _ = await cli.run("auth", "cooldowns", "--json")
    assert json.loads(out)[0]["credential"] == "work"
    code, out, _ = await cli.run("auth", "cooldowns", "--clear", "--provider", "openai")
    assert code == 0 and "Cleared 1 cooldown(s)." in out
    assert "No credential is cooling down." in (await cli.run("auth", "cooldowns"))[1]


async def test_opt_in_key_file_lets_a_service_start_without_a_passphrase(cli: CLI) -> None:
    assert (await cli.run("login", "gemini", "--api-key-stdin", stdin=API_KEY))[0] == 0
    code, out, _ = await cli.run("auth", "keyfile")
    assert code == 0 and "mode 0600" in out
    del cli.env["PROXYPAL_PASSPHRASE"]
    code, out, _ = await cli.run("auth", "status")
    assert code == 0 and "key file" in out and "keyring:gemini" in out


async def test_missing_passphrase_on_a_headless_box(cli: CLI) -> None:
    del cli.env["PROXYPAL_PASSPHRASE"]
    code, _, err = await cli.run("login", "openai", "--api-key-stdin", stdin=API_KEY)
    assert code == 1 and "PROXYPAL_PASSPHRASE" in err
