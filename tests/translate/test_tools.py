"""What must survive a request's translation: tools, thinking, signatures, JSON output, legacy completions."""

from __future__ import annotations

import json

import pytest

from proxy_engine.translate import get_translator
from proxy_engine.translate.thinking import Signature, wrap
from tests.translate.kit import PNG_1PX, UP_MODEL, WEATHER_SCHEMA, validate_upstream


def tr_request(
    client: str,
    upstream: str,
    body: dict,
    *,
    model: str | None = None,
    stream: bool = False,
    budget: int | None = None,
) -> tuple[dict, list[str]]:
    tr = get_translator(client, upstream)
    assert tr is not None
    up = tr.request(body, model=model or UP_MODEL[upstream], stream=stream, thinking_budget=budget)
    validate_upstream(upstream, up)
    return up, tr.warnings


def user(text: str) -> dict:
    return {"role": "user", "content": text}


# ---- tools ----


def test_tool_definitions_and_choice_everywhere() -> None:
    tools = [
        {
            "type": "function",
            "function": {"name": "get_weather", "description": "W", "parameters": WEATHER_SCHEMA},
        }
    ]
    forced = {"type": "function", "function": {"name": "get_weather"}}
    body = {
        "model": "m",
        "messages": [user("hi")],
        "tools": tools,
        "tool_choice": forced,
        "parallel_tool_calls": False,
    }
    an, _ = tr_request("openai_chat", "anthropic", body)
    assert an["tools"][0]["input_schema"] == WEATHER_SCHEMA
    assert an["tool_choice"] == {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}
    gm, _ = tr_request("openai_chat", "gemini", body)
    decl = gm["tools"][0]["functionDeclarations"][0]
    assert decl["parameters"]["properties"]["unit"] == {
        "type": "STRING",
        "nullable": True,
        "enum": ["c", "f"],
        "format": "enum",
    }
    assert "additionalProperties" not in json.dumps(decl) and "$schema" not in json.dumps(decl)
    assert gm["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}
    rs, _ = tr_request("openai_chat", "openai_responses", {**body, "tool_choice": "required"})
    assert rs["tool_choice"] == "required" and rs["parallel_tool_calls"] is False


def test_anthropic_tool_choice_any_and_none() -> None:
    base = {
        "model": "m",
        "max_tokens": 9,
        "messages": [user("hi")],
        "tools": [{"name": "t", "input_schema": {"type": "object", "properties": {}}}],
    }
    chat, _ = tr_request("anthropic", "openai_chat", {**base, "tool_choice": {"type": "any"}})
    assert chat["tool_choice"] == "required"
    gem, _ = tr_request("anthropic", "gemini", {**base, "tool_choice": {"type": "none"}})
    assert gem["toolConfig"]["functionCallingConfig"]["mode"] == "NONE"
    assert "parameters" not in gem["tools"][0]["functionDeclarations"][0]  # no properties: none sent


def test_gemini_history_without_ids_maps_to_stable_ids() -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "two cities"}]},
            {
                "role": "model",
                "parts": [
                    {"functionCall": {"name": "get_weather", "args": {"city": "A"}}},
                    {"functionCall": {"name": "get_weather", "args": {"city": "B"}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"output": "a-sun"}}},
                    {"functionResponse": {"name": "get_weather", "response": {"temp": 3}}},
                ],
            },
        ]
    }
    first, _ = tr_request("gemini", "anthropic", body)
    again, _ = tr_request("gemini", "anthropic", body)
    assert first == again  # deterministic
    uses = [b for b in first["messages"][1]["content"] if b["type"] == "tool_use"]
    results = first["messages"][2]["content"]
    assert [r["tool_use_id"] for r in results] == [u["id"] for u in uses] and uses[0]["id"] != uses[1]["id"]
    assert results[0]["content"] == [{"type": "text", "text": "a-sun"}]
    assert json.loads(results[1]["content"][0]["text"]) == {"temp": 3}
    chat, _ = tr_request("gemini", "openai_chat", body)
    assert [m.get("tool_call_id") for m in chat["messages"][-2:]] == [u["id"] for u in uses]


def test_tool_results_to_gemini_find_their_function_names() -> None:
    body = {
        "model": "m",
        "messages": [
            user("q"),
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "alpha", "arguments": "{}"}},
                    {"id": "c2", "type": "function", "function": {"name": "beta", "arguments": '{"x": 1}'}},
                ],
            },
            {"role": "tool", "tool_call_id": "c2", "content": "B"},
            {"role": "tool", "tool_call_id": "c1", "content": "A"},
        ],
    }
    up, _ = tr_request("openai_chat", "gemini", body)
    responses = [p["functionResponse"] for p in up["contents"][2]["parts"]]
    assert responses == [
        {"name": "beta", "response": {"output": "B"}},
        {"name": "alpha", "response": {"output": "A"}},
    ]


def test_tool_results_with_images_and_errors() -> None:
    body = {
        "model": "m",
        "max_tokens": 9,
        "messages": [
            user("shot"),
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "screenshot", "input": {}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "is_error": True,
                        "content": [
                            {"type": "text", "text": "partial"},
                            {
                                "type": "image",
                                "source": {"type": "base64", "media_type": "image/png", "data": PNG_1PX},
                            },
                        ],
                    }
                ],
            },
        ],
    }
    chat, _ = tr_request("anthropic", "openai_chat", body)
    assert chat["messages"][2] == {"role": "tool", "tool_call_id": "t1", "content": "Error: partial"}
    assert chat["messages"][3]["content"][0]["type"] == "image_url"
    gem, _ = tr_request("anthropic", "gemini", body)
    assert gem["contents"][2]["parts"][0] == {
        "functionResponse": {"name": "screenshot", "response": {"error": "partial"}}
    }
    assert gem["contents"][2]["parts"][1]["inlineData"]["data"] == PNG_1PX


def test_codex_tools_namespace_custom_and_builtins() -> None:
    body = {
        "model": "gpt-5-codex",
        "input": "go",
        "tools": [
            {
                "type": "function",
                "name": "shell",
                "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}},
            },
            {
                "type": "custom",
                "name": "apply_patch",
                "description": "Apply a patch",
                "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"},
            },
            {
                "type": "namespace",
                "name": "collaboration",
                "tools": [
                    {
                        "type": "function",
                        "name": "spawn_agent",
                        "parameters": {"type": "object", "properties": {}},
                    }
                ],
            },
            {"type": "web_search"},
            {"type": "local_shell"},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"effort": "high", "summary": "auto"},
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "abc",
    }
    tr = get_translator("openai_responses", "anthropic")
    up = tr.request(body, model="claude-sonnet-4-5", stream=False, thinking_budget=None)
    validate_upstream("anthropic", up)
    assert [t["name"] for t in up["tools"]] == ["shell", "apply_patch", "collaboration__spawn_agent"]
    assert up["tools"][1]["input_schema"]["required"] == ["input"]
    assert any("'web_search'" in w for w in tr.warnings) and any("'local_shell'" in w for w in tr.warnings)
    answer = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "c",
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 10, "output_tokens": 5},
        "content": [
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "collaboration__spawn_agent",
                "input": {"message": "x"},
            },
            {
                "type": "tool_use",
                "id": "toolu_2",
                "name": "apply_patch",
                "input": {"input": "*** Begin Patch"},
            },
        ],
    }
    out = tr.response(answer, model="gpt-5-codex")["output"]
    assert out[0]["type"] == "function_call" and out[0]["name"] == "spawn_agent"
    assert out[0]["namespace"] == "collaboration" and json.loads(out[0]["arguments"]) == {"message": "x"}
    assert out[1]["type"] == "custom_tool_call" and out[1]["input"] == "*** Begin Patch"
    # the next turn sends these items back: they must map to the same upstream names
    body2 = {
        "model": "gpt-5-codex",
        "tools": body["tools"],
        "input": [
            {"role": "user", "content": "go"},
            out[0],
            out[1],
            {"type": "function_call_output", "call_id": "toolu_1", "output": "spawned"},
            {"type": "custom_tool_call_output", "call_id": "toolu_2", "output": "patched"},
        ],
    }
    up2, _ = tr_request("openai_responses", "anthropic", body2)
    uses = up2["messages"][1]["content"]
    assert [(u["name"], u["input"]) for u in uses] == [
        ("collaboration__spawn_agent", {"message": "x"}),
        ("apply_patch", {"input": "*** Begin Patch"}),
    ]


def test_tool_names_unsafe_for_the_target_are_renamed_and_restored() -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "x"}]}],
        "tools": [{"functionDeclarations": [{"name": "mcp.server:read", "description": "r"}]}],
    }
    tr = get_translator("gemini", "openai_chat")
    up = tr.request(body, model="gpt-4o", stream=False)
    validate_upstream("openai_chat", up)
    assert up["tools"][0]["function"]["name"] == "mcp_server_read"
    answer = {
        "id": "c",
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_9",
                            "type": "function",
                            "function": {"name": "mcp_server_read", "arguments": "{}"},
                        }
                    ],
                },
            }
        ],
    }
    part = tr.response(answer, model="g")["candidates"][0]["content"]["parts"][0]
    assert part["functionCall"]["name"] == "mcp.server:read" and part["functionCall"]["id"] == "call_9"


# ---- thinking ----


@pytest.mark.parametrize(("effort", "budget"), [("low", 4096), ("medium", 16384), ("high", 32768)])
def test_reasoning_effort_to_anthropic_budget(effort: str, budget: int) -> None:
    body = {
        "model": "m",
        "messages": [user("hi")],
        "reasoning_effort": effort,
        "max_completion_tokens": 1000,
        "temperature": 0.2,
    }
    up, _ = tr_request("openai_chat", "anthropic", body)
    assert up["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert up["max_tokens"] > budget and "temperature" not in up


@pytest.mark.parametrize(("budget", "effort"), [(2000, "low"), (10000, "medium"), (50000, "high")])
def test_anthropic_budget_to_openai_effort(budget: int, effort: str) -> None:
    body = {
        "model": "m",
        "max_tokens": 60000,
        "messages": [user("hi")],
        "thinking": {"type": "enabled", "budget_tokens": budget},
    }
    chat, _ = tr_request("anthropic", "openai_chat", body)
    assert chat["reasoning_effort"] == effort
    rs, _ = tr_request("anthropic", "openai_responses", body)
    assert rs["reasoning"] == {"effort": effort, "summary": "auto"} and rs["include"] == ["reasoning.encrypted_content"]
    gm, _ = tr_request("anthropic", "gemini", body, model="gemini-2.5-pro")
    assert gm["generationConfig"]["thinkingConfig"] == {
        "includeThoughts": True,
        "thinkingBudget": min(budget, 32768),
    }


def test_configured_thinking_budget_is_the_default() -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "q"}]}],
        "generationConfig": {"thinkingConfig": {"includeThoughts": True}},
    }
    up, _ = tr_request("gemini", "anthropic", body, budget=12000)
    assert up["thinking"]["budget_tokens"] == 12000 and up["max_tokens"] > 12000
    body = {"model": "m", "input": "q", "reasoning": {"summary": "auto"}}
    up, _ = tr_request("openai_responses", "anthropic", body, budget=5000)
    assert "thinking" not in up  # a summary setting alone does not turn thinking on


def test_gemini_thinking_levels_and_disabling() -> None:
    body = {"model": "m", "messages": [user("q")], "reasoning_effort": "low"}
    up, _ = tr_request("openai_chat", "gemini", body, model="gemini-3-pro-preview")
    assert up["generationConfig"]["thinkingConfig"] == {"includeThoughts": True, "thinkingLevel": "low"}
    off = {"model": "m", "max_tokens": 9, "messages": [user("q")], "thinking": {"type": "disabled"}}
    up, _ = tr_request("anthropic", "gemini", off, model="gemini-2.5-flash")
    assert up["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 0}
    up, _ = tr_request("anthropic", "gemini", off, model="gemini-2.5-pro")
    assert "thinkingConfig" not in up.get("generationConfig", {})


def test_thinking_turned_off_when_anthropic_would_reject_it() -> None:
    tools = [{"type": "function", "function": {"name": "t", "parameters": {"type": "object", "properties": {}}}}]
    forced = {
        "model": "m",
        "messages": [user("q")],
        "tools": tools,
        "tool_choice": "required",
        "reasoning_effort": "high",
    }
    up, warnings = tr_request("openai_chat", "anthropic", forced)
    assert "thinking" not in up and any("forced tool choice" in w for w in warnings)
    loop = {
        "model": "m",
        "reasoning_effort": "high",
        "tools": tools,
        "messages": [
            user("q"),
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "t", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "r"},
        ],
    }
    up, warnings = tr_request("openai_chat", "anthropic", loop)
    assert "thinking" not in up and any("Anthropic-signed" in w for w in warnings)


# ---- signatures go home only ----


def test_native_anthropic_thinking_is_not_sent_to_other_providers() -> None:
    body = {
        "model": "m",
        "max_tokens": 50,
        "messages": [
            user("q"),
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "secret", "signature": "ANTHROPIC_SIG"},
                    {"type": "redacted_thinking", "data": "REDACTED"},
                    {"type": "text", "text": "answer"},
                ],
            },
            user("more"),
        ],
    }
    for upstream in ("openai_chat", "openai_responses", "gemini"):
        up, _ = tr_request("anthropic", upstream, body)
        sent = json.dumps(up)
        assert "ANTHROPIC_SIG" not in sent and "REDACTED" not in sent and "answer" in sent


def test_wrapped_signatures_go_back_to_their_issuer() -> None:
    gem_thought = wrap(Signature(source="gemini", signature="R0VNX1NJRw=="))
    gem_call = wrap(Signature(source="gemini", signature="Q0FMTF9TSUc="))
    body = {
        "model": "m",
        "max_tokens": 50,
        "messages": [
            user("q"),
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "pondering", "signature": gem_thought},
                    {"type": "thinking", "thinking": "", "signature": gem_call},
                    {"type": "tool_use", "id": "call_1", "name": "t", "input": {}},
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "ok"}]},
        ],
    }
    gm, _ = tr_request("anthropic", "gemini", body, model="gemini-2.5-pro")
    parts = gm["contents"][1]["parts"]
    assert parts[0] == {"text": "pondering", "thought": True, "thoughtSignature": "R0VNX1NJRw=="}
    assert parts[1] == {"functionCall": {"name": "t", "args": {}}, "thoughtSignature": "Q0FMTF9TSUc="}
    chat, _ = tr_request("anthropic", "openai_chat", body)
    call = chat["messages"][1]["tool_calls"][0]
    assert call["extra_content"] == {"google": {"thought_signature": "Q0FMTF9TSUc="}}
    rs, _ = tr_request("anthropic", "openai_responses", body)
    assert "R0VNX1NJRw" not in json.dumps(rs) and "Q0FMTF9TSUc" not in json.dumps(rs)


def test_gemini_3_history_from_elsewhere_gets_the_documented_placeholder() -> None:
    body = {
        "model": "m",
        "messages": [
            user("q"),
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "t", "arguments": "{}"}},
                    {"id": "c2", "type": "function", "function": {"name": "t", "arguments": "{}"}},
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "a"},
            {"role": "tool", "tool_call_id": "c2", "content": "b"},
        ],
    }
    g3, _ = tr_request("openai_chat", "gemini", body, model="gemini-3-pro-preview")
    calls = g3["contents"][1]["parts"]
    assert calls[0]["thoughtSignature"] == "skip_thought_signature_validator" and "thoughtSignature" not in calls[1]
    g25, _ = tr_request("openai_chat", "gemini", body, model="gemini-2.5-pro")
    assert all("thoughtSignature" not in p for p in g25["contents"][1]["parts"])


def test_json_output_settings() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False}
    body = {
        "model": "m",
        "messages": [user("q")],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    }
    gm, _ = tr_request("openai_chat", "gemini", body)
    assert gm["generationConfig"]["responseMimeType"] == "application/json"
    assert gm["generationConfig"]["responseSchema"] == {
        "type": "OBJECT",
        "properties": {"a": {"type": "INTEGER"}},
    }
    rs, _ = tr_request("openai_chat", "openai_responses", body)
    assert rs["text"]["format"]["schema"] == schema
    an, _ = tr_request("openai_chat", "anthropic", body)
    assert "JSON Schema" in an["system"][-1]["text"]


def test_get_translator_same_dialect_and_unknown() -> None:
    assert get_translator("anthropic", "anthropic") is None
    with pytest.raises(ValueError, match="unknown dialect"):
        get_translator("anthropic", "cohere")


def test_legacy_completions_maps_onto_chat() -> None:
    body = {
        "model": "gpt-3.5-turbo-instruct",
        "prompt": "Say hi",
        "max_tokens": 7,
        "stop": "\n",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    tr = get_translator("openai_completions", "anthropic")
    up = tr.request(body, model="claude-haiku-4-5", stream=True)
    validate_upstream("anthropic", up)
    assert up["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Say hi"}]}]
    assert (up["max_tokens"], up["stop_sequences"]) == (7, ["\n"])
    st = tr.stream("gpt-3.5-turbo-instruct")
    events = [
        {"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 3}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 7}},
    ]
    raw = b"".join(st.feed(e) for e in events) + st.finish()
    chunks = [json.loads(line[6:]) for line in raw.decode().split("\n\n") if line.startswith("data: {")]
    assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"]) == "Hi"
    assert chunks[-2]["choices"][0]["finish_reason"] == "length" and chunks[-1]["usage"]["completion_tokens"] == 7
    assert raw.endswith(b"data: [DONE]\n\n")
    whole = get_translator("openai_completions", "gemini")
    whole.request({"model": "x", "prompt": ["a"]}, model="gemini-2.5-flash", stream=False)
    out = whole.response(
        {
            "candidates": [{"content": {"parts": [{"text": "b"}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1},
        },
        model="x",
    )
    assert out["object"] == "text_completion" and out["choices"][0]["text"] == "b"
    assert out["usage"] == {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
