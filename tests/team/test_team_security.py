"""Security across three replicas: what a member key may reach on /v0, revocation everywhere, and no key or
secret in plaintext in any replica's log, in an events subscriber's lines, or anywhere in the database."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.engine_harness import EngineProcess
from tests.fakes import FakeOpenAI, FakeServerThread
from tests.team.engines import wait_until
from tests.team.replicas import MODEL, UPSTREAM_KEYS, Load, ReplicaSet, members, pg_dump
from tests.team.shared_state import member_keys_available, needs_member_keys

ADMIN_ONLY = [("GET", "/v0/config"), ("GET", "/v0/requests"), ("GET", "/v0/status"), ("GET", "/v0/audit"),
              ("POST", "/v0/auth/cooldowns/clear"), ("GET", "/v0/keys"), ("POST", "/v0/keys")]  # fmt: skip
PG_PASSWORD = "pg-Team-Secret-9c1d77"


@pytest.fixture(scope="module")
def upstream():
    with FakeServerThread(FakeOpenAI(api_keys=UPSTREAM_KEYS)) as fake:
        yield fake


def _as(replica: EngineProcess, key: str, method: str, path: str) -> httpx.Response:
    return httpx.request(method, replica.url + path, headers={"Authorization": "Bearer " + key}, json={}, timeout=10)


def _chat(replica: EngineProcess, key: str) -> httpx.Response:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(replica.url + "/v1/chat/completions", json=body, headers={"Authorization": "Bearer " + key},
                      timeout=20)  # fmt: skip


def _with_password(url: str) -> str:
    """The same server with a password in its URL (trust auth ignores it; what matters is that it never leaks)."""
    p = urlsplit(url)
    return urlunsplit(p._replace(netloc=f"{p.username}:{PG_PASSWORD}@{p.hostname}:{p.port}"))


def test_a_member_key_cannot_call_admin_endpoints_on_any_replica(upstream, postgres_url, redis_url):
    with ReplicaSet(upstream.base_url, postgres_url, redis_url, members({"ivy": None})) as team:
        ivy = team.members["ivy"]
        for replica in team.replicas:
            assert _chat(replica, ivy.key).status_code == 200
            for method, path in ADMIN_ONLY:
                r = _as(replica, ivy.key, method, path)
                if r.status_code == 404 and replica.api(method, path, json={}).status_code == 404:
                    continue  # not in this engine yet (/v0/audit, /v0/keys come with member keys)
                assert r.status_code in (401, 403), (replica.url, method, path, r.status_code)
                assert "Traceback" not in r.text


def test_member_keys_see_only_their_own_usage_and_stop_working_everywhere_once_revoked(
    upstream, postgres_url, redis_url
):
    needs_member_keys()
    with ReplicaSet(upstream.base_url, postgres_url, redis_url, members({"ops": None})) as team:
        first = team.replicas[0]
        made = {name: team.keys("create", name, "--budget-monthly-usd", "5") for name in ("jo", "kim")}
        jo, kim = made["jo"]["key"], made["kim"]["key"]
        for replica in team.replicas:  # other replicas re-read the keys within seconds
            for key in (jo, kim):
                wait_until(lambda r=replica, k=key: _chat(r, k).status_code == 200, what=f"the keys on {replica.url}")
        mine = _as(first, jo, "GET", "/v0/usage?key=me")
        assert mine.status_code == 200, mine.text
        assert "kim" not in mine.text
        for other in (made["kim"]["id"], "kim"):
            assert _as(first, jo, "GET", f"/v0/usage?key={other}").status_code == 403
        assert _as(first, jo, "GET", "/v0/usage").status_code == 403  # everyone's usage is the admin's

        team.keys("revoke", made["jo"]["id"])
        for replica in team.replicas:
            wait_until(lambda r=replica: _chat(r, jo).status_code == 401, what=f"jo refused on {replica.url}")
            assert _chat(replica, kim).status_code == 200


def test_no_key_or_secret_in_plaintext_in_logs_events_or_the_database(upstream, postgres_url, redis_url):
    url = _with_password(postgres_url)
    team_members = members({"lea": 0.05, "max": None})
    with ReplicaSet(upstream.base_url, url, redis_url, team_members) as team:
        sub = team.replicas[0].subscribe()
        try:
            secrets = [*UPSTREAM_KEYS, PG_PASSWORD, url, *(m.key for m in team_members)]
            bad_key = "sk-pp-not-a-member-" + "x" * 20
            assert _chat(team.replicas[1], bad_key).status_code == 401
            secrets.append(bad_key)
            upstream.queue(key=UPSTREAM_KEYS[0], status=401)  # an upstream refusal goes through the logs
            Load(team, 6, 60).join()
            if member_keys_available():  # a member key too: made, used on every replica, revoked
                made = team.keys("create", "zoe", "--budget-monthly-usd", "1")
                secrets.append(str(made["key"]))
                for replica in team.replicas:
                    wait_until(lambda r=replica: _chat(r, str(made["key"])).status_code == 200, what="zoe's key")
                team.keys("revoke", str(made["id"]))
            time.sleep(0.6)  # a stats event and a ledger batch
            dump = asyncio.run(pg_dump(postgres_url))
            assert "lea" in dump  # the rows are there, under the member's name
            places = {"replica logs": team.stderr(), "events": json.dumps(sub.events), "database": dump,
                      "answers": "\n".join(r.api("GET", "/v0/config").text for r in team.replicas)}  # fmt: skip
            for where, text in places.items():
                for secret in secrets:
                    assert secret not in text, f"a secret ({secret[:6]}…) is in plaintext in the {where}"
        finally:
            sub.close()
