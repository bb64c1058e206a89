"""Every token-count route on every upstream kind, through one real engine.

The three count routes (Anthropic `POST /v1/messages/count_tokens`, Gemini `models/{m}:countTokens`,
OpenAI `POST /v1/responses/input_tokens`) go to each kind's own counter where it has one, translated
into the counter's request shape (each fake validates that shape and refuses others), and the number
the client gets is the one that counter returned. Kinds without a counter answer the local estimate,
marked `X-ProxyPal-Token-Estimate: true`, and no upstream is called.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from proxy_engine.logins.tokens import TokenSet, save_tokens
from proxy_engine.paths import resolve_paths
from proxy_engine.secrets.store import open_secret_store
from tests.engine_harness import SECRET_ENV, EngineProcess, free_port
from tests.fakes import FakeAnthropic, FakeGemini, FakeOpenAI, FakeServerThread, Usage
from tests.fakes.bedrock_fake import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FakeBedrock
from tests.fakes.code_assist_fake import FakeCodeAssist
from tests.fakes.vertex_fake import FakeVertex

VX_PROJECT, VX_LOCATION, CA_PROJECT = "vx-count", "europe-west4", "proj-count"
BEDROCK_MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
VX = f"/v1/projects/{VX_PROJECT}/locations/{VX_LOCATION}/publishers"


@dataclass(frozen=True)
class Upstream:
    """One provider of the engine's config: its kind, model, and the counter path it must call (None: estimate)."""

    provider: str
    fake: str | None  # key of the fake that serves it
    model: str
    path: str | None
    count: int = 0  # the distinctive count its fake answers


UPSTREAMS = [
    Upstream("ant", "anthropic", "claude-sonnet-4-6", "/v1/messages/count_tokens", 4101),
    Upstream("vxc", "vertex", "claude-sonnet-4-5@20250929", f"{VX}/anthropic/models/count-tokens:rawPredict", 4202),
    Upstream("vxg", "vertex", "gemini-2.5-flash", f"{VX}/google/models/gemini-2.5-flash:countTokens", 4303),
    Upstream("bed", "bedrock", BEDROCK_MODEL, f"/model/{BEDROCK_MODEL}/count-tokens", 4404),
    Upstream("gem", "gemini", "gemini-2.5-flash", "/v1beta/models/gemini-2.5-flash:countTokens", 4505),
    Upstream("gcli", "code_assist", "gemini-2.5-pro", "/v1internal:countTokens", 4606),
    Upstream("oai", "openai", "gpt-4o", "/v1/responses/input_tokens", 4707),
    Upstream("compat", "openai", "llama-3.3-70b", None),
    Upstream("az", "openai", "gpt-4o", None),
    Upstream("cdx", "openai", "gpt-5-codex", None),
    Upstream("cop", "openai", "gpt-4o", None),
    Upstream("qw", "openai", "qwen-plus", None),
]
ROUTES = ("anthropic", "gemini", "openai_responses")
SYSTEM = "You are terse."
USER = "How many tokens is this sentence, roughly?"
TOOL, ARGS, RESULT = "read_file", {"path": "notes.txt"}, "buy milk"
SCHEMA = {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}


def _login(provider: str, access: str, **extra: Any) -> None:
    tokens = TokenSet(provider=provider, credential="ann", access_token=access, refresh_token=f"rt-{provider}",
                      expires_at=time.time() + 3600, account="ann@example.com", extra=extra)  # fmt: skip
    save_tokens(open_secret_store(resolve_paths()), tokens)


def _store_logins(home: Path) -> None:
    """The login-only kinds read stored logins; they are written into the engine's own home."""
    saved = {k: __import__("os").environ.get(k) for k in ("PROXYPAL_HOME", *SECRET_ENV)}
    env = __import__("os").environ
    env.update(PROXYPAL_HOME=str(home), **SECRET_ENV)
    try:
        _login("vertex", "ya29.count-vertex", project_id=VX_PROJECT, client_email="sa@vx.iam.gserviceaccount.com")
        _login("gemini-cli", "ya29.count-ca", project_id=CA_PROJECT)
        _login("codex", "codex-access-count", account_id="acct-count")
        _login("copilot", "copilot-session-count")
    finally:
        for k, v in saved.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EngineProcess, dict[str, Any]]]:
    home = tmp_path_factory.mktemp("count-home")
    _store_logins(home)
    aws = home / "aws-credentials"
    aws.write_text(f"[count]\naws_access_key_id = {FAKE_ACCESS_KEY}\naws_secret_access_key = {FAKE_SECRET_KEY}\n")
    aws_env = {"AWS_SHARED_CREDENTIALS_FILE": str(aws), "AWS_CONFIG_FILE": str(home / "none"),
               "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
               "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip
    with (
        FakeServerThread(FakeAnthropic()) as fa,
        FakeServerThread(FakeGemini(strict=True)) as fg,
        FakeServerThread(FakeOpenAI()) as fo,
        FakeServerThread(FakeVertex(api_key="ya29.count-vertex", project=VX_PROJECT, location=VX_LOCATION)) as fv,
        FakeServerThread(FakeCodeAssist(api_key="ya29.count-ca", project=CA_PROJECT)) as fc,
        FakeServerThread(FakeBedrock(region="eu-central-1")) as fb,
    ):
        fakes = {"anthropic": fa, "gemini": fg, "openai": fo, "vertex": fv, "code_assist": fc, "bedrock": fb}
        port = free_port()
        config = f"""port: {port}
providers:
  ant: {{kind: anthropic, base_url: "{fa.base_url}", api_key: env:AK}}
  vxc: {{kind: vertex, base_url: "{fv.origin}", location: {VX_LOCATION}}}
  vxg: {{kind: vertex, base_url: "{fv.origin}", location: {VX_LOCATION}}}
  bed: {{kind: bedrock, base_url: "{fb.origin}", region: eu-central-1, profile: count}}
  gem: {{kind: gemini, base_url: "{fg.base_url}", api_key: env:GK}}
  gcli: {{kind: gemini_cli, base_url: "{fc.base_url}"}}
  oai: {{kind: openai, base_url: "{fo.base_url}", api_key: env:OK, dialects: [openai_chat]}}
  compat: {{kind: openai_compatible, base_url: "{fo.base_url}", api_key: env:OK}}
  az: {{kind: azure_openai, base_url: "{fo.origin}", api_key: env:OK}}
  cdx: {{kind: codex, base_url: "{fo.base_url}"}}
  cop: {{kind: copilot, base_url: "{fo.base_url}"}}
  qw: {{kind: qwen, base_url: "{fo.base_url}", api_key: env:OK}}
"""
        with EngineProcess(config, port, env=aws_env, home=str(home)) as eng:
            yield eng, fakes


def _count_call(route: str, model: str) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(path, body, headers) of one client's token count, each in its own API's shape, with a tool round trip
    in the history so the counter's validator checks that calls and results stay paired."""
    if route == "anthropic":
        messages = [
            {"role": "user", "content": USER},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01", "name": TOOL, "input": ARGS}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": RESULT}]},
        ]
        tools = [{"name": TOOL, "description": "Reads a file.", "input_schema": SCHEMA}]
        body = {"model": model, "system": SYSTEM, "messages": messages, "tools": tools}
        return "/v1/messages/count_tokens", body, {"anthropic-version": "2023-06-01"}
    if route == "gemini":  # as Gemini CLI counts its history: contents only
        contents = [
            {"role": "user", "parts": [{"text": USER}]},
            {"role": "model", "parts": [{"functionCall": {"name": TOOL, "args": ARGS}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": TOOL, "response": {"output": RESULT}}}]},
        ]
        return f"/v1beta/models/{model}:countTokens", {"contents": contents}, {}
    items = [
        {"role": "user", "content": USER},
        {"type": "function_call", "call_id": "call_01", "name": TOOL, "arguments": json.dumps(ARGS)},
        {"type": "function_call_output", "call_id": "call_01", "output": RESULT},
    ]
    tools = [{"type": "function", "name": TOOL, "description": "Reads a file.", "parameters": SCHEMA}]
    body = {"model": model, "instructions": SYSTEM, "input": items, "tools": tools}
    return "/v1/responses/input_tokens", body, {}


def _client_count(route: str, reply: dict[str, Any]) -> int:
    """The number, read from the client dialect's own count shape (and nothing else in it)."""
    if route == "anthropic":
        assert set(reply) == {"input_tokens"}, reply
        return reply["input_tokens"]
    if route == "gemini":
        assert "totalTokens" in reply and set(reply) <= {"totalTokens", "promptTokensDetails"}, reply
        return reply["totalTokens"]
    assert reply["object"] == "response.input_tokens" and set(reply) == {"object", "input_tokens"}, reply
    return reply["input_tokens"]


@pytest.mark.parametrize("up", UPSTREAMS, ids=[u.provider for u in UPSTREAMS])
@pytest.mark.parametrize("route", ROUTES)
def test_count_route_reaches_the_upstream_counter_or_the_marked_estimate(
    stack: tuple[EngineProcess, dict[str, Any]], route: str, up: Upstream
) -> None:
    eng, fakes = stack
    for fake in fakes.values():
        fake.reset()
    if up.fake:
        fakes[up.fake].script(usage=Usage(input_tokens=up.count))
    path, body, headers = _count_call(route, f"{up.provider}/{up.model}")
    r = httpx.post(eng.url + path, json=body, headers=headers, timeout=20)
    assert r.status_code == 200, f"{route} on {up.provider}: {r.status_code} {r.text[:400]}"
    n = _client_count(route, r.json())
    sent = [req for fake in fakes.values() for req in fake.requests]
    if up.path is None:
        assert r.headers.get("X-ProxyPal-Token-Estimate") == "true"
        assert sent == [], "an estimate calls no upstream"
        assert 0 < n < 300, f"the estimate of a short exchange is small, got {n}"
        return
    assert "X-ProxyPal-Token-Estimate" not in r.headers, "a counted answer is not marked as an estimate"
    assert n == up.count, f"the client got {n}, not the count of {up.provider}'s counter"
    assert [req.path for req in sent] == [up.path]
    body_sent = sent[0].body.decode()
    assert USER in body_sent and RESULT in body_sent, "the prompt and the tool result reached the counter"
