"""OpenAI Chat Completions: requests and whole responses (streams are in openai_chat_stream)."""

from __future__ import annotations

from typing import Any

from proxy_engine.usage.upstream import from_openai_chat

from . import mapping
from .context import Context
from .errors import TranslationError
from .fields import as_float, as_int, as_list, as_obj, get, str_list
from .ids import new_id, now
from .ir import (
    Document,
    Image,
    Message,
    Reasoning,
    Request,
    Response,
    Text,
    Thinking,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
)
from .json_text import args_text
from .media import data_url, document_from_url, image_from_url
from .shape import hoist_system, is_openai_reasoning_model
from .thinking import resolve_effort, wants_thinking

CUSTOM_TOOL_PARAMS = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "The raw input for this tool."}},
    "required": ["input"],
}


# ---- decode (client -> IR) ----


def _content_parts(content: Any, role: str) -> list:
    if content is None:
        return []
    if isinstance(content, str):
        return [Text(text=content)] if content else []
    parts: list = []
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind in ("text", "input_text", "output_text"):
            parts.append(Text(text=str(part.get("text", ""))))
        elif kind == "refusal":
            parts.append(Text(text=str(part.get("refusal", ""))))
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if isinstance(url, str):
                parts.append(image_from_url(url))
        elif kind == "file":
            spec = as_obj(part.get("file"))
            if spec.get("file_data"):
                doc = document_from_url(str(spec["file_data"]), spec.get("filename"))
                if doc.data is None and doc.url is not None:  # bare base64 without a data: prefix
                    doc = Document(data=str(spec["file_data"]), title=spec.get("filename"))
                parts.append(doc)
            else:
                raise TranslationError("file_id references cannot be forwarded to another provider; send file_data")
        elif kind == "input_audio":
            raise TranslationError("audio input cannot be translated to this provider")
    return parts


def decode_tools(tools: Any, ctx: Context) -> list[Tool]:
    out: list[Tool] = []
    for tool in tools if isinstance(tools, list) else []:
        if not isinstance(tool, dict):
            continue
        if tool.get("type") == "function" and isinstance(tool.get("function"), dict):
            fn = tool["function"]
            name = ctx.register_tool(str(fn.get("name", "")))
            params = fn.get("parameters") if isinstance(fn.get("parameters"), dict) else None
            out.append(
                Tool(
                    name=name,
                    description=fn.get("description") or "",
                    parameters=params or {"type": "object", "properties": {}},
                )
            )
        elif tool.get("type") == "custom" and isinstance(tool.get("custom"), dict):
            spec = tool["custom"]
            name = ctx.register_tool(str(spec.get("name", "")), kind="custom")
            out.append(
                Tool(
                    name=name,
                    description=spec.get("description") or "",
                    parameters=CUSTOM_TOOL_PARAMS,
                    kind="custom",
                )
            )
        else:
            ctx.warn(f"dropped tool of type {tool.get('type')!r}: the upstream has no equivalent")
    return out


def decode_tool_choice(choice: Any, ctx: Context) -> ToolChoice | None:
    if choice in ("auto", "none", "required"):
        return ToolChoice(mode=choice)
    if isinstance(choice, dict):
        fn = as_obj(choice.get("function") or choice.get("custom"))
        name = fn.get("name") or choice.get("name")
        if isinstance(name, str):
            return ToolChoice(mode="tool", name=ctx.upstream_name(name))
    return None


def _tool_call(call: dict, ctx: Context) -> ToolCall:
    fn = as_obj(call.get("function"))
    google = as_obj(as_obj(call.get("extra_content")).get("google"))
    sig = google.get("thought_signature")
    return ToolCall(
        id=str(call.get("id") or new_id("call_")),
        name=ctx.upstream_name(str(fn.get("name", ""))),
        arguments=args_text(fn.get("arguments")),
        signature=sig if isinstance(sig, str) else None,
        signature_source="gemini" if isinstance(sig, str) else None,
    )


def decode_request(body: dict, ctx: Context) -> Request:
    req = Request(model=str(body.get("model", "")))
    req.tools = decode_tools(body.get("tools"), ctx)
    messages: list[Message] = []
    call_names: dict[str, str] = {}  # tool call id -> name
    legacy_ids: dict[str, str] = {}  # legacy function_call name -> synthesized id
    for msg in as_list(body.get("messages")):
        if not isinstance(msg, dict):
            continue
        role = msg.get("role")
        if role in ("system", "developer"):
            messages.append(Message(role="system", parts=_content_parts(msg.get("content"), "system")))
        elif role == "user":
            messages.append(Message(role="user", parts=_content_parts(msg.get("content"), "user")))
        elif role == "assistant":
            parts: list = []
            reasoning = msg.get("reasoning_content") or msg.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                parts.append(Thinking(text=reasoning))
            parts.extend(_content_parts(msg.get("content"), "assistant"))
            for call in as_list(msg.get("tool_calls")):
                if isinstance(call, dict):
                    tc = _tool_call(call, ctx)
                    call_names[tc.id] = tc.name
                    parts.append(tc)
            if isinstance(msg.get("function_call"), dict):
                fc = msg["function_call"]
                tc = ToolCall(
                    id=f"call_legacy_{len(legacy_ids)}",
                    name=ctx.upstream_name(str(fc.get("name", ""))),
                    arguments=args_text(fc.get("arguments")),
                )
                legacy_ids[tc.name] = tc.id
                call_names[tc.id] = tc.name
                parts.append(tc)
            messages.append(Message(role="assistant", parts=parts))
        elif role in ("tool", "function"):
            fname = ctx.upstream_name(str(msg.get("name", "")))
            call_id = str(msg.get("tool_call_id") or legacy_ids.get(fname, fname))
            result = ToolResult(
                call_id=call_id,
                content=_content_parts(msg.get("content"), "tool"),
                name=call_names.get(call_id),
            )
            if messages and messages[-1].role == "user" and all(isinstance(p, ToolResult) for p in messages[-1].parts):
                messages[-1].parts.append(result)
            else:
                messages.append(Message(role="user", parts=[result]))
    req.system, req.messages = hoist_system([], messages)
    req.tool_choice = decode_tool_choice(body.get("tool_choice"), ctx)
    if isinstance(body.get("parallel_tool_calls"), bool):
        req.parallel_tool_calls = body["parallel_tool_calls"]
    req.max_tokens = as_int(get(body, "max_completion_tokens", "max_tokens"))
    req.temperature = as_float(body.get("temperature"))
    req.top_p = as_float(body.get("top_p"))
    req.top_k = as_int(body.get("top_k"))
    req.stop = str_list(body.get("stop"))
    effort = body.get("reasoning_effort") or as_obj(body.get("reasoning")).get("effort")
    if isinstance(effort, str):
        req.reasoning = Reasoning(enabled=effort != "none", effort=effort)
    if isinstance(body.get("user"), str):
        req.user = body["user"]
    if isinstance(body.get("metadata"), dict):
        req.metadata = {str(k): str(v) for k, v in body["metadata"].items()}
    fmt = as_obj(body.get("response_format"))
    if fmt.get("type") == "json_object":
        req.json_mode = True
    elif fmt.get("type") == "json_schema" and isinstance(as_obj(fmt.get("json_schema")).get("schema"), dict):
        req.json_schema = fmt["json_schema"]["schema"]
    ctx.include_usage = bool(as_obj(body.get("stream_options")).get("include_usage"))
    return req


# ---- encode (IR -> upstream) ----


def _encode_user_parts(parts: list) -> list[dict]:
    out = []
    for p in parts:
        if isinstance(p, Text):
            out.append({"type": "text", "text": p.text})
        elif isinstance(p, Image):
            url = p.url if p.url else data_url(p.media_type or "image/png", p.data or "")
            out.append({"type": "image_url", "image_url": {"url": url}})
        elif isinstance(p, Document):
            if p.text is not None:
                out.append({"type": "text", "text": p.text})
            elif p.data is not None:
                name = p.title or "document.pdf"
                out.append({"type": "file", "file": {"filename": name, "file_data": data_url(p.media_type, p.data)}})
            else:
                raise TranslationError("OpenAI chat cannot take a document by URL; send it inline (base64)")
    return out


def _content(parts: list[dict]) -> str | list[dict]:
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def _encode_tool_call(tc: ToolCall) -> dict:
    call: dict[str, Any] = {
        "id": tc.id,
        "type": "function",
        "function": {"name": tc.name, "arguments": tc.arguments},
    }
    if tc.signature and tc.signature_source == "gemini":
        call["extra_content"] = {"google": {"thought_signature": tc.signature}}
    return call


def encode_messages(req: Request) -> list[dict]:
    out: list[dict] = []
    if req.system:
        out.append({"role": "system", "content": "\n\n".join(req.system)})
    for msg in req.messages:
        if msg.role == "system":
            out.append({"role": "system", "content": "".join(p.text for p in msg.parts if isinstance(p, Text))})
        elif msg.role == "assistant":
            text = "".join(p.text for p in msg.parts if isinstance(p, Text))
            calls = [_encode_tool_call(p) for p in msg.parts if isinstance(p, ToolCall)]
            entry: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
            if calls:
                entry["tool_calls"] = calls
            out.append(entry)
        else:
            late_media: list[dict] = []
            for p in msg.parts:
                if isinstance(p, ToolResult):
                    texts = [c.text for c in p.content if isinstance(c, Text)]
                    media = _encode_user_parts([c for c in p.content if not isinstance(c, Text)])
                    late_media.extend(media)
                    body = "".join(texts) or ("(see attached)" if media else "")
                    if p.is_error:
                        body = f"Error: {body}"
                    out.append({"role": "tool", "tool_call_id": p.call_id, "content": body})
            rest = _encode_user_parts([p for p in msg.parts if not isinstance(p, ToolResult)])
            rest = late_media + rest
            if rest:
                out.append({"role": "user", "content": _content(rest)})
    return out


def encode_tools(tools: list[Tool]) -> list[dict]:
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def encode_request(req: Request, ctx: Context, *, model: str, stream: bool) -> dict:
    body: dict[str, Any] = {"model": model, "messages": encode_messages(req)}
    reasoning_model = is_openai_reasoning_model(model)
    if req.tools:
        body["tools"] = encode_tools(req.tools)
        if req.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = req.parallel_tool_calls
    if req.tool_choice and (req.tools or req.tool_choice.mode == "none"):
        tc = req.tool_choice
        body["tool_choice"] = tc.mode if tc.mode != "tool" else {"type": "function", "function": {"name": tc.name}}
    if req.max_tokens is not None:
        key = "max_completion_tokens" if reasoning_model or wants_thinking(req.reasoning) else "max_tokens"
        body[key] = req.max_tokens
    if not reasoning_model:
        for key in ("temperature", "top_p"):
            if getattr(req, key) is not None:
                body[key] = getattr(req, key)
    if req.stop:
        body["stop"] = req.stop[:4]
    if wants_thinking(req.reasoning):
        body["reasoning_effort"] = resolve_effort(req.reasoning, ctx.thinking_budget)
    elif req.reasoning and req.reasoning.enabled is False and reasoning_model:
        body["reasoning_effort"] = "minimal" if model.startswith("gpt-5") else "low"
    if req.user:
        body["user"] = req.user
    if req.json_schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": req.json_schema},
        }
    elif req.json_mode:
        body["response_format"] = {"type": "json_object"}
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


# ---- responses ----


def decode_response(body: dict, ctx: Context) -> Response:
    choice = as_obj((as_list(body.get("choices")) or [{}])[0])
    msg = as_obj(choice.get("message"))
    parts: list = []
    reasoning = msg.get("reasoning_content") or msg.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        parts.append(Thinking(text=reasoning))
    if isinstance(msg.get("content"), str) and msg["content"]:
        parts.append(Text(text=msg["content"]))
    elif isinstance(msg.get("content"), list):
        parts.extend(p for p in _content_parts(msg["content"], "assistant") if isinstance(p, Text))
    if isinstance(msg.get("refusal"), str) and msg["refusal"] and not parts:
        parts.append(Text(text=msg["refusal"]))
    for call in as_list(msg.get("tool_calls")):
        if isinstance(call, dict):
            parts.append(_tool_call(call, ctx))
    return Response(
        id=str(body.get("id") or new_id("chatcmpl-")),
        model=str(body.get("model", "")),
        parts=parts,
        finish_reason=mapping.openai_finish(choice.get("finish_reason")),
        usage=from_openai_chat(body.get("usage")),
    )


def encode_response(resp: Response, ctx: Context, model: str) -> dict:
    text = "".join(p.text for p in resp.parts if isinstance(p, Text))
    reasoning = "".join(p.text for p in resp.parts if isinstance(p, Thinking))
    calls = []
    for p in resp.parts:
        if isinstance(p, ToolCall):
            origin = ctx.origin(p.name)
            call = _encode_tool_call(p)
            call["function"]["name"] = origin.name
            calls.append(call)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text if text or not calls else None,
        "refusal": None,
    }
    if reasoning:
        message["reasoning_content"] = reasoning
    if calls:
        message["tool_calls"] = calls
    out = {
        "id": resp.id if resp.id.startswith("chatcmpl") else f"chatcmpl-{resp.id or new_id('')}",
        "object": "chat.completion",
        "created": now(),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": resp.finish_for_tools(), "logprobs": None}],
    }
    if resp.usage is not None:
        out["usage"] = mapping.usage_to_openai_chat(resp.usage)
    return out
