"""Property tests: what the internal model holds survives each dialect's encode -> decode round trip.

For every dialect, random IR requests, responses and stream event sequences (limited to what that
dialect can express) are encoded in the dialect's wire format and decoded back; the result must equal
the original, up to the dialect's documented normalisations (merged turns, synthesized Gemini ids).
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy_engine.translate import ir
from proxy_engine.translate.context import Context
from proxy_engine.translate.json_text import dumps
from proxy_engine.translate.translator import codec
from tests.fakes.base import parse_sse
from tests.translate.kit import validate_upstream

DIALECTS = ("openai_chat", "openai_responses", "anthropic", "gemini")
MODEL = {
    "openai_chat": "gpt-4o",
    "openai_responses": "gpt-4.1",
    "anthropic": "claude-sonnet-4-5",
    "gemini": "gemini-2.5-flash",
}
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

words = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20)
names = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
ids = st.from_regex(r"call_[A-Za-z0-9]{6,12}", fullmatch=True)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | words,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=6,
)
args = st.dictionaries(names, json_values, max_size=3).map(dumps)
signatures = st.from_regex(r"[A-Za-z0-9+/]{8,40}={0,2}", fullmatch=True)


def image(dialect: str) -> st.SearchStrategy[ir.Image]:
    inline = st.builds(
        ir.Image,
        media_type=st.sampled_from(["image/png", "image/jpeg"]),
        data=st.binary(min_size=1, max_size=30).map(lambda b: base64.b64encode(b).decode()),
    )
    remote = st.builds(
        ir.Image,
        media_type=st.just("image/png"),
        url=st.from_regex(r"https://img\.example/[a-z]{1,8}\.png", fullmatch=True),
    )
    return inline | remote


def thinking(dialect: str) -> st.SearchStrategy[ir.Thinking]:
    if dialect == "anthropic":
        signed = st.builds(ir.Thinking, text=words, signature=signatures, source=st.just("anthropic"))
        return signed | st.builds(ir.Thinking, redacted=signatures, source=st.just("anthropic"))
    if dialect == "gemini":
        return st.builds(ir.Thinking, text=words, signature=signatures, source=st.just("gemini"))
    enc = st.tuples(st.from_regex(r"rs_[a-z0-9]{6}", fullmatch=True), signatures).map(":".join)
    return st.builds(ir.Thinking, text=words, signature=enc, source=st.just("openai_responses"))


@st.composite
def conversation(draw: st.DrawFn, dialect: str) -> list[ir.Message]:
    """Alternating turns starting with the user; tool results answer the previous turn's calls."""
    messages: list[ir.Message] = []
    pending: list[ir.ToolCall] = []
    for _ in range(draw(st.integers(1, 3))):
        user_parts: list = []
        for call in pending:
            is_error = draw(st.booleans()) if dialect in ("anthropic", "gemini") else False
            user_parts.append(
                ir.ToolResult(call_id=call.id, content=[ir.Text(draw(words))], is_error=is_error, name=call.name)
            )
        user_parts += draw(
            st.lists(st.one_of(words.map(ir.Text), image(dialect)), min_size=0 if pending else 1, max_size=2)
        )
        messages.append(ir.Message("user", user_parts))
        assistant: list = []
        if dialect != "openai_chat" and draw(st.booleans()):
            assistant.append(draw(thinking(dialect)))
        if draw(st.booleans()):
            assistant.append(ir.Text(draw(words)))
        pending = [
            ir.ToolCall(id=f"{draw(ids)}{len(messages)}{k}", name=draw(names), arguments=draw(args))
            for k in range(draw(st.integers(0, 2)))
        ]
        if dialect == "gemini" and pending and draw(st.booleans()):
            pending[0].signature, pending[0].signature_source = draw(signatures), "gemini"
        assistant += pending
        if not assistant:
            assistant.append(ir.Text(draw(words)))
        messages.append(ir.Message("assistant", assistant))
    if pending:
        messages.append(
            ir.Message("user", [ir.ToolResult(call_id=c.id, content=[ir.Text("ok")], name=c.name) for c in pending])
        )
    return messages


@st.composite
def requests(draw: st.DrawFn, dialect: str) -> ir.Request:
    tools = [
        ir.Tool(
            name=n,
            description=draw(words),
            parameters={
                "type": "object",
                "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
                "required": ["a"],
            },
        )
        for n in draw(st.lists(names, max_size=3, unique=True))
    ]
    choice = None
    if tools and draw(st.booleans()):
        mode = draw(st.sampled_from(["auto", "none", "required", "tool"]))
        choice = ir.ToolChoice(mode=mode, name=tools[0].name if mode == "tool" else None)
    req = ir.Request(
        messages=draw(conversation(dialect)),
        system=draw(st.lists(words, max_size=1)),
        tools=tools,
        tool_choice=choice,
        max_tokens=draw(st.integers(16, 4000)),
        temperature=draw(st.none() | st.floats(0, 1).map(lambda f: round(f, 2))),
        top_p=draw(st.none() | st.floats(0, 1).map(lambda f: round(f, 2))),
        stop=draw(st.lists(names, max_size=3)) if dialect != "openai_responses" else [],
        top_k=draw(st.none() | st.integers(1, 50)) if dialect in ("anthropic", "gemini") else None,
        user=draw(st.none() | names) if dialect != "gemini" else None,
    )
    if tools and dialect != "gemini" and draw(st.booleans()):
        req.parallel_tool_calls = False
    return req


def normalize_request(req: ir.Request, dialect: str) -> dict:
    """The comparable content of a request, after the dialect's own normalisations."""
    messages: list[ir.Message] = []
    for msg in req.messages:
        parts: list = []
        for p in msg.parts:
            p = _norm_part(p, dialect)
            if isinstance(p, ir.Text) and parts and isinstance(parts[-1], ir.Text):
                parts[-1] = ir.Text(parts[-1].text + p.text)  # adjacent texts may be joined into one string
            else:
                parts.append(p)
        if messages and messages[-1].role == msg.role:
            messages[-1].parts.extend(parts)
        else:
            messages.append(ir.Message(msg.role, parts))
    id_map: dict[str, str] = {}
    if dialect == "gemini":  # Gemini carries no ids: compare calls and results by position
        for msg in messages:
            for p in msg.parts:
                if isinstance(p, ir.ToolCall):
                    id_map[p.id] = f"#{len(id_map)}"
        for msg in messages:
            msg.parts = [_renumber(p, id_map) for p in msg.parts]
    parallel = (
        req.parallel_tool_calls
        if dialect in ("openai_chat", "openai_responses")
        else (False if req.parallel_tool_calls is False and dialect == "anthropic" else None)
    )
    if dialect == "anthropic" and req.tool_choice and req.tool_choice.mode == "none":
        parallel = None  # meaningless when no tool may be called; Anthropic does not say it
    return {
        "system": "\n\n".join(req.system),
        "messages": messages,
        "tools": [(t.name, t.description, t.parameters) for t in req.tools],
        "tool_choice": (req.tool_choice or ir.ToolChoice("auto")) if req.tools else None,  # absent means auto
        "parallel": parallel,
        "max_tokens": req.max_tokens,
        "temperature": req.temperature,
        "top_p": req.top_p,
        "top_k": req.top_k,
        "stop": req.stop,
        "user": req.user,
    }


def _norm_part(p: object, dialect: str) -> object:
    if isinstance(p, ir.Image) and p.url and dialect == "anthropic":
        return replace(p, media_type="")  # an Anthropic URL source has no media type
    if isinstance(p, ir.ToolCall):
        return replace(p, kind="function")
    if isinstance(p, ir.ToolResult):
        return replace(p, name=None)
    return p


def _renumber(p: object, id_map: dict[str, str]) -> object:
    if isinstance(p, ir.ToolCall):
        return replace(p, id=id_map[p.id])
    if isinstance(p, ir.ToolResult):
        return replace(p, call_id=id_map.get(p.call_id, p.call_id))
    return p


def _roundtrip_request(dialect: str, req: ir.Request) -> tuple[dict, ir.Request]:
    c = codec(dialect)
    body = c.encode_request(req, Context(client=dialect, upstream=dialect), model=MODEL[dialect], stream=False)
    validate_upstream(dialect, body)
    back = c.decode_request(body, Context(client=dialect, upstream=dialect))
    return body, back


def _request_property(dialect: str):
    @SETTINGS
    @given(req=requests(dialect))
    def check(req: ir.Request) -> None:
        body, back = _roundtrip_request(dialect, req)
        assert normalize_request(back, dialect) == normalize_request(req, dialect)
        body2, _ = _roundtrip_request(dialect, back)  # decode -> encode gives the same wire body
        assert json.dumps(body2, sort_keys=True) == json.dumps(body, sort_keys=True)

    return check


test_request_roundtrip_openai_chat = _request_property("openai_chat")
test_request_roundtrip_openai_responses = _request_property("openai_responses")
test_request_roundtrip_anthropic = _request_property("anthropic")
test_request_roundtrip_gemini = _request_property("gemini")


# ---- whole responses ----


@st.composite
def responses(draw: st.DrawFn, dialect: str) -> ir.Response:
    parts: list = []
    if draw(st.booleans()):
        parts.append(draw(thinking(dialect)) if dialect != "openai_chat" else ir.Thinking(text=draw(words)))
    if draw(st.booleans()):
        parts.append(ir.Text(draw(words)))
    parts += [
        ir.ToolCall(id=f"{draw(ids)}{k}", name=draw(names), arguments=draw(args))
        for k in range(draw(st.integers(0, 2)))
    ]
    usage = ir.Usage(input_tokens=draw(st.integers(0, 10**6)), output_tokens=draw(st.integers(0, 10**5)))
    usage.cache_read_tokens = draw(st.integers(0, usage.input_tokens))
    if dialect == "anthropic":
        usage.cache_write_tokens = draw(st.integers(0, usage.input_tokens - usage.cache_read_tokens))
    if dialect != "anthropic":
        usage.reasoning_tokens = draw(st.integers(0, usage.output_tokens))
    reason = draw(st.sampled_from(["stop", "length", "content_filter"]))
    return ir.Response(id="r1", model="m", parts=parts, finish_reason=reason, usage=usage)


def _resp_view(resp: ir.Response, dialect: str) -> dict:
    text = "".join(p.text for p in resp.parts if isinstance(p, ir.Text))
    thoughts = [(p.text, p.signature, p.redacted) for p in resp.parts if isinstance(p, ir.Thinking)]
    if dialect == "openai_chat":
        thoughts = [("".join(t for t, _, _ in thoughts), None, None)] if thoughts else []
    calls = [(p.id, p.name, json.loads(p.arguments)) for p in resp.parts if isinstance(p, ir.ToolCall)]
    reason = resp.finish_for_tools()
    if dialect in ("gemini", "openai_responses") and reason == "tool_calls":
        reason = "stop"
    return {"text": text, "thinking": thoughts, "calls": calls, "finish": reason, "usage": resp.usage}


def _response_property(dialect: str):
    @SETTINGS
    @given(resp=responses(dialect))
    def check(resp: ir.Response) -> None:
        c = codec(dialect)
        wire = c.encode_response(resp, Context(client=dialect, upstream=dialect), "m")
        back = c.decode_response(json.loads(json.dumps(wire)), Context(client=dialect, upstream=dialect))
        got, want = _resp_view(back, dialect), _resp_view(resp, dialect)
        if dialect == "openai_responses" and want["finish"] == "content_filter":
            want["finish"] = "content_filter"
        assert got == want

    return check


test_response_roundtrip_openai_chat = _response_property("openai_chat")
test_response_roundtrip_openai_responses = _response_property("openai_responses")
test_response_roundtrip_anthropic = _response_property("anthropic")
test_response_roundtrip_gemini = _response_property("gemini")


# ---- streams ----


def _chunks(text: str, cuts: list[int]) -> list[str]:
    points = sorted({min(c, len(text)) for c in cuts})
    out, last = [], 0
    for p in [*points, len(text)]:
        out.append(text[last:p])
        last = p
    return out  # may contain empty pieces on purpose


@st.composite
def event_streams(draw: st.DrawFn, dialect: str) -> tuple[list, ir.Response]:
    resp = draw(responses(dialect))
    events: list = [ir.Start(id="up-1", model="m")]
    cuts = st.lists(st.integers(0, 30), max_size=4)
    for p in resp.parts:
        if isinstance(p, ir.Thinking):
            if p.redacted is None:
                events += [ir.ThinkingDelta(t) for t in _chunks(p.text, draw(cuts))]
            events.append(ir.ThinkingSignature(signature=p.signature, source=p.source or dialect, redacted=p.redacted))
        elif isinstance(p, ir.Text):
            events += [ir.TextDelta(t) for t in _chunks(p.text, draw(cuts))]
        else:
            events.append(ir.ToolStart(key=p.id, id=p.id, name=p.name))
            events += [ir.ToolDelta(p.id, a) for a in _chunks(p.arguments, draw(cuts))]
    u = resp.usage
    events.append(ir.UsageUpdate(**u.as_dict()))
    events.append(ir.Finish(reason=resp.finish_reason))
    return events, resp


def _accumulate(events: list) -> dict:
    text, thinking, calls, usage, finish = "", "", {}, ir.Usage(), "stop"
    for ev in events:
        if isinstance(ev, ir.TextDelta):
            text += ev.text
        elif isinstance(ev, ir.ThinkingDelta):
            thinking += ev.text
        elif isinstance(ev, ir.ToolStart):
            calls[ev.key] = [ev.id, ev.name, ""]
        elif isinstance(ev, ir.ToolDelta):
            calls[ev.key][2] += ev.arguments
        elif isinstance(ev, ir.UsageUpdate):
            ir.apply_usage(usage, ev)
        elif isinstance(ev, ir.Finish):
            finish = ev.reason
    if finish == "stop" and calls:
        finish = "tool_calls"
    return {
        "text": text,
        "thinking": thinking,
        "finish": finish,
        "usage": usage,
        "calls": [(i, n, json.loads(a)) for i, n, a in calls.values()],
    }


def _stream_property(dialect: str):
    @SETTINGS
    @given(data=event_streams(dialect))
    def check(data: tuple[list, ir.Response]) -> None:
        events, _ = data
        ctx = Context(client=dialect, upstream=dialect, include_usage=True)
        c = codec(dialect)
        enc = c.stream_encoder(ctx, "m", True)
        raw = enc.feed(events) + enc.finish()
        dec = c.stream_decoder(Context(client=dialect, upstream=dialect))
        back: list = []
        for _, payload in parse_sse(raw):
            if isinstance(payload, dict):
                back += dec.feed(payload)
        back += dec.finish()
        got, want = _accumulate(back), _accumulate(events)
        if dialect in ("gemini", "openai_responses") and want["finish"] == "tool_calls":
            want["finish"] = got["finish"] = "stop"  # neither dialect names the reason
        if dialect == "openai_chat":
            want["usage"].cache_write_tokens = 0  # chat has no field for cache writes
        if dialect == "anthropic":
            want["usage"].reasoning_tokens = 0
        if dialect == "openai_responses":
            want["usage"].cache_write_tokens = 0
        if dialect == "gemini":
            want["usage"].cache_write_tokens = 0
        if not any(isinstance(e, ir.ThinkingDelta) and e.text for e in events):
            want["thinking"] = got["thinking"]
        assert got == want

    return check


test_stream_roundtrip_openai_chat = _stream_property("openai_chat")
test_stream_roundtrip_openai_responses = _stream_property("openai_responses")
test_stream_roundtrip_anthropic = _stream_property("anthropic")
test_stream_roundtrip_gemini = _stream_property("gemini")


# ---- malformed input never crashes ----

_VOCAB = st.sampled_from(
    [
        "role",
        "content",
        "type",
        "text",
        "parts",
        "tool_calls",
        "function",
        "name",
        "arguments",
        "id",
        "call_id",
        "input",
        "output",
        "source",
        "data",
        "url",
        "image_url",
        "tool_use_id",
        "functionCall",
        "functionResponse",
        "args",
        "response",
        "inlineData",
        "thought",
        "thoughtSignature",
        "signature",
        "summary",
        "messages",
        "contents",
        "instructions",
        "system",
        "systemInstruction",
        "tools",
        "tool_choice",
        "generationConfig",
        "thinking",
        "reasoning",
        "max_tokens",
        "stop",
        "user",
        "assistant",
        "model",
        "message",
        "function_call",
        "tool_use",
        "tool_result",
        "image",
        "base64",
        "reasoning_effort",
        "response_format",
        "toolConfig",
    ]
)
_junk = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=4) | _VOCAB,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_VOCAB, inner, max_size=5),
    max_leaves=20,
)
_bodies = st.dictionaries(_VOCAB, _junk, max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=_bodies, client=st.sampled_from(DIALECTS), upstream=st.sampled_from(DIALECTS))
def test_malformed_requests_are_a_translation_error_or_a_request(body: dict, client: str, upstream: str) -> None:
    from proxy_engine.translate import TranslationError, get_translator

    tr = get_translator(client, upstream)
    if tr is None:
        return
    try:
        out = tr.request(body, model="m", stream=True)
    except TranslationError as exc:
        assert exc.status == 400
        return
    assert isinstance(out, dict)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    events=st.lists(st.dictionaries(_VOCAB, _junk, max_size=6), max_size=6),
    client=st.sampled_from(DIALECTS),
    upstream=st.sampled_from(DIALECTS),
)
def test_malformed_stream_events_never_break_the_client_stream(events: list, client: str, upstream: str) -> None:
    from proxy_engine.translate import get_translator

    tr = get_translator(client, upstream)
    if tr is None:
        return
    st_ = tr.stream("m")
    raw = b"".join(st_.feed(e) for e in events) + st_.finish()
    assert raw  # always a complete, terminated stream in the client's dialect
