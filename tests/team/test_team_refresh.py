"""One OAuth refresh for three replicas: the same expired Claude login in every replica's secret store,
three calls at once, and a real authorization server that rotates refresh tokens (a second refresh with
the old one is refused, as the providers do). Exactly one refresh reaches it; all three calls are served."""

from __future__ import annotations

import asyncio
import json
import time

import httpx

from proxy_engine.logins.endpoints import endpoints_for
from proxy_engine.logins.flows import browser_login
from proxy_engine.logins.providers import provider_auth
from proxy_engine.logins.tokens import TokenSet, save_tokens
from proxy_engine.paths import resolve_paths
from proxy_engine.secrets.store import open_secret_store
from tests.engine.test_logins import LoginAwareAnthropic
from tests.engine_harness import SECRET_ENV
from tests.fakes import FakeServerThread
from tests.logins.helpers import browser_opener
from tests.logins.oauth_server import FakeIdP
from tests.logins.scripted_ui import ScriptedUI
from tests.team.replicas import ReplicaSet, members
from tests.team.shared_state import needs_shared_state


async def _expired_login(idp: FakeIdP) -> TokenSet:
    provider = provider_auth("claude", endpoints_for("claude", idp.endpoints("claude")))
    async with httpx.AsyncClient(timeout=10) as http:
        tokens = await browser_login(provider, ScriptedUI(idp), http=http, open_browser=browser_opener())
    tokens.expires_at = time.time() - 5
    return tokens


def _refreshes(idp: FakeIdP) -> int:
    return sum(1 for s in idp.seen if s.path == "/oauth/token" and s.params.get("grant_type") == "refresh_token")


async def test_three_replicas_racing_on_one_expired_login_refresh_it_once(
    postgres_url, redis_url, monkeypatch, tmp_path
):
    needs_shared_state()
    idp = await FakeIdP().start()
    try:
        tokens = await _expired_login(idp)
        overrides = tmp_path / "endpoints.json"
        overrides.write_text(json.dumps({"claude": idp.endpoints("claude")}))
        with FakeServerThread(LoginAwareAnthropic(idp)) as fa:
            claude = f'  claude: {{kind: anthropic, auth: oauth, base_url: "{fa.base_url}"}}\n'
            team = ReplicaSet(fa.base_url, postgres_url, redis_url, members({"ops": None}), more_providers=claude,
                              env={"PROXYPAL_AUTH_ENDPOINTS": str(overrides)})  # fmt: skip
            for replica in team.replicas:  # the same login in each replica's own secret store
                monkeypatch.setenv("PROXYPAL_HOME", str(replica.home))
                for k, v in SECRET_ENV.items():
                    monkeypatch.setenv(k, v)
                await asyncio.to_thread(save_tokens, open_secret_store(resolve_paths()), tokens)
            before = _refreshes(idp)  # replicas may refresh ahead of use as they start: count from here
            await asyncio.to_thread(team.__enter__)
            try:
                needs_shared_state(team.replicas[0])
                key = team.members["ops"].key
                async with httpx.AsyncClient(timeout=60) as http:
                    answers = await asyncio.gather(*(_ask(http, r.url, key) for r in team.replicas))
                assert [a.status_code for a in answers] == [200, 200, 200], [a.text[:200] for a in answers]
                assert _refreshes(idp) - before == 1, "more than one replica refreshed the login"
                used = {r.headers["authorization"].removeprefix("Bearer ") for r in fa.requests}
                assert len(used) == 1 and tokens.access_token not in used  # all three use the one new token
            finally:
                await asyncio.to_thread(team.__exit__, None, None, None)
    finally:
        await idp.close()


async def _ask(http: httpx.AsyncClient, url: str, key: str) -> httpx.Response:
    body = {"model": "claude-sonnet-4-6", "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]}
    return await http.post(url + "/v1/messages", json=body,
                           headers={"x-api-key": key, "anthropic-version": "2023-06-01"})  # fmt: skip
