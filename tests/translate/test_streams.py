"""Stream edge cases: empty deltas, tool arguments in many pieces, streams that end early, errors mid-way."""

from __future__ import annotations

import json

import pytest

from proxy_engine.translate import get_translator
from tests.translate.kit import CLIENTS, collect

ARGS = '{"path": "src/main.py", "content": "print(\\"hi\\")\\n", "mode": "overwrite"}'


def pieces(text: str, size: int = 3) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def chat_events(*, finish: bool = True, usage: bool = True, tool_args: str = ARGS) -> list[dict]:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o"}

    def chunk(delta: dict, reason: str | None = None) -> dict:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]}

    out = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": ""}),
        chunk({}),
        chunk({"content": "Writing"}),
    ]
    out.append(chunk({"content": " the file."}))
    out.append(
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "write_file", "arguments": ""},
                    }
                ]
            }
        )
    )
    out += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}) for p in pieces(tool_args)]
    out.append(
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "call_b",
                        "type": "function",
                        "function": {"name": "ls", "arguments": "{}"},
                    }
                ]
            }
        )
    )
    if finish:
        out.append(chunk({}, "tool_calls"))
    if usage:
        out.append({**base, "choices": [], "usage": {"prompt_tokens": 90, "completion_tokens": 33}})
    return out


def anthropic_events(*, finish: bool = True) -> list[dict]:
    out = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": "claude",
                "usage": {"input_tokens": 80, "output_tokens": 1, "cache_read_input_tokens": 10},
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Writing"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " the file."}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_a", "name": "write_file", "input": {}},
        },
    ]
    out += [
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": p}}
        for p in ["", *pieces(ARGS, 2)]
    ]
    out += [
        {"type": "content_block_stop", "index": 1},
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "tool_use", "id": "toolu_b", "name": "ls", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": "{}"},
        },
        {"type": "content_block_stop", "index": 2},
    ]
    if finish:
        out += [
            {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 33}},
            {"type": "message_stop"},
        ]
    return out


def responses_events(*, finish: bool = True) -> list[dict]:
    resp = {"id": "resp_1", "object": "response", "status": "in_progress", "model": "gpt-5", "output": []}
    out = [
        {"type": "response.created", "response": resp},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"id": "msg_1", "type": "message", "role": "assistant", "content": []},
        },
        {"type": "response.output_text.delta", "item_id": "msg_1", "delta": ""},
        {"type": "response.output_text.delta", "item_id": "msg_1", "delta": "Writing"},
        {"type": "response.output_text.delta", "item_id": "msg_1", "delta": " the file."},
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": {
                "id": "fc_1",
                "type": "function_call",
                "call_id": "call_a",
                "name": "write_file",
                "arguments": "",
            },
        },
    ]
    out += [{"type": "response.function_call_arguments.delta", "item_id": "fc_1", "delta": p} for p in pieces(ARGS)]
    out += [
        {
            "type": "response.output_item.added",
            "output_index": 2,
            "item": {
                "id": "fc_2",
                "type": "function_call",
                "call_id": "call_b",
                "name": "ls",
                "arguments": "",
            },
        },
        {
            "type": "response.output_item.done",
            "output_index": 2,
            "item": {
                "id": "fc_2",
                "type": "function_call",
                "call_id": "call_b",
                "name": "ls",
                "arguments": "{}",
            },
        },
    ]
    if finish:
        done = {**resp, "status": "completed", "usage": {"input_tokens": 90, "output_tokens": 33}}
        out.append({"type": "response.completed", "response": done})
    return out


def gemini_events(*, finish: bool = True) -> list[dict]:
    def chunk(parts: list, reason: str | None = None, usage: dict | None = None) -> dict:
        cand: dict = {"content": {"role": "model", "parts": parts}, "index": 0}
        if reason:
            cand["finishReason"] = reason
        out = {"candidates": [cand], "responseId": "r1", "modelVersion": "gemini-2.5-pro"}
        if usage:
            out["usageMetadata"] = usage
        return out

    out = [
        chunk([{"text": ""}]),
        chunk([{"text": "Writing"}]),
        chunk([{"text": " the file."}]),
        chunk(
            [
                {"functionCall": {"name": "write_file", "args": json.loads(ARGS)}},
                {"functionCall": {"name": "ls", "args": {}}},
            ]
        ),
    ]
    if finish:
        out.append(chunk([{"text": ""}], "STOP", {"promptTokenCount": 90, "candidatesTokenCount": 33}))
    return out


UPSTREAM_EVENTS = {
    "openai_chat": chat_events,
    "anthropic": anthropic_events,
    "openai_responses": responses_events,
    "gemini": gemini_events,
}
PAIRS = [(c, u) for c in CLIENTS for u in UPSTREAM_EVENTS if c != u]


def run(client: str, upstream: str, events: list[dict], sse: bool = True) -> tuple[bytes, object]:
    tr = get_translator(client, upstream)
    assert tr is not None
    st = tr.stream("Smart", client_sse=sse)
    return b"".join(st.feed(e) for e in events) + st.finish(), st


@pytest.mark.parametrize(("client", "upstream"), PAIRS)
def test_empty_deltas_and_split_tool_arguments(client: str, upstream: str) -> None:
    raw, st = run(client, upstream, UPSTREAM_EVENTS[upstream]())
    got = collect(client, raw)
    assert got.text == "Writing the file."
    assert [c["name"] for c in got.calls] == ["write_file", "ls"]
    assert json.loads(got.calls[0]["arguments"]) == json.loads(ARGS)
    assert json.loads(got.calls[1]["arguments"]) == {}
    assert got.calls[0]["id"] != got.calls[1]["id"]
    assert st.usage["input_tokens"] == 90 and st.usage["output_tokens"] == 33
    if client in ("openai_chat", "anthropic"):
        assert got.finish == {"openai_chat": "tool_calls", "anthropic": "tool_use"}[client]


@pytest.mark.parametrize("client", CLIENTS)
def test_empty_deltas_produce_no_client_events(client: str) -> None:
    upstream = "gemini" if client != "gemini" else "anthropic"
    tr = get_translator(client, upstream)
    st = tr.stream("Smart")
    if upstream == "gemini":
        empties = [{"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "index": 0}]}] * 3
    else:
        empties = [
            {"type": "ping"},
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": ""}},
        ]
    assert b"".join(st.feed(e) for e in empties) == b""


@pytest.mark.parametrize(("client", "upstream"), PAIRS)
def test_upstream_ends_without_final_usage_or_stop(client: str, upstream: str) -> None:
    raw, _ = run(client, upstream, UPSTREAM_EVENTS[upstream](finish=False))
    got = collect(client, raw)  # collect asserts the client stream still ends the dialect's proper way
    assert got.error is None
    assert got.text == "Writing the file."
    assert [c["name"] for c in got.calls] == ["write_file", "ls"]
    if client == "openai_chat":
        assert got.finish == "tool_calls"
    elif client == "anthropic":
        assert got.finish == "tool_use"


@pytest.mark.parametrize("client", [c for c in CLIENTS if c != "openai_chat"])
def test_chat_upstream_without_usage_chunk(client: str) -> None:
    raw, st = run(client, "openai_chat", chat_events(usage=False))
    assert collect(client, raw).error is None
    assert st.usage is None  # nothing invented


ERROR_EVENTS = {
    "openai_chat": {"error": {"message": "upstream exploded", "type": "server_error"}},
    "anthropic": {"type": "error", "error": {"type": "overloaded_error", "message": "upstream exploded"}},
    "openai_responses": {
        "type": "response.failed",
        "response": {"status": "failed", "error": {"code": "server_error", "message": "upstream exploded"}},
    },
    "gemini": {"error": {"code": 503, "message": "upstream exploded", "status": "UNAVAILABLE"}},
}


@pytest.mark.parametrize(("client", "upstream"), PAIRS)
def test_upstream_error_mid_stream(client: str, upstream: str) -> None:
    events = [*UPSTREAM_EVENTS[upstream]()[:4], ERROR_EVENTS[upstream]]
    tr = get_translator(client, upstream)
    st = tr.stream("Smart")
    raw = b"".join(st.feed(e) for e in events)
    assert st.finish() == b"", "after an error the stream is over"
    got = collect(client, raw)
    assert got.error is not None
    assert "upstream exploded" in json.dumps(got.error)


@pytest.mark.parametrize(("client", "sse"), [*((c, True) for c in CLIENTS), ("gemini", False)])
def test_fail_before_any_event_is_still_well_formed(client: str, sse: bool) -> None:
    tr = get_translator(client, "openai_chat" if client != "openai_chat" else "anthropic")
    st = tr.stream("Smart", client_sse=sse)
    raw = st.fail("connection reset by upstream", 502)
    got = collect(client, raw, sse)
    assert "connection reset by upstream" in json.dumps(got.error)
    assert st.feed({"choices": [{"index": 0, "delta": {"content": "late"}}]}) == b""


def test_gemini_json_array_stream_is_one_valid_array() -> None:
    raw, _ = run("gemini", "anthropic", anthropic_events(), sse=False)
    assert raw.startswith(b"[{") and raw.endswith(b"]")
    items = json.loads(raw)
    assert items[-1]["candidates"][0]["finishReason"] == "STOP"
    assert b",\r\n{" in raw


def test_gemini_client_gets_whole_function_calls_from_split_arguments() -> None:
    raw, _ = run("gemini", "openai_chat", chat_events())
    calls = [
        p["functionCall"]
        for _, c in collect("gemini", raw).events
        for p in c["candidates"][0]["content"]["parts"]
        if "functionCall" in p
    ]
    assert calls[0]["args"] == json.loads(ARGS) and calls[0]["id"] == "call_a"


def test_gemini_upstream_ids_are_deterministic_and_distinct() -> None:
    def ids() -> list[str]:
        raw, _ = run("anthropic", "gemini", gemini_events())
        return [c["id"] for c in collect("anthropic", raw).calls]

    first, second = ids(), ids()
    assert first == second and len(set(first)) == 2


def test_malformed_upstream_event_is_skipped_not_fatal() -> None:
    tr = get_translator("anthropic", "openai_chat")
    st = tr.stream("Smart")
    out = st.feed({"choices": [{"index": 0, "delta": {"content": "ok"}}]})
    out += st.feed({"choices": [{"index": 0, "delta": {"tool_calls": "not-a-list-of-calls"}}]})
    out += st.feed({"choices": "garbage"})
    out += st.finish()
    got = collect("anthropic", out)
    assert got.text == "ok" and got.error is None


@pytest.mark.parametrize("client", [c for c in CLIENTS if c != "openai_chat"])
def test_an_upstream_model_or_id_that_is_not_a_string_is_ignored(client: str) -> None:
    """`"model": true` in the first chunk once crashed the encoders that render the model into bytes."""
    st = get_translator(client, "openai_chat").stream("Smart")
    out = st.feed({"id": 7, "model": True, "choices": [{"index": 0, "delta": {"content": "ok"}}]})
    out += st.finish()
    got = collect(client, out)
    assert got.text == "ok" and got.error is None
    assert b"Smart" in out and b'"model":true' not in out


def test_chat_tool_call_whose_name_arrives_late() -> None:
    """Some compatible servers send the id first and the name in a later delta."""
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    deltas = [
        {"tool_calls": [{"index": 0, "id": "call_z", "function": {"arguments": '{"a"'}}]},
        {"tool_calls": [{"index": 0, "function": {"name": "late_name", "arguments": ": 1}"}}]},
    ]
    events = [{**base, "choices": [{"index": 0, "delta": d}]} for d in deltas]
    raw, _ = run("anthropic", "openai_chat", events)
    got = collect("anthropic", raw)
    assert got.calls == [{"id": "call_z", "name": "late_name", "arguments": '{"a": 1}'}]


def test_usage_not_asked_for_is_hidden_from_chat_client() -> None:
    tr = get_translator("openai_chat", "anthropic")
    tr.request(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True},
        model="claude",
        stream=True,
    )
    st = tr.stream("m")
    raw = b"".join(st.feed(e) for e in anthropic_events()) + st.finish()
    got = collect("openai_chat", raw)
    assert got.usage == {}
    assert st.usage is not None and st.usage["input_tokens"] == 90  # the proxy still learns it


def test_anthropic_thinking_signature_reaches_responses_client_and_comes_back() -> None:
    events = [
        {"type": "message_start", "message": {"id": "m", "model": "c", "usage": {"input_tokens": 5}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "Let me see."},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "SIG=="},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}},
    ]
    raw, _ = run("openai_responses", "anthropic", events)
    got = collect("openai_responses", raw)
    assert got.thinking == "Let me see." and len(got.signatures) == 1
    tr = get_translator("openai_responses", "anthropic")
    body = {
        "model": "m",
        "input": [
            {"role": "user", "content": "q"},
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "Let me see."}],
                "encrypted_content": got.signatures[0],
            },
            {"role": "assistant", "content": [{"type": "output_text", "text": "a"}]},
            {"role": "user", "content": "more"},
        ],
    }
    up = tr.request(body, model="claude", stream=False)
    assert up["messages"][1]["content"][0] == {
        "type": "thinking",
        "thinking": "Let me see.",
        "signature": "SIG==",
    }
