"""Member keys on every inference dialect: 401 unknown/revoked/expired, 403 model not allowed, 429 budget,
RPM and TPM (with Retry-After), each in the shape the caller's SDK parses; nothing refused reaches the upstream."""

from __future__ import annotations

import secrets

import httpx
import pytest

from tests.dialect_errors import dialect_error
from tests.engine_harness import EngineProcess, free_port
from tests.fakes import FakeOpenAI, FakeServerThread
from tests.fakes.script import Usage
from tests.team.members import api_create, cli_create

# 100 + 100 tokens at $1000 per million tokens: $0.20 per request.
PRICES = "prices: {gpt-4o-mini: {input_per_mtok: 1000, output_per_mtok: 1000}}\n"
DIALECTS = ("openai", "responses", "anthropic", "gemini")


def call(eng: EngineProcess, dialect: str, key: str, model: str = "gpt-4o-mini") -> httpx.Response:
    """One model call in `dialect`, with the key where that dialect's SDK puts it."""
    if dialect == "openai":
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        return httpx.post(eng.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, json=body,
                          timeout=20)  # fmt: skip
    if dialect == "responses":
        return httpx.post(eng.url + "/v1/responses", headers={"Authorization": f"Bearer {key}"},
                          json={"model": model, "input": "hi"}, timeout=20)  # fmt: skip
    if dialect == "anthropic":
        return httpx.post(eng.url + "/v1/messages", headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
                          json={"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]},
                          timeout=20)  # fmt: skip
    return httpx.post(eng.url + f"/v1beta/models/{model}:generateContent", headers={"x-goog-api-key": key},
                      json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, timeout=20)  # fmt: skip


def refused(r: httpx.Response, dialect: str, status: int) -> str:
    """The refusal's message, after checking its status and that the dialect's SDK would parse it."""
    assert r.status_code == status, r.text
    shape = "openai_chat" if dialect in ("openai", "responses") else dialect
    assert dialect_error(shape, status, r.content) is None, r.text
    return r.json()["error"]["message"]


@pytest.fixture(scope="module")
def fake():
    with FakeServerThread(FakeOpenAI()) as fo:
        yield fo


@pytest.fixture(scope="module")
def eng(fake):
    port = free_port()
    config = f'port: {port}\nproviders:\n  openai: {{base_url: "{fake.base_url}", api_key: env:OK}}\n{PRICES}'
    with EngineProcess(config, port) as e:
        yield e


@pytest.fixture(autouse=True)
def _usage(fake):
    fake.reset()
    fake.script(usage=Usage(input_tokens=100, output_tokens=100))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_member_key_is_served_and_its_rows_name_the_member_and_team(eng, fake, dialect):
    made = api_create(eng, name=f"dev-{dialect}", team="red")
    r = call(eng, dialect, made["key"])
    assert r.status_code == 200, r.text
    row = next(x for x in eng.records() if x["id"] == r.headers["X-ProxyPal-Request-Id"])
    assert (row["member"], row["team"], row["client"]) == (made["id"], "red", f"dev-{dialect}")
    assert made["key"] not in str(fake.requests[-1].headers), "a member key never goes upstream"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_unknown_revoked_and_expired_member_keys_are_401(eng, fake, dialect):
    revoked = api_create(eng, name=f"gone-{dialect}")
    assert call(eng, dialect, revoked["key"]).status_code == 200
    assert eng.api("POST", f"/v0/keys/{revoked['id']}/revoke").json()["ok"] is True
    expired = cli_create(eng, f"old-{dialect}", "--expires", "2020-01-01")
    sent = len(fake.requests)
    assert "not known" in refused(call(eng, dialect, "ppk_" + secrets.token_urlsafe(32)), dialect, 401)
    assert "revoked" in refused(call(eng, dialect, revoked["key"]), dialect, 401)
    assert "expired" in refused(call(eng, dialect, expired["key"]), dialect, 401)
    assert len(fake.requests) == sent


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_model_the_key_may_not_use_is_403(eng, fake, dialect):
    made = api_create(eng, name=f"narrow-{dialect}", models=["gpt-4o", "claude-*"])
    sent = len(fake.requests)
    message = refused(call(eng, dialect, made["key"]), dialect, 403)
    assert "may not use 'gpt-4o-mini'" in message and "gpt-4o, claude-*" in message
    assert len(fake.requests) == sent
    assert call(eng, dialect, made["key"], model="gpt-4o").status_code == 200


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_used_up_monthly_budget_is_429_until_next_month(eng, fake, dialect):
    made = cli_create(eng, f"thrifty-{dialect}", "--budget-monthly-usd", "0.3")
    assert call(eng, dialect, made["key"]).status_code == 200  # $0.20 of $0.30
    assert call(eng, dialect, made["key"]).status_code == 200  # $0.40: over, in flight when it started
    sent = len(fake.requests)
    r = call(eng, dialect, made["key"])
    assert "monthly budget is used up ($0.40 of $0.30)" in refused(r, dialect, 429)
    assert 0 < int(r.headers["Retry-After"]) <= 31 * 86400
    assert len(fake.requests) == sent


@pytest.mark.parametrize("dialect", DIALECTS)
def test_rpm_is_429_with_retry_after(eng, fake, dialect):
    made = api_create(eng, name=f"rpm-{dialect}", rpm=2)
    assert [call(eng, dialect, made["key"]).status_code for _ in range(2)] == [200, 200]
    r = call(eng, dialect, made["key"])
    assert "2 requests per minute" in refused(r, dialect, 429)
    assert 0 < int(r.headers["Retry-After"]) <= 60
    other = api_create(eng, name=f"rpm-other-{dialect}", rpm=2)
    assert call(eng, dialect, other["key"]).status_code == 200, "limits are per key"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_tpm_is_429_once_the_minute_s_tokens_are_used(eng, fake, dialect):
    made = api_create(eng, name=f"tpm-{dialect}", tpm=150)
    assert call(eng, dialect, made["key"]).status_code == 200  # 200 tokens
    r = call(eng, dialect, made["key"])
    assert "150 tokens per minute is reached (200 used)" in refused(r, dialect, 429)
    assert 0 < int(r.headers["Retry-After"]) <= 60


def test_model_lists_take_member_keys_and_refuse_revoked_ones(eng):
    made = api_create(eng, name="lister")
    ok = httpx.get(eng.url + "/v1/models", headers={"Authorization": f"Bearer {made['key']}"}, timeout=10)
    assert ok.status_code == 200
    eng.api("POST", f"/v0/keys/{made['id']}/revoke")
    gone = httpx.get(eng.url + "/v1/models", headers={"Authorization": f"Bearer {made['key']}"}, timeout=10)
    assert gone.status_code == 401
