"""One upstream answer is billed the same whatever dialect the client spoke.

A real engine subprocess routes each upstream dialect (OpenAI chat, Responses and legacy completions,
Anthropic, Gemini, Gemini Code Assist, Bedrock Converse) to a canned upstream: a real aiohttp server on
127.0.0.1 that always gives the same answer, whole or streamed, with cached, cache-write, reasoning/thought
and Gemini tool-use-prompt counts set. Every client dialect asks every upstream, whole and streamed
(pass-through where the dialects match, translated otherwise), and the rows users see in `/v0/requests`
must carry the documented tokens (`proxy_engine/usage/upstream.py`) and one and the same cost.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from proxy_engine.dialects.eventstream import encode_event
from proxy_engine.logins.tokens import TokenSet, save_tokens
from proxy_engine.paths import resolve_paths
from proxy_engine.secrets.store import open_secret_store
from tests.engine_harness import SECRET_ENV, EngineProcess, free_port

TEXT = ["Hello", " there."]

# ---- the upstream answer, in each dialect's own usage fields ----
# Every dialect reports the same prompt of 1000 tokens (400 read from a cache) and 300 output tokens
# (120 of them reasoning); Anthropic and Bedrock also wrote 500 prompt tokens to a cache.
CHAT_USAGE = {
    "prompt_tokens": 1000,
    "completion_tokens": 300,
    "total_tokens": 1300,
    "prompt_tokens_details": {"cached_tokens": 400},
    "completion_tokens_details": {"reasoning_tokens": 120},
}
RESPONSES_USAGE = {
    "input_tokens": 1000,
    "input_tokens_details": {"cached_tokens": 400},
    "output_tokens": 300,
    "output_tokens_details": {"reasoning_tokens": 120},
    "total_tokens": 1300,
}
ANTHROPIC_USAGE = {
    "input_tokens": 100,
    "cache_creation_input_tokens": 500,
    "cache_read_input_tokens": 400,
    "output_tokens": 300,
}
GEMINI_USAGE = {
    "promptTokenCount": 900,
    "toolUsePromptTokenCount": 100,
    "cachedContentTokenCount": 400,
    "candidatesTokenCount": 180,
    "thoughtsTokenCount": 120,
    "totalTokenCount": 1300,
}
# DeepSeek's OpenAI-compatible API names its cache reads apart from OpenAI's details object.
DEEPSEEK_USAGE = {
    "prompt_tokens": 1000,
    "completion_tokens": 300,
    "total_tokens": 1300,
    "prompt_cache_hit_tokens": 400,
    "prompt_cache_miss_tokens": 600,
    "completion_tokens_details": {"reasoning_tokens": 120},
}
BEDROCK_USAGE = {
    "inputTokens": 100,
    "cacheReadInputTokens": 400,
    "cacheWriteInputTokens": 500,
    "outputTokens": 300,
    "totalTokens": 1300,
}


def sse(obj: dict, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + json.dumps(obj).encode() + b"\n\n"


def chat_reply(model: str, stream: bool, usage: dict | None = None) -> tuple[bytes, str]:
    usage = usage or CHAT_USAGE
    base = {"id": "chatcmpl-1", "created": 1, "model": model}
    if not stream:
        choice = {"index": 0, "message": {"role": "assistant", "content": "".join(TEXT)}, "finish_reason": "stop"}
        return json.dumps({**base, "object": "chat.completion", "choices": [choice], "usage": usage}).encode(), ""
    chunk = {**base, "object": "chat.completion.chunk"}
    out = [sse({**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": t}}]}) for t in TEXT]
    out.append(sse({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    out.append(sse({**chunk, "choices": [], "usage": usage}))
    return b"".join(out) + b"data: [DONE]\n\n", "sse"


def completions_reply(model: str, stream: bool) -> tuple[bytes, str]:
    base = {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": model}
    if not stream:
        choice = {"index": 0, "text": "".join(TEXT), "finish_reason": "stop", "logprobs": None}
        return json.dumps({**base, "choices": [choice], "usage": CHAT_USAGE}).encode(), ""
    out = [sse({**base, "choices": [{"index": 0, "text": t, "finish_reason": None}]}) for t in TEXT]
    out.append(sse({**base, "choices": [{"index": 0, "text": "", "finish_reason": "stop"}]}))
    out.append(sse({**base, "choices": [], "usage": CHAT_USAGE}))
    return b"".join(out) + b"data: [DONE]\n\n", "sse"


def responses_reply(model: str, stream: bool) -> tuple[bytes, str]:
    part = {"type": "output_text", "text": "".join(TEXT), "annotations": []}
    item = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed", "content": [part]}
    done = {"id": "resp_1", "object": "response", "created_at": 1, "model": model, "status": "completed",
            "output": [item], "usage": RESPONSES_USAGE}  # fmt: skip
    if not stream:
        return json.dumps(done).encode(), ""
    events: list[tuple[str, dict]] = [
        ("response.created", {"response": {**done, "status": "in_progress", "output": [], "usage": None}}),
        ("response.output_item.added", {"output_index": 0, "item": {**item, "status": "in_progress", "content": []}}),
        (
            "response.content_part.added",
            {"item_id": "msg_1", "output_index": 0, "content_index": 0, "part": {**part, "text": ""}},
        ),
        *[
            ("response.output_text.delta", {"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": t})
            for t in TEXT
        ],
        (
            "response.output_text.done",
            {"item_id": "msg_1", "output_index": 0, "content_index": 0, "text": part["text"]},
        ),
        ("response.content_part.done", {"item_id": "msg_1", "output_index": 0, "content_index": 0, "part": part}),
        ("response.output_item.done", {"output_index": 0, "item": item}),
        ("response.completed", {"response": done}),
    ]
    return b"".join(sse({"type": k, "sequence_number": i, **v}, k) for i, (k, v) in enumerate(events)), "sse"


def anthropic_reply(model: str, stream: bool) -> tuple[bytes, str]:
    msg = {"id": "msg_1", "type": "message", "role": "assistant", "model": model, "stop_sequence": None}
    if not stream:
        whole = {**msg, "content": [{"type": "text", "text": "".join(TEXT)}], "stop_reason": "end_turn",
                 "usage": ANTHROPIC_USAGE}  # fmt: skip
        return json.dumps(whole).encode(), ""
    # message_start carries the prompt side; message_delta the cumulative output (the live API's shape)
    start_usage = {**ANTHROPIC_USAGE, "output_tokens": 1}
    events: list[tuple[str, dict]] = [
        ("message_start", {"message": {**msg, "content": [], "stop_reason": None, "usage": start_usage}}),
        ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        *[("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": t}}) for t in TEXT],
        ("content_block_stop", {"index": 0}),
        (
            "message_delta",
            {
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": ANTHROPIC_USAGE["output_tokens"]},
            },
        ),
        ("message_stop", {}),
    ]
    return b"".join(sse({"type": k, **v}, k) for k, v in events), "sse"


def _gemini_chunks(model: str) -> list[dict]:
    """Gemini repeats usageMetadata on every chunk; only the last one is complete."""
    early = {k: GEMINI_USAGE[k] for k in ("promptTokenCount", "toolUsePromptTokenCount", "cachedContentTokenCount")}
    out = []
    for i, t in enumerate(TEXT):
        last = i == len(TEXT) - 1
        cand = {"content": {"role": "model", "parts": [{"text": t}]}, "index": 0}
        if last:
            cand["finishReason"] = "STOP"
        out.append({"candidates": [cand], "usageMetadata": GEMINI_USAGE if last else early,
                    "modelVersion": model, "responseId": "resp-1"})  # fmt: skip
    return out


def gemini_reply(model: str, stream: bool, envelope: bool = False) -> tuple[bytes, str]:
    def wrap(obj: dict) -> dict:
        return {"response": obj, "traceId": "trace-1"} if envelope else obj

    if not stream:
        cand = {"content": {"role": "model", "parts": [{"text": "".join(TEXT)}]}, "finishReason": "STOP", "index": 0}
        whole = {"candidates": [cand], "usageMetadata": GEMINI_USAGE, "modelVersion": model, "responseId": "r-1"}
        return json.dumps(wrap(whole)).encode(), ""
    return b"".join(sse(wrap(c)) for c in _gemini_chunks(model)), "sse"


def bedrock_reply(model: str, stream: bool) -> tuple[bytes, str]:
    if not stream:
        whole = {"output": {"message": {"role": "assistant", "content": [{"text": "".join(TEXT)}]}},
                 "stopReason": "end_turn", "usage": BEDROCK_USAGE, "metrics": {"latencyMs": 5}}  # fmt: skip
        return json.dumps(whole).encode(), ""
    frames = [encode_event("messageStart", {"role": "assistant"})]
    frames += [encode_event("contentBlockDelta", {"delta": {"text": t}, "contentBlockIndex": 0}) for t in TEXT]
    frames.append(encode_event("contentBlockStop", {"contentBlockIndex": 0}))
    frames.append(encode_event("messageStop", {"stopReason": "end_turn"}))
    frames.append(encode_event("metadata", {"usage": BEDROCK_USAGE, "metrics": {"latencyMs": 5}}))
    return b"".join(frames), "eventstream"


@dataclass(frozen=True)
class Upstream:
    dialect: str
    provider: str  # provider name in the engine config, and the canned server's path prefix
    model: str
    reply: Callable[[str, bool], tuple[bytes, str]]
    cache_write: int  # what the dialect reports as written to a cache (the rest is the same everywhere)


UPSTREAMS = {
    "openai_chat": Upstream("openai_chat", "oai", "gpt-4o", chat_reply, 0),
    "openai_chat-deepseek": Upstream(
        "openai_chat", "ds", "deepseek-reasoner", lambda m, s: chat_reply(m, s, DEEPSEEK_USAGE), 0
    ),
    "openai_responses": Upstream("openai_responses", "resp", "gpt-5", responses_reply, 0),
    "openai_completions": Upstream("openai_completions", "cmp", "gpt-3.5-turbo-instruct", completions_reply, 0),
    "anthropic": Upstream("anthropic", "ant", "claude-sonnet-4-5", anthropic_reply, 500),
    "gemini": Upstream("gemini", "gem", "gemini-2.5-flash", gemini_reply, 0),
    "gemini_code_assist": Upstream(
        "gemini_code_assist", "ca", "gemini-2.5-pro", lambda m, s: gemini_reply(m, s, envelope=True), 0
    ),
    "bedrock": Upstream("bedrock", "bed", "anthropic.claude-sonnet-4-5-20250929-v1:0", bedrock_reply, 500),
}
PRICE = {"input_per_mtok": 3.0, "output_per_mtok": 15.0, "cache_read_per_mtok": 0.3, "cache_write_per_mtok": 3.75}


def expected_cost(cache_write: int) -> float:
    uncached = 1000 - 400 - cache_write
    per_mtok = (
        uncached * PRICE["input_per_mtok"]
        + 300 * PRICE["output_per_mtok"]
        + 400 * PRICE["cache_read_per_mtok"]
        + cache_write * PRICE["cache_write_per_mtok"]
    )
    return per_mtok / 1_000_000


class CannedUpstream:
    """Answers every model call with the same canned reply of the dialect its path prefix names."""

    def __init__(self) -> None:
        self.port = free_port()
        self.paths: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="canned-upstream", daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.paths.append(path)
        prefix = path.split("/")[1]
        up = next(u for u in UPSTREAMS.values() if u.provider == prefix)
        body = await request.json()
        stream = bool(body.get("stream")) or "stream" in path.rsplit("/", 1)[-1].lower()
        data, framing = up.reply(up.model, stream)
        content_type = {"sse": "text/event-stream", "eventstream": "application/vnd.amazon.eventstream"}
        resp = web.StreamResponse(headers={"Content-Type": content_type.get(framing, "application/json")})
        await resp.prepare(request)
        step = max(1, len(data) // 5)  # several network chunks, cutting events apart
        for i in range(0, len(data), step):
            await resp.write(data[i : i + step])
        await resp.write_eof()
        return resp

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def __enter__(self) -> CannedUpstream:
        self._thread.start()
        assert self._ready.wait(10), "the canned upstream did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def _engine_config(port: int, origin: str) -> str:
    prices = "".join(f'  "{u.model}": {json.dumps(PRICE)}\n' for u in UPSTREAMS.values())
    return f"""port: {port}
providers:
  oai: {{kind: openai, base_url: "{origin}/oai", api_key: env:OK, dialects: [openai_chat]}}
  ds: {{kind: openai_compatible, base_url: "{origin}/ds", api_key: env:OK, dialects: [openai_chat]}}
  resp: {{kind: openai, base_url: "{origin}/resp", api_key: env:OK, dialects: [openai_responses]}}
  cmp: {{kind: openai, base_url: "{origin}/cmp", api_key: env:OK, dialects: [openai_completions]}}
  ant: {{kind: anthropic, base_url: "{origin}/ant", api_key: env:AK}}
  gem: {{kind: gemini, base_url: "{origin}/gem", api_key: env:GK}}
  ca: {{kind: gemini_cli, base_url: "{origin}/ca/v1internal"}}
  bed: {{kind: bedrock, base_url: "{origin}/bed", region: us-east-1, profile: parity}}
prices:
{prices}"""


def _login_gemini_cli(home: Path) -> None:
    """The Code Assist provider needs a stored gemini-cli login (with its Cloud project)."""
    saved = {k: os.environ.get(k) for k in ("PROXYPAL_HOME", *SECRET_ENV)}
    os.environ.update(PROXYPAL_HOME=str(home), **SECRET_ENV)
    try:
        tokens = TokenSet(provider="gemini-cli", credential="ann", access_token="ya29.parity",
                          refresh_token="rt-parity", expires_at=time.time() + 3600, account="ann@example.com",
                          extra={"project_id": "proj-parity"})  # fmt: skip
        save_tokens(open_secret_store(resolve_paths()), tokens)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EngineProcess, CannedUpstream]]:
    home = tmp_path_factory.mktemp("parity-home")
    _login_gemini_cli(home)
    creds = home / "aws-credentials"
    creds.write_text("[parity]\naws_access_key_id = AKIDPARITY\naws_secret_access_key = parity-secret\n")
    aws_env = {"AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_CONFIG_FILE": str(home / "none"),
               "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
               "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip
    with CannedUpstream() as upstream:
        port = free_port()
        with EngineProcess(_engine_config(port, upstream.origin), port, env=aws_env, home=str(home)) as eng:
            yield eng, upstream


# ---- the clients: every inbound dialect, whole and streamed ----


@dataclass(frozen=True)
class Ask:
    dialect: str
    stream: bool
    variant: str = ""  # another way of asking that takes another relay path

    @property
    def label(self) -> str:
        return f"{self.dialect}-{'stream' if self.stream else 'whole'}{'-' + self.variant if self.variant else ''}"


ASKS = [
    Ask("openai_chat", False),
    Ask("openai_chat", True),  # the proxy adds include_usage and hides the usage chunk again
    Ask("openai_chat", True, "include_usage"),
    Ask("openai_responses", False),
    Ask("openai_responses", True),
    Ask("openai_completions", False),
    Ask("openai_completions", True),
    Ask("anthropic", False),
    Ask("anthropic", True),
    Ask("gemini", False),
    Ask("gemini", True),  # alt=sse
    Ask("gemini", True, "json_array"),  # the stream as one JSON array
]
USER = "Say hello."


def request_for(ask: Ask, model: str) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(path, body, headers) of the client call."""
    s = ask.stream
    if ask.dialect == "openai_chat":
        body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": USER}], "stream": s}
        if ask.variant == "include_usage":
            body["stream_options"] = {"include_usage": True}
        return "/v1/chat/completions", body, {}
    if ask.dialect == "openai_responses":
        return "/v1/responses", {"model": model, "input": USER, "stream": s}, {}
    if ask.dialect == "openai_completions":
        return "/v1/completions", {"model": model, "prompt": USER, "max_tokens": 50, "stream": s}, {}
    if ask.dialect == "anthropic":
        body = {"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": USER}], "stream": s}
        return "/v1/messages", body, {"anthropic-version": "2023-06-01"}
    method = "streamGenerateContent" + ("" if ask.variant == "json_array" else "?alt=sse") if s else "generateContent"
    return f"/v1beta/models/{model}:{method}", {"contents": [{"role": "user", "parts": [{"text": USER}]}]}, {}


def answer_text(ask: Ask, raw: bytes) -> str:
    """The text the client received, read from its own dialect (proves the reply was relayed whole)."""
    if ask.stream and not (ask.dialect == "gemini" and ask.variant == "json_array"):
        events = [json.loads(line[5:]) for line in raw.decode().splitlines()
                  if line.startswith("data:") and line[5:].strip() != "[DONE]"]  # fmt: skip
    else:
        parsed = json.loads(raw)
        events = parsed if isinstance(parsed, list) else [parsed]
    out = []
    for e in events:
        if ask.dialect == "openai_chat":
            out += [c.get("delta", c.get("message", {})).get("content") or "" for c in e.get("choices", [])]
        elif ask.dialect == "openai_completions":
            out += [c.get("text") or "" for c in e.get("choices", [])]
        elif ask.dialect == "openai_responses":
            if not ask.stream:
                out += [p["text"] for item in e["output"] for p in item.get("content", []) if "text" in p]
            elif e.get("type") == "response.output_text.delta":
                out.append(e["delta"])
        elif ask.dialect == "anthropic":
            if not ask.stream:
                out += [b.get("text", "") for b in e["content"]]
            elif e.get("type") == "content_block_delta":
                out.append(e["delta"].get("text", ""))
        else:
            out += [p.get("text", "") for c in e.get("candidates", []) for p in c["content"].get("parts", [])]
    return "".join(out)


def wait_for_rows(eng: EngineProcess, count: int) -> list[dict[str, Any]]:
    """The ledger rows once `count` exist (a request is recorded just after its reply ends)."""
    deadline = time.monotonic() + 10
    while True:
        rows = eng.records(200)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


@pytest.mark.parametrize("upstream_case", list(UPSTREAMS))
def test_every_route_to_one_upstream_answer_records_the_same_tokens_and_cost(
    stack: tuple[EngineProcess, CannedUpstream], upstream_case: str
) -> None:
    eng, canned = stack
    up = UPSTREAMS[upstream_case]
    upstream_dialect = up.dialect
    seen: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=eng.url, timeout=20) as client:
        for ask in ASKS:
            before = len(eng.records(200))
            sent_paths = len(canned.paths)
            path, body, headers = request_for(ask, f"{up.provider}/{up.model}")
            r = client.post(path, json=body, headers=headers)
            assert r.status_code == 200, f"{ask.label}: {r.status_code} {r.text[:300]}"
            assert answer_text(ask, r.content) == "".join(TEXT), ask.label
            assert canned.paths[sent_paths].startswith(f"/{up.provider}/"), "the call reached the canned upstream"
            rows = wait_for_rows(eng, before + 1)
            assert len(rows) == before + 1, f"{ask.label} was not recorded"
            seen[ask.label] = rows[0]

    expected = {"input_tokens": 1000, "output_tokens": 300, "cache_read_tokens": 400,
                "cache_write_tokens": up.cache_write}  # fmt: skip
    for label, row in seen.items():
        assert row["status"] == 200 and row["provider"] == up.provider and row["model"] == up.model, label
        assert row["dialect_out"] == upstream_dialect, label
        got = {k: row[k] for k in expected}
        assert got == expected, f"{label} ({row['dialect_in']} -> {row['dialect_out']}) recorded {got}"
    costs = {label: row["cost_usd"] for label, row in seen.items()}
    assert len(set(costs.values())) == 1, f"one answer, several costs: {costs}"
    assert next(iter(costs.values())) == pytest.approx(expected_cost(up.cache_write), rel=1e-9)
    passthrough = [label for label, row in seen.items() if row["dialect_in"] == upstream_dialect]
    translated = [label for label, row in seen.items() if row["dialect_in"] != upstream_dialect]
    assert translated, "every upstream is reached through translation too"
    if upstream_dialect in {a.dialect for a in ASKS}:
        assert passthrough, "a client of the upstream's own dialect is passed through"
