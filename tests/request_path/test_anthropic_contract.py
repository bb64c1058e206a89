"""Claude Code's gateway contract (Anthropic's "LLM gateway" page): what a same-dialect call must keep
byte for byte, which errors must reach Claude Code in the wording it recovers by, and what an upstream
that is not Anthropic's own API must never be sent (unknown betas, foreign thinking signatures)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from proxy_engine.translate.thinking import WRAP_PREFIX
from tests.fakes import FakeProvider, FakeServerThread, InvalidRequest, Usage
from tests.fakes.bedrock_fake import validate_converse
from tests.request_path.claude_stack import CLAUDE_CODE_BETAS, ClaudeStack, claude_stack, message_from_stream

CLAUDE = "anthropic/claude-sonnet-4-6"
VERTEX_CLAUDE = "vertex/claude-sonnet-4-5@20250929"
BEDROCK_CLAUDE = "bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0"
GEMINI = "gemini/gemini-2.5-pro"
GPT = "openai/gpt-4o"
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClaudeStack]:
    home = tmp_path_factory.mktemp("contract") / "home"
    home.mkdir()
    with claude_stack(home) as s:
        yield s


@pytest.fixture(autouse=True)
def _fresh(stack: ClaudeStack) -> None:
    for fake in stack.fakes:
        fake.reset()
    stack.engine.clear_cooldowns()


def _row(stack: ClaudeStack) -> dict[str, Any]:
    return stack.engine.records(1)[0]


# ----- 1. same dialect: headers and body as sent ----------------------------------------------------------


def test_same_dialect_forwards_betas_version_and_the_body_byte_for_byte(stack: ClaudeStack) -> None:
    # Odd spacing, key order and escapes: a re-serialised body would differ.
    raw = (
        b'{ "max_tokens":64,"model" : "anthropic/claude-sonnet-4-6", "metadata":{"user_id":"u\\u00e9"},'
        b'"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":'
        b'{"type":"ephemeral","ttl":"1h"}}]}],"context_management":{"edits":[]} }'
    )
    r = httpx.post(stack.engine.url + "/v1/messages", content=raw, headers={
        "content-type": "application/json", "anthropic-version": "2023-06-01", "anthropic-beta": CLAUDE_CODE_BETAS,
        "X-Claude-Code-Session-Id": "sess-42"})  # fmt: skip
    assert r.status_code == 200, r.text
    sent = stack.anthropic.last_request
    assert sent.body == raw.replace(b'"anthropic/claude-sonnet-4-6"', b'"claude-sonnet-4-6"')
    assert sent.headers["anthropic-beta"] == CLAUDE_CODE_BETAS
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.headers["x-claude-code-session-id"] == "sess-42"


# ----- 2. same dialect: the upstream's error exactly as it sent it ---------------------------------------


@pytest.mark.parametrize(
    ("status", "message", "etype"),
    [(400, "prompt is too long: 212000 tokens > 200000 maximum", "invalid_request_error"),
     (529, "Overloaded", "overloaded_error"), (500, "Internal server error", "api_error"),
     (429, "Number of request tokens has exceeded your per-minute rate limit", "rate_limit_error")],
)  # fmt: skip
def test_same_dialect_anthropic_errors_reach_claude_code_unmodified(
    stack: ClaudeStack, status: int, message: str, etype: str
) -> None:
    stack.anthropic.script(status=status, error_message=message, retry_after=7 if status == 429 else None)
    r = stack.messages({"model": CLAUDE, "max_tokens": 64, "messages": HI})
    assert r.status_code == status
    body = r.json()
    assert body["error"] == {"type": etype, "message": message}
    assert body["request_id"].startswith("req_011") and r.headers["request-id"] == body["request_id"]
    if status == 429:
        assert r.headers["Retry-After"] == "7"
    row = _row(stack)
    assert row["status"] == status and message in row["error"]["message"]


def test_a_retryable_same_dialect_error_still_fails_over_before_reaching_the_client(stack: ClaudeStack) -> None:
    stack.anthropic.script(status=529, error_message="Overloaded")
    models = 'models:\n  Both: ["anthropic/claude-sonnet-4-6", "vertex/claude-sonnet-4-5@20250929"]\n'
    r = stack.engine.api("PUT", "/v0/config", json={"text": stack.engine.config_path.read_text() + models})
    assert r.status_code == 200 and r.json()["ok"], r.text
    try:
        r = stack.messages({"model": "Both", "max_tokens": 64, "messages": HI})
        assert r.status_code == 200 and r.json()["content"][0]["text"] == "Hello from claude-sonnet-4-5@20250929!"
        row = _row(stack)
        assert row["attempts"] == 2 and row["provider"] == "vertex"
        cools = [c for p in stack.engine.api("GET", "/v0/auth/status").json()["providers"]
                 if p["name"] == "anthropic" for cred in p["credentials"] for c in cred["cooldowns"]]  # fmt: skip
        assert cools and cools[0]["status"] == 529
    finally:
        stack.engine.api("PUT", "/v0/config", json={"text": stack.engine.config_path.read_text().replace(models, "")})


def test_same_dialect_openai_and_gemini_errors_pass_through_too(stack: ClaudeStack) -> None:
    overflow = "This model's maximum context length is 128000 tokens. However, your messages resulted in 130532 tokens."
    stack.openai.script(status=400, error_message=overflow)
    r = httpx.post(stack.engine.url + "/v1/chat/completions", json={"model": GPT, "messages": HI})
    assert r.status_code == 400 and r.json()["error"]["message"] == overflow
    stack.gemini.script(status=503, error_message="The model is overloaded. Please try again later.")
    r = httpx.post(stack.engine.url + f"/v1beta/models/{GEMINI}:generateContent",
                   json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})  # fmt: skip
    assert r.status_code == 503
    assert r.json()["error"] == {"code": 503, "message": "The model is overloaded. Please try again later.",
                                 "status": "UNAVAILABLE"}  # fmt: skip


# ----- 3. translated: the errors Claude Code recovers from, in its own terms ------------------------------

TRANSLATED_ERRORS = [
    ("openai", 400, "This model's maximum context length is 128000 tokens. However, your messages resulted in "
     "130532 tokens. Please reduce the length of the messages.", None,
     400, "invalid_request_error", "prompt is too long: 130532 tokens > 128000 maximum"),
    ("gemini", 400, "The input token count (1234567) exceeds the maximum number of tokens allowed (1048576).", None,
     400, "invalid_request_error", "prompt is too long: 1234567 tokens > 1048576 maximum"),
    ("gemini", 429, "Resource has been exhausted (e.g. check quota).", None, 429, "rate_limit_error", None),
    ("openai", 429, "Rate limit reached for gpt-4o", None, 429, "rate_limit_error", None),
    ("gemini", 503, "The model is overloaded. Please try again later.", None, 529, "overloaded_error", None),
    ("openai", 503, "The server is overloaded or not ready yet.", None, 529, "overloaded_error", None),
]  # fmt: skip


@pytest.mark.parametrize(("upstream", "status", "message", "etype_in", "want", "etype", "wording"), TRANSLATED_ERRORS)
def test_translated_errors_use_the_types_and_wording_claude_code_recognises(
    stack: ClaudeStack, upstream: str, status: int, message: str, etype_in: str | None, want: int, etype: str,
    wording: str | None,
) -> None:  # fmt: skip
    fake = stack.openai if upstream == "openai" else stack.gemini
    fake.script(status=status, error_message=message, error_type=etype_in, retry_after=9 if status == 429 else None)
    for stream in (False, True):
        stack.engine.clear_cooldowns()
        r = stack.messages({"model": GPT if upstream == "openai" else GEMINI, "max_tokens": 64, "messages": HI,
                            "stream": stream})  # fmt: skip
        assert r.status_code == want, r.text
        assert r.json() == {"type": "error", "error": {"type": etype, "message": wording or message}}
        if status == 429:  # Gemini's RetryInfo in the body, OpenAI's header: Claude Code waits as told
            assert r.headers["Retry-After"] == "9"


# ----- 4. betas and body fields an upstream does not take ------------------------------------------------


def test_vertex_gets_only_the_betas_it_accepts(stack: ClaudeStack) -> None:
    r = stack.messages({"model": VERTEX_CLAUDE, "max_tokens": 64, "messages": HI})
    assert r.status_code == 200, r.text
    sent = stack.vertex.last_request
    assert sent.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14,context-management-2025-06-27"
    r = stack.messages({"model": VERTEX_CLAUDE, "max_tokens": 64, "messages": HI}, betas="claude-code-20250219")
    assert r.status_code == 200 and "anthropic-beta" not in stack.vertex.last_request.headers


def test_the_vertex_fake_rejects_an_unknown_beta_like_vertex(stack: ClaudeStack) -> None:
    """The conformance the test above leans on: sent straight to the fake, the flag is a 400."""
    url = (f"{stack.vertex.origin}/v1/projects/fake-vertex-project/locations/us-central1/publishers/anthropic/"
           "models/claude-sonnet-4-5:rawPredict")  # fmt: skip
    body = {"anthropic_version": "vertex-2023-10-16", "max_tokens": 8, "messages": HI}
    r = httpx.post(url, json=body, headers={"Authorization": f"Bearer {stack.vertex.api_key}",
                                            "anthropic-beta": "claude-code-20250219"})  # fmt: skip
    assert r.status_code == 400 and "Unexpected value(s) `claude-code-20250219`" in r.json()["error"]["message"]


@pytest.mark.parametrize("model", [BEDROCK_CLAUDE, GPT, GEMINI])
def test_translated_calls_carry_no_betas_and_no_cache_control(stack: ClaudeStack, model: str) -> None:
    cc = {"type": "ephemeral", "ttl": "1h"}
    body = {
        "model": model,
        "max_tokens": 64,
        "system": [{"type": "text", "text": "be brief", "cache_control": cc}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": cc}]}],
    }
    r = stack.messages(body)
    assert r.status_code == 200, r.text
    fake = {BEDROCK_CLAUDE: stack.bedrock, GPT: stack.openai, GEMINI: stack.gemini}[model]
    sent = fake.last_request
    assert "anthropic-beta" not in sent.headers
    assert b"cache_control" not in sent.body and b"anthropic_beta" not in sent.body


def test_bedrock_gets_the_betas_it_accepts_in_its_body_field(stack: ClaudeStack) -> None:
    r = stack.messages({"model": BEDROCK_CLAUDE, "max_tokens": 64, "messages": HI},
                       betas=CLAUDE_CODE_BETAS + ",context-1m-2025-08-07")  # fmt: skip
    assert r.status_code == 200, r.text
    sent = stack.bedrock.last_request
    assert sent.json["additionalModelRequestFields"]["anthropic_beta"] == ["context-1m-2025-08-07"]
    assert "anthropic-beta" not in sent.headers


def test_the_bedrock_fake_rejects_an_unknown_beta_like_bedrock() -> None:
    body = {"messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "additionalModelRequestFields": {"anthropic_beta": ["claude-code-20250219"]}}  # fmt: skip
    with pytest.raises(InvalidRequest, match="invalid beta flag"):
        validate_converse(body)


def test_anthropic_keeps_cache_control_with_its_ttl(stack: ClaudeStack) -> None:
    cc = {"type": "ephemeral", "ttl": "1h"}
    body = {
        "model": CLAUDE,
        "max_tokens": 64,
        "system": [{"type": "text", "text": "sys", "cache_control": cc}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": cc}]}],
    }
    assert stack.messages(body).status_code == 200
    assert stack.anthropic.last_request.json["system"][0]["cache_control"] == cc
    assert stack.messages({**body, "model": VERTEX_CLAUDE}).status_code == 200
    assert stack.vertex.last_request.json["messages"][0]["content"][0]["cache_control"] == cc


def test_the_openai_fake_rejects_cache_control_like_openai(stack: ClaudeStack) -> None:
    content = [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    r = httpx.post(stack.openai.base_url + "/chat/completions", headers={"Authorization": "Bearer sk-fake-openai"},
                   json={"model": "gpt-4o", "messages": [{"role": "user", "content": content}]})  # fmt: skip
    assert r.status_code == 400 and "cache_control" in r.json()["error"]["message"]


# ----- 5. thinking signed by another provider never reaches Anthropic -------------------------------------


def _turn_one(stack: ClaudeStack, model: str) -> dict[str, Any]:
    body = {"model": model, "max_tokens": 4096, "stream": True, "thinking": {"type": "enabled", "budget_tokens": 2048},
            "messages": [{"role": "user", "content": "Why is the sky blue?"}]}  # fmt: skip
    return message_from_stream(stack.messages(body))


@pytest.mark.parametrize("first", [GEMINI, GPT])
def test_foreign_thinking_is_stripped_before_a_pass_through_to_anthropic(stack: ClaudeStack, first: str) -> None:
    (stack.gemini if first == GEMINI else stack.openai).script(text="Rayleigh scattering.", thinking="Light scatters.")
    turn1 = _turn_one(stack, first)
    thinking = [b for b in turn1["content"] if b["type"] == "thinking"]
    assert thinking and thinking[0]["thinking"] == "Light scatters."
    history = [
        {"role": "user", "content": "Why is the sky blue?"},
        {"role": "assistant", "content": turn1["content"]},
        {"role": "user", "content": "And sunsets?"},
    ]
    body = {"model": CLAUDE, "max_tokens": 4096, "thinking": {"type": "enabled", "budget_tokens": 2048},
            "messages": history}  # fmt: skip
    # Sent as it is, the Anthropic fake refuses it the way the API does:
    direct = httpx.post(stack.anthropic.base_url + "/v1/messages", json={**body, "model": "claude-sonnet-4-6"},
                        headers={"x-api-key": "sk-ant-fake", "anthropic-version": "2023-06-01"})  # fmt: skip
    assert direct.status_code == 400
    assert direct.json()["error"]["message"] == "messages.1.content.0: Invalid `signature` in `thinking` block"
    r = stack.messages(body)
    assert r.status_code == 200, r.text
    sent = stack.anthropic.last_request.json
    assert WRAP_PREFIX not in json.dumps(sent)
    assert [b["type"] for b in sent["messages"][1]["content"]] == ["text"]
    assert sent["messages"][1]["content"][0]["text"] == "Rayleigh scattering."


def test_anthropic_s_own_thinking_goes_back_untouched(stack: ClaudeStack) -> None:
    stack.anthropic.script(text="Rayleigh.", thinking="Light scatters.")
    turn1 = _turn_one(stack, CLAUDE)
    history = [{"role": "user", "content": "Why is the sky blue?"}, {"role": "assistant", "content": turn1["content"]},
               {"role": "user", "content": "And sunsets?"}]  # fmt: skip
    raw = json.dumps({"model": CLAUDE, "max_tokens": 4096, "thinking": {"type": "enabled", "budget_tokens": 2048},
                      "messages": history}).encode()  # fmt: skip
    r = httpx.post(stack.engine.url + "/v1/messages", content=raw, headers={"anthropic-version": "2023-06-01"})
    assert r.status_code == 200, r.text
    assert stack.anthropic.last_request.body == raw.replace(CLAUDE.encode(), b"claude-sonnet-4-6")


# ----- 6. cache tokens in the ledger, translated or not ----------------------------------------------------


@pytest.mark.parametrize("model", [CLAUDE, VERTEX_CLAUDE, GPT, GEMINI, BEDROCK_CLAUDE])
def test_cache_reads_and_writes_are_recorded(stack: ClaudeStack, model: str) -> None:
    writes = model in (CLAUDE, VERTEX_CLAUDE, BEDROCK_CLAUDE)  # OpenAI and Gemini report reads only
    usage = Usage(input_tokens=1000, output_tokens=20, cache_read_tokens=600, cache_write_tokens=300 if writes else 0)
    for fake in stack.fakes:
        fake.script(usage=usage)
    for stream in (False, True):
        r = stack.messages({"model": model, "max_tokens": 64, "messages": HI, "stream": stream})
        assert r.status_code == 200, r.text
        row = _row(stack)
        assert (row["input_tokens"], row["cache_read_tokens"]) == (1000, 600)
        assert row["cache_write_tokens"] == (300 if writes else 0)


# ----- 6. optional cache breakpoints for clients that mark none ---------------------------------------------


@pytest.fixture
def auto_breakpoints(stack: ClaudeStack) -> Iterator[None]:
    original = stack.engine.config_path.read_text()
    r = stack.engine.api("PUT", "/v0/config", json={"text": original + "routing: {cache_breakpoints: auto}\n"})
    assert r.status_code == 200 and r.json()["ok"], r.text
    yield
    assert stack.engine.api("PUT", "/v0/config", json={"text": original}).json()["ok"]


TOOL = {"name": "Read", "description": "Read a file", "input_schema": {"type": "object", "properties": {}}}


@pytest.mark.usefixtures("auto_breakpoints")
@pytest.mark.parametrize("model", [CLAUDE, VERTEX_CLAUDE])
def test_auto_breakpoints_mark_system_tools_and_the_last_user_turn(stack: ClaudeStack, model: str) -> None:
    body = {"model": model, "max_tokens": 64, "system": "You are terse.", "tools": [TOOL, {**TOOL, "name": "Edit"}],
            "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                         {"role": "user", "content": "c"}]}  # fmt: skip
    assert stack.messages(body).status_code == 200
    sent = (stack.anthropic if model == CLAUDE else stack.vertex).last_request.json
    eph = {"type": "ephemeral"}
    assert sent["system"] == [{"type": "text", "text": "You are terse.", "cache_control": eph}]
    assert "cache_control" not in sent["tools"][0] and sent["tools"][1]["cache_control"] == eph
    assert sent["messages"][0]["content"] == "a" and sent["messages"][1]["content"] == "b"
    assert sent["messages"][2]["content"] == [{"type": "text", "text": "c", "cache_control": eph}]


@pytest.mark.usefixtures("auto_breakpoints")
def test_auto_breakpoints_for_a_translated_client_and_never_over_the_clients_own(stack: ClaudeStack) -> None:
    r = httpx.post(stack.engine.url + "/v1/chat/completions", json={"model": CLAUDE, "messages": [
        {"role": "system", "content": "You are terse."}, {"role": "user", "content": "hi"}]})  # fmt: skip
    assert r.status_code == 200, r.text
    sent = stack.anthropic.last_request.json
    assert sent["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert sent["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    raw = json.dumps({"model": CLAUDE, "max_tokens": 64, "system": "s", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]}]}).encode()  # fmt: skip
    r = httpx.post(stack.engine.url + "/v1/messages", content=raw, headers={"anthropic-version": "2023-06-01"})
    assert r.status_code == 200
    assert stack.anthropic.last_request.body == raw.replace(CLAUDE.encode(), b"claude-sonnet-4-6")


# ----- an error body that arrives in pieces is still passed on whole ------------------------------------


class SplitErrorUpstream(FakeProvider):
    """A Messages upstream whose 400 body arrives in two writes, the second a moment later."""

    MESSAGE = "prompt is too long: 300000 tokens > 200000 maximum " + "x" * 3000
    BODY = json.dumps({"type": "error", "error": {"type": "invalid_request_error", "message": MESSAGE}}).encode()

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/messages", self._split)

    def error_response(
        self, status: int, message: str, err_type: str | None = None, headers: dict[str, str] | None = None
    ) -> web.Response:
        return web.json_response({"type": "error", "error": {"type": "api_error", "message": message}}, status=status)

    async def _split(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(status=400, headers={"Content-Type": "application/json"})
        resp.content_length = len(self.BODY)
        await resp.prepare(request)
        await resp.write(self.BODY[:100])
        await asyncio.sleep(0.2)
        await resp.write(self.BODY[100:])
        return resp


def test_an_error_body_that_arrives_in_pieces_reaches_the_client_whole(stack: ClaudeStack) -> None:
    with FakeServerThread(SplitErrorUpstream()) as up:
        original = stack.engine.config_path.read_text()
        text = original.replace("providers:\n", f'providers:\n  split: {{kind: anthropic, base_url: "{up.base_url}", '
                                               "api_key: env:AK}\n", 1)  # fmt: skip
        assert stack.engine.api("PUT", "/v0/config", json={"text": text}).json()["ok"]
        try:
            r = stack.messages({"model": "split/claude-sonnet-4-6", "max_tokens": 64, "messages": HI})
            assert r.status_code == 400 and r.content == SplitErrorUpstream.BODY
        finally:
            assert stack.engine.api("PUT", "/v0/config", json={"text": original}).json()["ok"]
