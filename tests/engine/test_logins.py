"""Stored logins in the real engine: a Claude OAuth login serves requests, refreshes ahead of expiry,
and a failed refresh is loud (event, status, 503 to the client), never a stream of 401s."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import anthropic
import pytest

from proxy_engine.logins.endpoints import endpoints_for
from proxy_engine.logins.flows import browser_login
from proxy_engine.logins.providers import provider_auth
from proxy_engine.logins.tokens import load_tokens, save_tokens
from proxy_engine.paths import resolve_paths
from proxy_engine.secrets.store import open_secret_store
from tests.engine_harness import SECRET_ENV, EngineProcess, free_port
from tests.fakes import FakeAnthropic, FakeServerThread
from tests.logins.helpers import browser_opener
from tests.logins.oauth_server import FakeIdP
from tests.logins.scripted_ui import ScriptedUI


class LoginAwareAnthropic(FakeAnthropic):
    """Accepts exactly the access tokens the identity provider has issued (read live)."""

    def __init__(self, idp: FakeIdP) -> None:
        super().__init__()
        self.idp = idp

    def key_matches(self, presented: str | None) -> bool:
        return bool(presented) and presented in self.idp.issued


@pytest.fixture
async def idp():
    server = await FakeIdP().start()
    yield server
    await server.close()


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("PROXYPAL_HOME", str(home))
    for k, v in SECRET_ENV.items():
        monkeypatch.setenv(k, v)
    return home


async def _login_claude(idp: FakeIdP, *, expires_in: float | None = None):
    import httpx

    provider = provider_auth("claude", endpoints_for("claude", idp.endpoints("claude")))
    async with httpx.AsyncClient(timeout=10) as http:
        tokens = await browser_login(provider, ScriptedUI(idp), http=http, open_browser=browser_opener())
    if expires_in is not None:
        tokens.expires_at = time.time() + expires_in
    store = open_secret_store(resolve_paths())
    await asyncio.to_thread(save_tokens, store, tokens)
    return store, tokens


def _engine(home: Path, idp: FakeIdP, fa) -> EngineProcess:
    home.mkdir(parents=True, exist_ok=True)
    overrides = home / "endpoints.json"
    overrides.write_text(json.dumps({"claude": idp.endpoints("claude")}))
    port = free_port()
    cfg = f'port: {port}\nproviders:\n  claude: {{kind: anthropic, auth: oauth, base_url: "{fa.base_url}"}}\n'
    return EngineProcess(cfg, port, env={"PROXYPAL_AUTH_ENDPOINTS": str(overrides)}, home=str(home))


async def _ask(eng: EngineProcess, text: str = "hi") -> anthropic.types.Message:
    client = anthropic.AsyncAnthropic(base_url=eng.url, api_key="unused", max_retries=0)
    return await client.messages.create(
        model="claude-haiku-4-5", max_tokens=20, system="Be brief.", messages=[{"role": "user", "content": text}]
    )


async def test_a_claude_login_serves_requests_with_claude_code_headers(idp, home):
    _store, tokens = await _login_claude(idp)
    with FakeServerThread(LoginAwareAnthropic(idp)) as fa:
        eng = await asyncio.to_thread(_engine(home, idp, fa).start)
        try:
            msg = await _ask(eng)
            assert msg.content[0].text == "Hello from claude-haiku-4-5!"
            sent = fa.last_request
            assert sent.headers["authorization"] == f"Bearer {tokens.access_token}"
            assert "x-api-key" not in sent.headers
            assert "oauth-2025-04-20" in sent.headers["anthropic-beta"]
            system = sent.json["system"]
            assert system[0]["text"].startswith("You are Claude Code") and system[1]["text"] == "Be brief."
            status = (await asyncio.to_thread(eng.api, "GET", "/v0/auth/status")).json()
            cred = status["providers"][0]["credentials"][0]
            assert cred["type"] == "oauth" and cred["id"] == tokens.credential and cred["state"] == "valid"
            assert cred["source"] == "login:claude" and status["store"]["backend"]
            row = (await asyncio.to_thread(eng.records, 1))[0]
            assert row["credential"] == tokens.credential
            logs = "\n".join(p.read_text(errors="replace") for p in home.rglob("*.log*"))
            assert "engine" in logs, "the engine log was found"
            for secret in tokens.secrets():
                assert secret not in logs, "a token reached the engine log"
        finally:
            await asyncio.to_thread(eng.stop)


async def test_an_expiring_login_is_refreshed_before_use(idp, home):
    store, tokens = await _login_claude(idp, expires_in=30)  # inside the 5 minute lead window
    with FakeServerThread(LoginAwareAnthropic(idp)) as fa:
        eng = await asyncio.to_thread(_engine(home, idp, fa).start)
        try:
            await _ask(eng)
            used = fa.last_request.headers["authorization"][7:]
            assert used != tokens.access_token, "the engine refreshed before calling the upstream"
            assert used in idp.issued
            refreshed = await asyncio.to_thread(load_tokens, store, "claude", tokens.credential)
            assert refreshed.access_token == used and refreshed.expires_at > time.time() + 600
        finally:
            await asyncio.to_thread(eng.stop)


async def test_a_failed_refresh_is_loud(idp, home):
    _store, tokens = await _login_claude(idp, expires_in=-5)  # already expired
    idp.revoke_refresh_tokens()
    with FakeServerThread(LoginAwareAnthropic(idp)) as fa:
        eng = await asyncio.to_thread(_engine(home, idp, fa).start)
        sub = await asyncio.to_thread(eng.subscribe)
        try:
            with pytest.raises(anthropic.APIStatusError) as exc:
                await _ask(eng)
            assert exc.value.status_code == 503 and "refresh failed" in exc.value.message
            assert fa.requests == [], "no request is sent with a dead token"
            # The refresher may have failed before this subscriber connected: then hello's snapshot says so.
            hello = await asyncio.to_thread(sub.wait_for, "hello")
            early = [a for a in hello["snapshot"]["auth"] if a["state"] == "error"]
            ev = (
                early[0]
                if early
                else await asyncio.to_thread(sub.wait_for, "auth.changed", lambda e: e["state"] == "error")
            )
            assert ev["provider"] == "claude" and ev["credential"] == tokens.credential and ev["message"]
            status = (await asyncio.to_thread(eng.api, "GET", "/v0/auth/status")).json()
            assert status["providers"][0]["credentials"][0]["state"] == "error"
            r = await asyncio.to_thread(
                subprocess.run, [sys.executable, "-m", "proxy_engine", "auth", "status"], capture_output=True,
                text=True, env=eng.env, timeout=60,
            )  # fmt: skip
            assert r.returncode == 1 and "error" in r.stdout
            for secret in tokens.secrets():
                assert secret not in r.stdout + r.stderr
                assert secret not in json.dumps(sub.events)
        finally:
            sub.close()
            await asyncio.to_thread(eng.stop)


async def test_a_login_made_while_the_engine_runs_is_picked_up_on_reload(idp, home):
    with FakeServerThread(LoginAwareAnthropic(idp)) as fa:
        eng = await asyncio.to_thread(_engine(home, idp, fa).start)
        try:
            with pytest.raises(anthropic.APIStatusError) as exc:
                await _ask(eng)
            assert exc.value.status_code == 503 and "proxypal-engine login claude" in exc.value.message
            _, tokens = await _login_claude(idp)
            r = await asyncio.to_thread(eng.api, "POST", "/v0/auth/reload")
            assert r.json()["ok"] and r.json()["logins"] == 1
            msg = await _ask(eng)
            assert msg.content[0].text and fa.last_request.headers["authorization"] == f"Bearer {tokens.access_token}"
        finally:
            await asyncio.to_thread(eng.stop)


async def test_logins_added_and_removed_are_audited(idp, home):
    """`/v0/auth/reload` (what `login` and `logout` call) writes login.added / login.removed with the login's id."""
    with FakeServerThread(LoginAwareAnthropic(idp)) as fa:
        eng = await asyncio.to_thread(_engine(home, idp, fa).start)
        try:
            _, tokens = await _login_claude(idp)
            assert (await asyncio.to_thread(eng.api, "POST", "/v0/auth/reload")).json()["logins"] == 1
            out = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "proxy_engine", "logout", "claude",
                                                           "--json"], env=eng.env, capture_output=True, text=True,
                                          timeout=60)  # fmt: skip
            assert out.returncode == 0, out.stderr
            await asyncio.to_thread(eng.api, "POST", "/v0/auth/reload")  # again: nothing changed, nothing written
            entries = (await asyncio.to_thread(eng.api, "GET", "/v0/audit")).json()["entries"]
            trail = [(e["actor"], e["action"], e["target"], e["detail"]) for e in reversed(entries)]
            assert trail == [("admin", "login.added", tokens.credential, {"provider": "claude"}),
                             ("admin", "login.removed", tokens.credential, {"provider": "claude"})]  # fmt: skip
            assert tokens.access_token not in str(entries) and tokens.refresh_token not in str(entries)
        finally:
            await asyncio.to_thread(eng.stop)
