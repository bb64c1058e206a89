"""The four official client SDKs, driven the same way, for the translation matrix (no tests here).

`ask` sends one turn through an SDK and returns what that SDK parsed (text, reasoning, tool calls,
usage) in one neutral shape; the prompt, image and tool-result histories are built in each SDK's own
types, exactly as a coding tool would send them.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import anthropic
import openai
from google import genai
from google.genai import types

from tests.translate.kit import PNG_1PX

SDKS = ("openai_chat", "openai_responses", "anthropic", "gemini")
SYSTEM = "You are terse."
IMAGE_QUESTION = "What is in this picture?"
TOOLS = {
    "get_weather": ("Weather for a city", {"city": {"type": "string", "description": "City name"}}),
    "get_time": ("Local time in a time zone", {"zone": {"type": "string"}}),
}
# What each SDK asks for when thinking is on: the effort or budget the upstream should receive.
THINKING_ASKED = {
    "openai_chat": ("medium", 16384),
    "openai_responses": ("medium", 16384),
    "anthropic": ("low", 2048),
    "gemini": ("low", 2048),
}


@dataclass
class Call:
    id: str | None
    name: str
    args: dict[str, Any]


@dataclass
class Reply:
    text: str = ""
    thinking: str = ""
    calls: list[Call] = field(default_factory=list)
    input: int | None = None
    output: int | None = None
    raw: Any = None  # what goes back into the next turn's history


def make_clients(url: str) -> dict[str, Any]:
    oa = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=20)
    return {
        "openai_chat": oa,
        "openai_responses": oa,
        "anthropic": anthropic.Anthropic(base_url=url, api_key="unused", max_retries=0, timeout=20),
        "gemini": genai.Client(
            api_key="unused", http_options=types.HttpOptions(base_url=url, api_version="v1beta", timeout=20_000)
        ),
    }


def _schema(props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def ask(
    client: Any,
    sdk: str,
    model: str,
    prompt: Any = None,
    *,
    stream: bool = False,
    system: str | None = None,
    tools: bool = False,
    thinking: bool = False,
    history: list | None = None,
) -> Reply:
    """One turn; `history` replaces `prompt` for a follow-up turn."""
    driver = {"openai_chat": _chat, "openai_responses": _responses, "anthropic": _anthropic, "gemini": _gemini}[sdk]
    return driver(client, model, prompt, stream, system, tools, thinking, history)


def _chat(client, model, prompt, stream, system, tools, thinking, history) -> Reply:
    messages = history or [{"role": "user", "content": prompt}]
    if system:
        messages = [{"role": "system", "content": system}, *messages]
    kw: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": 512}
    if tools:
        kw["tools"] = [
            {"type": "function", "function": {"name": n, "description": d, "parameters": _schema(p)}}
            for n, (d, p) in TOOLS.items()
        ]
    if thinking:
        kw["reasoning_effort"] = THINKING_ASKED["openai_chat"][0]
    if stream:
        with client.chat.completions.stream(**kw, stream_options={"include_usage": True}) as s:
            for _ in s:
                pass
            done = s.get_final_completion()
    else:
        done = client.chat.completions.create(**kw)
    msg = done.choices[0].message
    calls = [Call(c.id, c.function.name, json.loads(c.function.arguments)) for c in msg.tool_calls or []]
    reasoning = (msg.model_extra or {}).get("reasoning_content") or ""
    u = done.usage
    return Reply(msg.content or "", reasoning, calls, u.prompt_tokens, u.completion_tokens, msg)


def _responses(client, model, prompt, stream, system, tools, thinking, history) -> Reply:
    kw: dict[str, Any] = {"model": model, "input": history or [{"role": "user", "content": prompt}]}
    if system:
        kw["instructions"] = system
    if tools:
        kw["tools"] = [
            {"type": "function", "name": n, "description": d, "parameters": _schema(p), "strict": False}
            for n, (d, p) in TOOLS.items()
        ]
    if thinking:
        kw["reasoning"] = {"effort": THINKING_ASKED["openai_responses"][0], "summary": "auto"}
    if stream:
        with client.responses.stream(**kw) as s:
            for _ in s:
                pass
            done = s.get_final_response()
    else:
        done = client.responses.create(**kw)
    reply = Reply(text=done.output_text, input=done.usage.input_tokens, output=done.usage.output_tokens)
    reply.raw = done.output
    for item in done.output:
        if item.type == "function_call":
            reply.calls.append(Call(item.call_id, item.name, json.loads(item.arguments)))
        elif item.type == "reasoning":
            reply.thinking += "".join(s.text for s in item.summary)
    return reply


def _anthropic(client, model, prompt, stream, system, tools, thinking, history) -> Reply:
    kw: dict[str, Any] = {
        "model": model,
        "max_tokens": 4096,
        "messages": history or [{"role": "user", "content": prompt}],
    }
    if system:
        kw["system"] = system
    if tools:
        kw["tools"] = [{"name": n, "description": d, "input_schema": _schema(p)} for n, (d, p) in TOOLS.items()]
    if thinking:
        kw["thinking"] = {"type": "enabled", "budget_tokens": THINKING_ASKED["anthropic"][1]}
    if stream:
        with client.messages.stream(**kw) as s:
            for _ in s:
                pass
            done = s.get_final_message()
    else:
        done = client.messages.create(**kw)
    u = done.usage
    return Reply(
        text="".join(b.text for b in done.content if b.type == "text"),
        thinking="".join(b.thinking for b in done.content if b.type == "thinking"),
        calls=[Call(b.id, b.name, b.input) for b in done.content if b.type == "tool_use"],
        input=u.input_tokens + (u.cache_read_input_tokens or 0) + (u.cache_creation_input_tokens or 0),
        output=u.output_tokens,
        raw=done.content,
    )


def _gemini(client, model, prompt, stream, system, tools, thinking, history) -> Reply:
    config: dict[str, Any] = {}
    if system:
        config["system_instruction"] = system
    if tools:
        decls = [
            types.FunctionDeclaration(name=n, description=d, parameters_json_schema=_schema(p))
            for n, (d, p) in TOOLS.items()
        ]
        config["tools"] = [types.Tool(function_declarations=decls)]
        config["automatic_function_calling"] = types.AutomaticFunctionCallingConfig(disable=True)
    if thinking:
        budget = THINKING_ASKED["gemini"][1]
        config["thinking_config"] = types.ThinkingConfig(thinking_budget=budget, include_thoughts=True)
    cfg = types.GenerateContentConfig(**config) if config else None
    contents = history or prompt
    if stream:
        chunks = list(client.models.generate_content_stream(model=model, contents=contents, config=cfg))
    else:
        chunks = [client.models.generate_content(model=model, contents=contents, config=cfg)]
    reply = Reply(raw=[])
    for chunk in chunks:
        for part in chunk.candidates[0].content.parts or []:
            reply.raw.append(part)
            if part.thought:
                reply.thinking += part.text or ""
            elif part.function_call:
                fc = part.function_call
                reply.calls.append(Call(fc.id, fc.name, dict(fc.args or {})))
            elif part.text:
                reply.text += part.text
    usage = chunks[-1].usage_metadata
    reply.input = usage.prompt_token_count
    reply.output = (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)
    return reply


def image_prompt(sdk: str) -> Any:
    """A question plus a 1x1 PNG as base64, in the SDK's own content shape."""
    if sdk == "openai_chat":
        return [
            {"type": "text", "text": IMAGE_QUESTION},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1PX}"}},
        ]
    if sdk == "openai_responses":
        return [
            {"type": "input_text", "text": IMAGE_QUESTION},
            {"type": "input_image", "image_url": f"data:image/png;base64,{PNG_1PX}"},
        ]
    if sdk == "anthropic":
        return [
            {"type": "text", "text": IMAGE_QUESTION},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_1PX}},
        ]
    return [
        types.Part.from_text(text=IMAGE_QUESTION),
        types.Part.from_bytes(data=base64.b64decode(PNG_1PX), mime_type="image/png"),
    ]


def history_with_results(sdk: str, prompt: str, first: Reply, results: dict[str, str]) -> list:
    """The follow-up turn: the question, the model's calls as the SDK returned them, and one result per
    call (keyed by tool name) in the SDK's tool-result shape."""
    if sdk == "openai_chat":
        return [
            {"role": "user", "content": prompt},
            first.raw.model_dump(exclude_none=True),
            *({"role": "tool", "tool_call_id": c.id, "content": results[c.name]} for c in first.calls),
        ]
    if sdk == "openai_responses":
        return [
            {"role": "user", "content": prompt},
            *(item.model_dump(exclude_none=True) for item in first.raw),
            *({"type": "function_call_output", "call_id": c.id, "output": results[c.name]} for c in first.calls),
        ]
    if sdk == "anthropic":
        return [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.raw]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": c.id, "content": results[c.name]} for c in first.calls
                ],
            },
        ]
    answers = [
        types.Part(function_response=types.FunctionResponse(id=c.id, name=c.name, response={"output": results[c.name]}))
        for c in first.calls
    ]
    return [
        types.Content(role="user", parts=[types.Part.from_text(text=prompt)]),
        types.Content(role="model", parts=first.raw),
        types.Content(role="user", parts=answers),
    ]
