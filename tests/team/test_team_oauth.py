"""One OAuth refresh for the whole team: three replicas with the same expiring login refresh it at once.

The identity provider (a real OAuth server, `tests/logins/oauth_server.py`) rotates refresh
tokens and refuses a used one, as Anthropic's does: without the team lock two replicas refreshing
together leave one with a refused refresh and an unusable login. Each replica has its own home
and secret store; the lock lives in a real Redis.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import anthropic
import pytest

from proxy_engine.logins.endpoints import endpoints_for
from proxy_engine.logins.flows import browser_login
from proxy_engine.logins.providers import provider_auth
from proxy_engine.logins.tokens import TokenSet, load_tokens, save_tokens
from proxy_engine.paths import resolve_paths
from proxy_engine.secrets.store import open_secret_store
from tests.engine_harness import SECRET_ENV, EngineProcess, free_port
from tests.fakes import FakeAnthropic, FakeServerThread
from tests.logins.helpers import browser_opener
from tests.logins.oauth_server import FakeIdP
from tests.logins.scripted_ui import ScriptedUI
from tests.team.engines import start_together


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


def _store(home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PROXYPAL_HOME", str(home))
    for k, v in SECRET_ENV.items():
        monkeypatch.setenv(k, v)
    return open_secret_store(resolve_paths())


def _refreshes(idp: FakeIdP) -> int:
    return sum(1 for s in idp.seen if s.path == "/oauth/token" and s.params.get("grant_type") == "refresh_token")


async def test_three_replicas_refreshing_one_login_at_once_refresh_it_once(idp, redis_url, tmp_path, monkeypatch):
    provider = provider_auth("claude", endpoints_for("claude", idp.endpoints("claude")))
    import httpx

    async with httpx.AsyncClient(timeout=10) as http:
        tokens = await browser_login(provider, ScriptedUI(idp), http=http, open_browser=browser_opener())
    tokens.expires_at = time.time() + 30  # inside the 5 minute lead: every replica refreshes at start
    homes = [tmp_path / f"replica-{i}" for i in range(3)]
    for home in homes:  # the same login in each replica's own store
        await asyncio.to_thread(save_tokens, _store(home, monkeypatch), TokenSet.from_json(tokens.to_json()))
    with FakeServerThread(LoginAwareAnthropic(idp)) as fa:
        engines = []
        for home in homes:
            (home / "endpoints.json").write_text(json.dumps({"claude": idp.endpoints("claude")}))
            port = free_port()
            cfg = (f'port: {port}\nproviders:\n  claude: {{kind: anthropic, auth: oauth, base_url: "{fa.base_url}"}}\n'
                   f'team: {{redis: "{redis_url}"}}\n')  # fmt: skip
            engines.append(EngineProcess(cfg, port, env={"PROXYPAL_AUTH_ENDPOINTS": str(home / "endpoints.json")},
                                         home=str(home)))  # fmt: skip
        await asyncio.to_thread(start_together, engines)
        try:
            # Requests on every replica at once, while their background refreshers race too.
            replies = await asyncio.gather(*(_ask(eng) for eng in engines for _ in range(3)))
            assert all(m.content[0].text for m in replies)
            assert _refreshes(idp) == 1, f"{_refreshes(idp)} refreshes: the replicas did not share one"
            used = {r.headers["authorization"] for r in fa.requests}
            assert len(used) == 1 and used != {f"Bearer {tokens.access_token}"}, "all used the one refreshed token"
            for home, eng in zip(homes, engines, strict=True):
                stored = await asyncio.to_thread(load_tokens, _store(home, monkeypatch), "claude", tokens.credential)
                assert f"Bearer {stored.access_token}" in used and stored.refresh_token != tokens.refresh_token
                cred = (await asyncio.to_thread(eng.api, "GET", "/v0/auth/status")).json()["providers"][0]
                assert cred["credentials"][0]["state"] == "valid"
        finally:
            for eng in engines:
                await asyncio.to_thread(eng.stop)


async def _ask(eng: EngineProcess) -> anthropic.types.Message:
    client = anthropic.AsyncAnthropic(base_url=eng.url, api_key="unused", max_retries=0)
    return await client.messages.create(
        model="claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    )
