"""Shared helpers for the translation tests (no tests here).

Upstream answers are rendered by the fake providers' own renderers (tests/fakes), so the translator is
fed exactly the wire shapes the fakes serve; upstream requests are checked with the fakes' validators.
Client streams are parsed back and checked against each dialect's event protocol by `collect`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.anthropic_fake import MessageRenderer
from tests.fakes.anthropic_validate import validate_messages
from tests.fakes.base import parse_sse
from tests.fakes.gemini_fake import GeminiRenderer
from tests.fakes.gemini_validate import validate_generate
from tests.fakes.openai_fake import chat_frames, chat_json
from tests.fakes.openai_responses import ResponsesRenderer
from tests.fakes.openai_validate import validate_chat, validate_completions, validate_responses
from tests.fakes.script import Script

CLIENTS = ("openai_chat", "openai_responses", "anthropic", "gemini")
UPSTREAMS = ("openai_chat", "openai_responses", "anthropic", "gemini")
PAIRS = [(c, u) for c in CLIENTS for u in UPSTREAMS if c != u]
UP_MODEL = {
    "openai_chat": "gpt-4o",
    "openai_responses": "gpt-5",
    "anthropic": "claude-sonnet-4-5",
    "gemini": "gemini-2.5-flash",
}
PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
WEATHER_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "city": {"type": "string", "description": "City name"},
        "unit": {"type": ["string", "null"], "enum": ["c", "f", None]},
        "days": {"type": "integer", "minimum": 1, "exclusiveMaximum": 15},
    },
    "required": ["city"],
}


def validate_upstream(upstream: str, body: dict) -> None:
    """The encoded request is one the fake (and so the real API) accepts."""
    if upstream == "openai_chat":
        validate_chat(body)
    elif upstream == "openai_responses":
        validate_responses(body)
    elif upstream == "openai_completions":
        validate_completions(body)
    elif upstream == "anthropic":
        validate_messages(body)
    elif upstream == "gemini":
        validate_generate(body, strict=True)
    else:
        raise AssertionError(upstream)


def render_json(upstream: str, script: Script, body: dict, model: str | None = None) -> dict:
    model = model or body.get("model") or UP_MODEL[upstream]
    if upstream == "openai_chat":
        return chat_json(script, {**body, "model": model})
    if upstream == "openai_responses":
        return ResponsesRenderer(script, model, body).as_json()
    if upstream == "anthropic":
        return MessageRenderer(script, {**body, "model": model}).as_json()
    return GeminiRenderer(script, model, body).as_json()


def render_events(upstream: str, script: Script, body: dict, model: str | None = None) -> list[dict]:
    """Stream payloads as the proxy hands them over: parsed JSON, OpenAI's [DONE] and pings dropped."""
    model = model or body.get("model") or UP_MODEL[upstream]
    if upstream == "gemini":
        return GeminiRenderer(script, model, body).chunks()
    if upstream == "openai_chat":
        frames = chat_frames(script, {**body, "model": model})
    elif upstream == "openai_responses":
        frames = ResponsesRenderer(script, model, body).frames()
    else:
        frames = MessageRenderer(script, {**body, "model": model}).frames()
    return [data for _, data in parse_sse(b"".join(frames)) if isinstance(data, dict)]


def parse_client_stream(client: str, raw: bytes, sse: bool = True) -> list[tuple[str | None, Any]]:
    if client == "gemini" and not sse:
        return [(None, item) for item in json.loads(raw.decode())]
    return parse_sse(raw)


@dataclass
class Collected:
    text: str = ""
    thinking: str = ""
    signatures: list[str] = field(default_factory=list)
    calls: list[dict] = field(default_factory=list)  # {"id", "name", "arguments"}
    usage: dict = field(default_factory=dict)
    finish: str | None = None
    error: Any = None
    events: list = field(default_factory=list)


def collect(client: str, raw: bytes, sse: bool = True) -> Collected:
    """Reassemble a client stream while checking the dialect's protocol rules."""
    events = parse_client_stream(client, raw, sse)
    out = Collected(events=events)
    {"openai_chat": _chat, "openai_responses": _responses, "anthropic": _anthropic, "gemini": _gemini}[client](
        events, out, raw
    )
    return out


def _chat(events: list, out: Collected, raw: bytes) -> None:
    calls: dict[int, dict] = {}
    for i, (_, data) in enumerate(events):
        if data == "[DONE]":
            assert i == len(events) - 1, "[DONE] must be last"
            continue
        if "error" in data:
            out.error = data["error"]
            continue
        assert data["object"] == "chat.completion.chunk"
        if data.get("usage"):
            out.usage = data["usage"]
        for choice in data["choices"]:
            delta = choice["delta"]
            out.text += delta.get("content") or ""
            out.thinking += delta.get("reasoning_content") or ""
            for tc in delta.get("tool_calls") or []:
                if tc["index"] not in calls:
                    assert tc.get("id") and tc["function"].get("name"), "first tool delta carries id and name"
                    calls[tc["index"]] = {"id": tc["id"], "name": tc["function"]["name"], "arguments": ""}
                calls[tc["index"]]["arguments"] += tc["function"].get("arguments") or ""
            if choice.get("finish_reason"):
                out.finish = choice["finish_reason"]
    if out.error is None:
        assert events and events[-1][1] == "[DONE]", "a chat stream ends with [DONE]"
    out.calls = [calls[k] for k in sorted(calls)]


def _anthropic(events: list, out: Collected, raw: bytes) -> None:
    open_blocks: dict[int, dict] = {}
    seen_start = False
    for name, data in events:
        assert name == data["type"], "the SSE event name matches the payload type"
        kind = data["type"]
        if kind == "error":
            out.error = data["error"]
            continue
        if kind == "message_start":
            assert not seen_start
            seen_start = True
            out.usage = dict(data["message"]["usage"])
            continue
        assert seen_start, "message_start comes first"
        if kind == "content_block_start":
            idx = data["index"]
            assert idx not in open_blocks
            block = dict(data["content_block"])
            block["_json"] = ""
            open_blocks[idx] = block
        elif kind == "content_block_delta":
            block = open_blocks[data["index"]]
            d = data["delta"]
            if d["type"] == "text_delta":
                assert block["type"] == "text"
                out.text += d["text"]
            elif d["type"] == "thinking_delta":
                assert block["type"] == "thinking"
                out.thinking += d["thinking"]
            elif d["type"] == "signature_delta":
                assert block["type"] == "thinking"
                out.signatures.append(d["signature"])
            elif d["type"] == "input_json_delta":
                assert block["type"] == "tool_use"
                block["_json"] += d["partial_json"]
        elif kind == "content_block_stop":
            block = open_blocks[data["index"]]
            if block["type"] == "tool_use":
                out.calls.append({"id": block["id"], "name": block["name"], "arguments": block["_json"]})
        elif kind == "message_delta":
            out.finish = data["delta"]["stop_reason"]
            out.usage.update(data["usage"])
    if out.error is None:
        assert events[-1][0] == "message_stop", "an Anthropic stream ends with message_stop"


def _responses(events: list, out: Collected, raw: bytes) -> None:
    seqs = [data["sequence_number"] for _, data in events]
    assert seqs == list(range(len(seqs))), "sequence numbers count up from 0"
    items: dict[str, dict] = {}
    for name, data in events:
        assert name == data["type"]
        kind = data["type"]
        if kind == "response.output_text.delta":
            assert data["item_id"] in items
            out.text += data["delta"]
        elif kind == "response.reasoning_summary_text.delta":
            out.thinking += data["delta"]
        elif kind == "response.output_item.added":
            items[data["item"]["id"]] = data["item"]
        elif kind == "response.function_call_arguments.delta":
            assert data["item_id"] in items
        elif kind == "response.output_item.done":
            item = data["item"]
            if item["type"] == "function_call":
                out.calls.append({"id": item["call_id"], "name": item["name"], "arguments": item["arguments"]})
            elif item["type"] == "custom_tool_call":
                out.calls.append({"id": item["call_id"], "name": item["name"], "arguments": item["input"]})
            elif item["type"] == "reasoning" and item.get("encrypted_content"):
                out.signatures.append(item["encrypted_content"])
        elif kind in ("response.completed", "response.incomplete"):
            out.finish = data["response"]["status"]
            out.usage = data["response"]["usage"]
        elif kind in ("error", "response.failed"):
            out.error = data
    if out.error is None:
        assert events[-1][0] in ("response.completed", "response.incomplete")


def _gemini(events: list, out: Collected, raw: bytes) -> None:
    for _, data in events:
        if "error" in data:
            out.error = data["error"]
            continue
        cand = data["candidates"][0]
        for part in cand["content"]["parts"]:
            if part.get("thought"):
                out.thinking += part.get("text", "")
                if part.get("thoughtSignature"):
                    out.signatures.append(part["thoughtSignature"])
            elif "text" in part:
                out.text += part["text"]
            elif "functionCall" in part:
                fc = part["functionCall"]
                out.calls.append({"id": fc.get("id"), "name": fc["name"], "arguments": json.dumps(fc["args"])})
        if cand.get("finishReason"):
            out.finish = cand["finishReason"]
        if data.get("usageMetadata"):
            out.usage = data["usageMetadata"]


# ---- client request bodies, per scenario ----


def client_body(client: str, scenario: str, *, stream: bool = False, model: str = "Smart") -> dict:
    """A realistic request from each SDK: plain | tools | tool_result | image | thinking."""
    return {
        "openai_chat": _chat_body,
        "openai_responses": _responses_body,
        "anthropic": _anthropic_body,
        "gemini": _gemini_body,
    }[client](scenario, stream, model)


def _chat_body(scenario: str, stream: bool, model: str) -> dict:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "system", "content": "Be brief."}]}
    tools = [
        {
            "type": "function",
            "function": {"name": "get_weather", "description": "Weather", "parameters": WEATHER_SCHEMA},
        }
    ]
    if scenario == "plain":
        body["messages"].append({"role": "user", "content": "Hello"})
        body.update(max_tokens=200, temperature=0.3, top_p=0.9, stop=["STOP"], user="u-1")
    elif scenario == "tools":
        body["messages"].append({"role": "user", "content": "Weather in Paris?"})
        body.update(tools=tools, tool_choice="auto")
    elif scenario == "tool_result":
        body["messages"] += [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "call_2", "content": "rainy"},
        ]
        body["tools"] = tools
    elif scenario == "image":
        body["messages"].append(
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1PX}"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                ],
            }
        )
    elif scenario == "thinking":
        body["messages"].append({"role": "user", "content": "Think: 2+2?"})
        body.update(reasoning_effort="medium", max_completion_tokens=30000)
    if stream:
        body.update(stream=True, stream_options={"include_usage": True})
    return body


def _responses_body(scenario: str, stream: bool, model: str) -> dict:
    body: dict[str, Any] = {"model": model, "instructions": "Be brief."}
    tools = [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather",
            "parameters": WEATHER_SCHEMA,
            "strict": False,
        }
    ]
    if scenario == "plain":
        body.update(input="Hello", max_output_tokens=200, temperature=0.3)
    elif scenario == "tools":
        body.update(input=[{"role": "user", "content": "Weather in Paris?"}], tools=tools, tool_choice="auto")
    elif scenario == "tool_result":
        body["input"] = [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Weather in Paris?"}],
            },
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"city":"Paris"}',
            },
            {
                "type": "function_call",
                "call_id": "call_2",
                "name": "get_weather",
                "arguments": '{"city":"Rome"}',
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
            {"type": "function_call_output", "call_id": "call_2", "output": "rainy"},
        ]
        body["tools"] = tools
    elif scenario == "image":
        body["input"] = [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What is this?"},
                    {"type": "input_image", "image_url": f"data:image/png;base64,{PNG_1PX}"},
                    {"type": "input_image", "image_url": "https://example.com/cat.png"},
                ],
            }
        ]
    elif scenario == "thinking":
        body.update(input="Think: 2+2?", reasoning={"effort": "medium", "summary": "auto"})
    if stream:
        body["stream"] = True
    return body


def _anthropic_body(scenario: str, stream: bool, model: str) -> dict:
    body: dict[str, Any] = {"model": model, "max_tokens": 1024, "system": "Be brief."}
    tools = [{"name": "get_weather", "description": "Weather", "input_schema": WEATHER_SCHEMA}]
    if scenario == "plain":
        body.update(
            messages=[{"role": "user", "content": "Hello"}],
            temperature=0.3,
            top_p=0.9,
            stop_sequences=["STOP"],
            metadata={"user_id": "u-1"},
        )
    elif scenario == "tools":
        body.update(
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=tools,
            tool_choice={"type": "auto"},
        )
    elif scenario == "tool_result":
        body["messages"] = [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_2",
                        "content": [{"type": "text", "text": "rainy"}],
                    },
                ],
            },
        ]
        body["tools"] = tools
    elif scenario == "image":
        body["messages"] = [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG_1PX},
                    },
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
                ],
            }
        ]
    elif scenario == "thinking":
        body.update(
            messages=[{"role": "user", "content": "Think: 2+2?"}],
            max_tokens=16000,
            thinking={"type": "enabled", "budget_tokens": 4000},
        )
    if stream:
        body["stream"] = True
    return body


def _gemini_body(scenario: str, stream: bool, model: str) -> dict:
    body: dict[str, Any] = {"systemInstruction": {"parts": [{"text": "Be brief."}]}}
    params = {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}
    tools = [{"functionDeclarations": [{"name": "get_weather", "description": "Weather", "parameters": params}]}]
    if scenario == "plain":
        body["contents"] = [{"role": "user", "parts": [{"text": "Hello"}]}]
        body["generationConfig"] = {
            "maxOutputTokens": 200,
            "temperature": 0.3,
            "topP": 0.9,
            "stopSequences": ["STOP"],
        }
    elif scenario == "tools":
        body.update(
            contents=[{"role": "user", "parts": [{"text": "Weather in Paris?"}]}],
            tools=tools,
            toolConfig={"functionCallingConfig": {"mode": "AUTO"}},
        )
    elif scenario == "tool_result":
        body["contents"] = [
            {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
            {
                "role": "model",
                "parts": [
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                    {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"output": "sunny"}}},
                    {"functionResponse": {"name": "get_weather", "response": {"output": "rainy"}}},
                ],
            },
        ]
        body["tools"] = tools
    elif scenario == "image":
        body["contents"] = [
            {
                "role": "user",
                "parts": [
                    {"text": "What is this?"},
                    {"inlineData": {"mimeType": "image/png", "data": PNG_1PX}},
                    {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/cat.png"}},
                ],
            }
        ]
    elif scenario == "thinking":
        body["contents"] = [{"role": "user", "parts": [{"text": "Think: 2+2?"}]}]
        body["generationConfig"] = {"thinkingConfig": {"thinkingBudget": 4000, "includeThoughts": True}}
    return body
