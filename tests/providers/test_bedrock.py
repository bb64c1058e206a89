"""Bedrock: event-stream framing, SigV4 signing checked by a fake that recomputes it, and the Converse codec."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest
import yarl
from botocore.eventstream import EventStreamBuffer
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy_engine.dialects.eventstream import (
    EventStreamError,
    EventStreamFramer,
    encode_event,
    encode_exception,
    encode_message,
)
from proxy_engine.providers.sigv4 import (
    AwsCredentials,
    BedrockAuthError,
    bedrock_url,
    load_credentials,
    sign,
)
from proxy_engine.translate import TranslationError, Translator
from tests.fakes.base import InvalidRequest
from tests.fakes.bedrock_fake import FAKE_SECRET_KEY, ConverseRenderer, FakeBedrock, decode_frames, validate_converse
from tests.fakes.script import Script, ToolCall
from tests.translate.kit import PNG_1PX, client_body, collect

CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
WEATHER = ToolCall("get_weather", {"city": "Paris", "days": [1, 2]}, id="tooluse_w1")


# ---- event-stream framing -------------------------------------------------------------------------------
def test_encoded_messages_parse_with_botocores_independent_decoder() -> None:
    uid = uuid.UUID("12345678-1234-5678-1234-567812345678")
    headers = {":event-type": "contentBlockDelta", "flag": True, "off": False, "n": -7, "raw": b"\x00\x01", "id": uid}
    raw = encode_message(headers, b'{"a":1}') + encode_event("messageStop", {"stopReason": "end_turn"})
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    parsed = list(buffer)
    assert [m.payload for m in parsed] == [b'{"a":1}', b'{"stopReason":"end_turn"}']
    assert parsed[0].headers[":event-type"] == "contentBlockDelta" and parsed[0].headers["n"] == -7
    assert parsed[0].headers["flag"] is True and parsed[0].headers["raw"] == b"\x00\x01"
    assert parsed[1].headers[":message-type"] == "event"


def test_framer_yields_events_exceptions_and_errors() -> None:
    error = encode_message({":message-type": "error", ":error-code": "InternalFailure", ":error-message": "boom"}, b"")
    raw = encode_event("messageStart", {"role": "assistant"}) + encode_exception("throttlingException", "slow") + error
    assert EventStreamFramer().feed(raw) == [
        {"messageStart": {"role": "assistant"}},
        {"exception": {"type": "throttlingException", "message": "slow"}},
        {"exception": {"type": "InternalFailure", "message": "boom"}},
    ]


@settings(max_examples=60, deadline=None)
@given(
    payloads=st.lists(st.dictionaries(st.text(max_size=8), st.text(max_size=40), max_size=4), min_size=1, max_size=6),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=12),
)
def test_framer_gives_the_same_events_however_the_bytes_are_split(payloads: list[dict], cuts: list[int]) -> None:
    raw = b"".join(encode_event("contentBlockDelta", p) for p in payloads)
    framer, events, last = EventStreamFramer(), [], 0
    for cut in [*sorted({min(c, len(raw)) for c in cuts}), len(raw)]:
        events += framer.feed(raw[last:cut])
        last = cut
    assert events == [{"contentBlockDelta": p} for p in payloads]
    assert framer.at_eof()


@pytest.mark.parametrize(("offset", "reason"), [(9, "prelude checksum"), (-6, "message checksum")])
def test_a_corrupted_byte_fails_a_checksum(offset: int, reason: str) -> None:
    raw = bytearray(encode_event("messageStart", {"role": "assistant"}))
    raw[offset] ^= 0x40
    with pytest.raises(EventStreamError, match=reason):
        EventStreamFramer().feed(bytes(raw))


def test_a_truncated_stream_is_detectable_at_eof() -> None:
    raw = encode_event("messageStart", {"role": "assistant"})
    framer = EventStreamFramer()
    assert framer.feed(raw[:-3]) == [] and not framer.at_eof()
    assert framer.feed(raw[-3:]) == [{"messageStart": {"role": "assistant"}}] and framer.at_eof()


# ---- SigV4 against the fake ------------------------------------------------------------------------------
@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(http: aiohttp.ClientSession, fake: FakeBedrock, body: dict, creds: AwsCredentials, **kw) -> tuple:
    """Sign and send the way the provider layer must: the signed URL, byte for byte (encoded=True)."""
    url = bedrock_url(fake.base_url, kw.get("model", CLAUDE), kw.get("stream", False))
    data = json.dumps(body).encode()
    headers = sign("POST", url, {"Content-Type": "application/json"}, data, creds, kw.get("region", "us-east-1"))
    target = yarl.URL(url, encoded=kw.get("encoded", True))
    async with http.post(target, data=kw.get("send", data), headers=headers) as resp:
        return resp.status, resp.headers, await resp.read()


HELLO = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}


async def test_signed_requests_pass_the_fakes_recomputed_signature(http: aiohttp.ClientSession) -> None:
    async with FakeBedrock() as fake:
        creds = AwsCredentials(fake.access_key, FAKE_SECRET_KEY)
        status, _, raw = await post(http, fake, HELLO, creds)
        assert status == 200, raw
        assert json.loads(raw)["output"]["message"]["content"] == [{"text": f"Hello from {CLAUDE}!"}]
        auth = fake.last_request.headers["authorization"]
        assert auth.startswith(f"AWS4-HMAC-SHA256 Credential={fake.access_key}/")
        assert "/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" in auth
        assert fake.last_request.path == f"/model/{CLAUDE}/converse"


@pytest.mark.parametrize(
    ("change", "error_type"),
    [
        ({"creds": AwsCredentials("AKIAFAKEBEDROCK00001", "not-the-secret")}, "InvalidSignatureException"),
        ({"creds": AwsCredentials("AKIAUNKNOWN000000000", FAKE_SECRET_KEY)}, "UnrecognizedClientException"),
        ({"region": "eu-west-1"}, "InvalidSignatureException"),
        ({"send": b'{"messages": []}'}, "InvalidSignatureException"),  # body changed after signing
        ({"encoded": False}, "InvalidSignatureException"),  # yarl re-encodes %3A: the path is not the one signed
    ],
)
async def test_the_fake_rejects_what_aws_would(http: aiohttp.ClientSession, change: dict, error_type: str) -> None:
    async with FakeBedrock() as fake:
        creds = change.pop("creds", AwsCredentials(fake.access_key, FAKE_SECRET_KEY))
        status, headers, raw = await post(http, fake, HELLO, creds, **change)
        assert status == 403
        assert headers["x-amzn-ErrorType"].startswith(error_type + ":")
        assert "message" in json.loads(raw)


async def test_session_tokens_are_sent_and_signed(http: aiohttp.ClientSession) -> None:
    async with FakeBedrock(session_token="FQoGZXIvYXdzEFAKE") as fake:
        status, _, _ = await post(http, fake, HELLO, AwsCredentials(fake.access_key, FAKE_SECRET_KEY))
        assert status == 403  # the fake requires the token
        creds = AwsCredentials(fake.access_key, FAKE_SECRET_KEY, token="FQoGZXIvYXdzEFAKE")
        status, _, raw = await post(http, fake, HELLO, creds)
        assert status == 200, raw
        assert "x-amz-security-token" in fake.last_request.headers["authorization"]


def test_credentials_load_from_a_profile_and_never_show_the_secret(tmp_path, monkeypatch) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    (tmp_path / "credentials").write_text("[work]\naws_access_key_id = AKIAWORK\naws_secret_access_key = s3cr3t-work\n")
    (tmp_path / "config").write_text("[profile work]\nregion = eu-central-1\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    creds = load_credentials("work")
    assert (creds.access_key, creds.secret_key, creds.token, creds.expires_at) == (
        "AKIAWORK",
        "s3cr3t-work",
        None,
        None,
    )
    assert "s3cr3t" not in repr(creds) and not creds.expiring()
    with pytest.raises(BedrockAuthError, match="nobody"):
        load_credentials("nobody")


def test_expiring_temporary_credentials() -> None:
    creds = AwsCredentials("ASIA", "x", token="t", expires_at=1000.0)
    assert creds.expiring(now=800.0) and not creds.expiring(now=600.0)


# ---- the fake's own validation ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": [{"role": "assistant", "content": [{"text": "x"}]}]}, "start with a user message"),
        ({"messages": [{"role": "user", "content": [{"text": "a"}]}] * 2}, "alternate"),
        ({"messages": [{"role": "user", "content": [{"text": " "}]}]}, "blank"),
        ({"model": "x", **HELLO}, "Unexpected field"),
        ({**HELLO, "inferenceConfig": {"max_tokens": 5}}, "inferenceConfig"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"text": "a"}]},
                    {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}}]},
                ]
            },
            "toolConfig field must be defined",
        ),
    ],
)
def test_converse_validation_rejects_bad_bodies(body: dict, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        validate_converse(body)


async def test_the_fake_answers_validation_errors_and_unknown_models(http: aiohttp.ClientSession) -> None:
    async with FakeBedrock() as fake:
        creds = AwsCredentials(fake.access_key, FAKE_SECRET_KEY)
        status, headers, raw = await post(http, fake, {"messages": []}, creds)
        assert status == 400 and headers["x-amzn-ErrorType"].startswith("ValidationException")
        status, _, raw = await post(http, fake, HELLO, creds, model="anthropic.claude-nope")
        assert status == 400 and "model identifier is invalid" in json.loads(raw)["message"]
        async with http.post(bedrock_url(fake.base_url, CLAUDE, False), json=HELLO) as resp:
            assert resp.status == 403 and "Missing Authentication Token" in await resp.text()


# ---- the Converse codec --------------------------------------------------------------------------------
@pytest.mark.parametrize("client", ["openai_chat", "openai_responses", "anthropic", "gemini"])
@pytest.mark.parametrize("scenario", ["plain", "tools", "tool_result", "thinking"])
def test_requests_from_every_client_are_valid_converse(client: str, scenario: str) -> None:
    tr = Translator(client, "bedrock")
    body = tr.request(client_body(client, scenario), model=CLAUDE, stream=False, thinking_budget=4000)
    validate_converse(body)
    if scenario == "plain":
        assert body["system"] == [{"text": "Be brief."}]
        assert body["messages"][0]["content"] == [{"text": "Hello"}]
    if scenario in ("tools", "tool_result"):
        spec = body["toolConfig"]["tools"][0]["toolSpec"]
        assert spec["name"] == "get_weather" and spec["inputSchema"]["json"]["required"] == ["city"]
    if scenario == "tool_result":
        results = [b["toolResult"] for b in body["messages"][-1]["content"]]
        assert [r["content"] for r in results] == [[{"text": "sunny"}], [{"text": "rainy"}]]
    if scenario == "thinking":
        thinking = body["additionalModelRequestFields"]["thinking"]
        assert thinking["type"] == "enabled" and body["inferenceConfig"]["maxTokens"] > thinking["budget_tokens"]


def test_inference_settings_tool_choice_and_images() -> None:
    tr = Translator("openai_chat", "bedrock")
    body = tr.request(
        {
            "model": "m",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Look"},
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1PX}"}},
                    ],
                }
            ],
            "max_tokens": 300,
            "temperature": 1.7,
            "top_p": 0.8,
            "stop": ["END"],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "f"}},
        },
        model=CLAUDE,
        stream=True,
    )
    validate_converse(body)
    assert body["inferenceConfig"] == {"maxTokens": 300, "temperature": 1.0, "topP": 0.8, "stopSequences": ["END"]}
    assert body["toolConfig"]["toolChoice"] == {"tool": {"name": "f"}}
    assert body["messages"][0]["content"][1] == {"image": {"format": "png", "source": {"bytes": PNG_1PX}}}
    with pytest.raises(TranslationError, match="s3"):
        Translator("anthropic", "bedrock").request(client_body("anthropic", "image"), model=CLAUDE, stream=False)


def test_history_tool_calls_without_tools_still_get_a_tool_config() -> None:
    body = client_body("anthropic", "tool_result")
    del body["tools"]
    out = Translator("anthropic", "bedrock").request(body, model=CLAUDE, stream=False)
    validate_converse(out)
    assert [t["toolSpec"]["name"] for t in out["toolConfig"]["tools"]] == ["get_weather"]


def test_bedrock_is_not_a_client_dialect() -> None:
    with pytest.raises(TranslationError, match="upstream-only"):
        Translator("bedrock", "anthropic").request({"messages": []}, model="m", stream=False)


def test_whole_answers_reach_each_client_with_usage_including_cache() -> None:
    script = Script(
        text="Let me check.",
        tool_calls=[WEATHER],
        thinking="Weather needs a tool.",
        usage={"input_tokens": 100, "output_tokens": 20, "cache_read_tokens": 30, "cache_write_tokens": 10},
    )
    body = Translator("anthropic", "bedrock").request(client_body("anthropic", "thinking"), model=CLAUDE, stream=False)
    answer = ConverseRenderer(script, CLAUDE, body).as_json()
    tr = Translator("anthropic", "bedrock")
    out = tr.response(answer, model="Smart")
    assert [b["type"] for b in out["content"]] == ["thinking", "text", "tool_use"]
    assert out["content"][2]["input"] == WEATHER.arguments and out["stop_reason"] == "tool_use"
    assert out["usage"]["input_tokens"] == 60 and out["usage"]["cache_read_input_tokens"] == 30
    assert tr.usage == {
        "input_tokens": 100,
        "output_tokens": 20,
        "cache_read_tokens": 30,
        "cache_write_tokens": 10,
        "reasoning_tokens": 0,
    }
    chat = Translator("openai_chat", "bedrock").response(answer, model="Smart")
    assert chat["choices"][0]["message"]["tool_calls"][0]["id"] == "tooluse_w1"
    assert chat["usage"]["prompt_tokens"] == 100 and chat["choices"][0]["finish_reason"] == "tool_calls"


def test_reasoning_signatures_go_back_only_to_bedrock() -> None:
    script = Script(text="4", thinking="2+2", thinking_signature="BEDROCK-SIG")
    answer = ConverseRenderer(script, CLAUDE, {"additionalModelRequestFields": {"thinking": {"type": "enabled"}}})
    shown = Translator("anthropic", "bedrock").response(answer.as_json(), model="Smart")
    token = shown["content"][0]["signature"]
    assert token != "BEDROCK-SIG"  # wrapped: it names its issuer
    history = {
        "model": "Smart",
        "max_tokens": 2000,
        "messages": [
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": shown["content"]},
            {"role": "user", "content": "and 3+3?"},
        ],
    }
    to_bedrock = Translator("anthropic", "bedrock").request(history, model=CLAUDE, stream=False)
    validate_converse(to_bedrock)
    reasoning = to_bedrock["messages"][1]["content"][0]["reasoningContent"]["reasoningText"]
    assert reasoning == {"text": "2+2", "signature": "BEDROCK-SIG"}
    to_gemini = Translator("anthropic", "gemini").request(history, model="gemini-2.5-pro", stream=False)
    assert "BEDROCK-SIG" not in json.dumps(to_gemini)


def stream_through(client: str, events: list[dict], usage: dict | None = None) -> bytes:
    st_ = Translator(client, "bedrock").stream("Smart")
    out = b"".join(st_.feed(e) for e in events) + st_.finish()
    if usage is not None:
        usage.update(st_.usage or {})
    return out


@pytest.mark.parametrize("client", ["openai_chat", "openai_responses", "anthropic", "gemini"])
def test_streams_carry_text_thinking_tool_deltas_and_usage(client: str) -> None:
    script = Script(
        text="Checking the weather.",
        tool_calls=[WEATHER],
        thinking="The user wants weather.",
        arg_chunks=5,
        usage={"input_tokens": 90, "output_tokens": 33, "cache_read_tokens": 40},
    )
    body = {"additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 2000}}}
    events = decode_frames(b"".join(ConverseRenderer(script, CLAUDE, body).frames()))
    usage: dict = {}
    got = collect(client, stream_through(client, events, usage))
    assert usage == {
        "input_tokens": 90,
        "output_tokens": 33,
        "cache_read_tokens": 40,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
    }
    assert got.text == "Checking the weather." and got.error is None
    assert got.thinking == "The user wants weather."
    assert len(got.calls) == 1 and got.calls[0]["name"] == "get_weather"
    assert json.loads(got.calls[0]["arguments"]) == WEATHER.arguments
    if client == "anthropic":
        assert got.finish == "tool_use" and got.usage["cache_read_input_tokens"] == 40
        assert got.usage["input_tokens"] == 50 and got.usage["output_tokens"] == 33
    elif client == "openai_chat":
        assert got.finish == "tool_calls"


def test_a_stream_exception_becomes_the_clients_error_event() -> None:
    events = [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"delta": {"text": "Hel"}, "contentBlockIndex": 0}},
        {"exception": {"type": "throttlingException", "message": "Too many tokens, please wait."}},
    ]
    got = collect("anthropic", stream_through("anthropic", events))
    assert got.text == "Hel" and got.error == {"type": "rate_limit_error", "message": "Too many tokens, please wait."}


async def test_a_translated_stream_over_http_with_split_frames(http: aiohttp.ClientSession) -> None:
    """Claude Code -> proxy -> Bedrock, end to end on real sockets: the fake splits every frame in two."""
    async with FakeBedrock() as fake:
        fake.script(text="Sunny in Paris.", tool_calls=[WEATHER], edge_cases=True, chunks=4)
        tr = Translator("anthropic", "bedrock")
        body = tr.request(client_body("anthropic", "tools", stream=True), model=CLAUDE, stream=True)
        creds = AwsCredentials(fake.access_key, FAKE_SECRET_KEY)
        url = bedrock_url(fake.base_url, CLAUDE, True)
        data = json.dumps(body).encode()
        headers = sign("POST", url, {"Content-Type": "application/json"}, data, creds, "us-east-1")
        framer, stream, out = EventStreamFramer(), tr.stream("Smart"), b""
        async with http.post(yarl.URL(url, encoded=True), data=data, headers=headers) as resp:
            assert resp.status == 200 and resp.content_type == "application/vnd.amazon.eventstream"
            async for chunk in resp.content.iter_any():
                for event in framer.feed(chunk):
                    out += stream.feed(event)
        assert framer.at_eof()
        got = collect("anthropic", out + stream.finish())
        assert got.text == "Sunny in Paris." and json.loads(got.calls[0]["arguments"]) == WEATHER.arguments
        assert stream.usage["input_tokens"] == 12 and stream.finish_reason == "tool_calls"


async def test_scripted_stream_error_arrives_as_an_exception_frame(http: aiohttp.ClientSession) -> None:
    async with FakeBedrock() as fake:
        fake.script(text="abcdef", stream_error_after=2, error_message="model crashed")
        status, _, raw = await post(http, fake, HELLO, AwsCredentials(fake.access_key, FAKE_SECRET_KEY), stream=True)
        assert status == 200
        events = decode_frames(raw)
        assert events[-1] == {"exception": {"type": "modelStreamErrorException", "message": "model crashed"}}
        got = collect("openai_chat", stream_through("openai_chat", events))
        assert got.error["message"] == "model crashed"


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
_kinds = st.sampled_from(
    ["messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata",
     "exception", "throttlingException", "somethingNew"]
)  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(events=st.lists(st.dictionaries(_kinds, _json, min_size=1, max_size=2), max_size=8))
def test_malformed_bedrock_events_never_break_the_client_stream(events: list[dict]) -> None:
    for client in ("anthropic", "openai_chat"):
        raw = stream_through(client, events)
        got = collect(client, raw)  # still a well-formed stream in the client's dialect
        assert got.events


async def test_a_pool_of_access_keys_each_with_its_own_secret(http: aiohttp.ClientSession) -> None:
    keys = {"AKIAPOOLKEY000000001": "secret-one", "AKIAPOOLKEY000000002": "secret-two"}
    async with FakeBedrock(api_keys=list(keys), secret_keys=keys) as fake:
        fake.script(key="AKIAPOOLKEY000000002", text="from the second key")
        one = await post(http, fake, HELLO, AwsCredentials("AKIAPOOLKEY000000001", "secret-one"))
        two = await post(http, fake, HELLO, AwsCredentials("AKIAPOOLKEY000000002", "secret-two"))
        crossed = await post(http, fake, HELLO, AwsCredentials("AKIAPOOLKEY000000002", "secret-one"))
        assert (one[0], two[0], crossed[0]) == (200, 200, 403)
        assert json.loads(two[2])["output"]["message"]["content"] == [{"text": "from the second key"}]
