"""Anthropic Messages: requests and whole responses (streams are in anthropic_stream)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from proxy_engine.usage.upstream import from_anthropic

from . import mapping
from .context import Context
from .errors import TranslationError
from .fields import as_float, as_int, as_list, as_obj, str_list
from .ids import new_id
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
from .json_text import args_text, parse_args
from .shape import hoist_system, inline_system
from .thinking import (
    ANTHROPIC_MIN_BUDGET,
    attach_tool_signatures,
    client_signature,
    keep_for,
    resolve_budget,
    thinking_from_client,
    wants_thinking,
)

_ID_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
ME = "anthropic"


def safe_id(value: str) -> str:
    """Anthropic tool_use ids must match ^[a-zA-Z0-9_-]+$."""
    return _ID_UNSAFE.sub("_", value) or "toolu_empty"


def default_max_tokens(model: str) -> int:
    """Anthropic requires max_tokens; pick the largest every model of that family accepts."""
    if "claude-3-5" in model or "claude-3.5" in model:
        return 8192
    if "claude-3-" in model and "claude-3-7" not in model:
        return 4096
    return 32000


# ---- decode (client -> IR) ----


def _source(block: dict) -> dict:
    src = block.get("source")
    return src if isinstance(src, dict) else {}


def _media(block: dict) -> Image | Document:
    src = _source(block)
    kind = src.get("type")
    if block.get("type") == "image":
        if kind == "base64":
            return Image(media_type=str(src.get("media_type", "image/png")), data=str(src.get("data", "")))
        if kind == "url":
            return Image(url=str(src.get("url", "")))
        raise TranslationError("Anthropic file_id image sources cannot be forwarded to another provider")
    title = block.get("title") if isinstance(block.get("title"), str) else None
    if kind == "base64":
        return Document(
            media_type=str(src.get("media_type", "application/pdf")),
            data=str(src.get("data", "")),
            title=title,
        )
    if kind == "url":
        return Document(url=str(src.get("url", "")), title=title)
    if kind == "text":
        return Document(media_type="text/plain", text=str(src.get("data", "")), title=title)
    if kind == "content":
        inner = src.get("content")
        text = (
            inner
            if isinstance(inner, str)
            else "".join(b.get("text", "") for b in inner or [] if isinstance(b, dict) and b.get("type") == "text")
        )
        return Document(media_type="text/plain", text=text, title=title)
    raise TranslationError(f"Anthropic document source {kind!r} cannot be forwarded to another provider")


def _result_content(content: Any) -> list:
    if isinstance(content, str):
        return [Text(text=content)] if content else []
    out: list = []
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            out.append(Text(text=str(block.get("text", ""))))
        elif block.get("type") in ("image", "document"):
            out.append(_media(block))
    return out


def _blocks(content: Any, ctx: Context, names: dict[str, str]) -> list:
    if isinstance(content, str):
        return [Text(text=content)] if content else []
    parts: list = []
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            parts.append(Text(text=str(block.get("text", ""))))
        elif kind in ("image", "document"):
            parts.append(_media(block))
        elif kind == "tool_use":
            call = ToolCall(
                id=str(block.get("id", "")),
                name=ctx.upstream_name(str(block.get("name", ""))),
                arguments=args_text(block.get("input")),
            )
            names[call.id] = call.name
            parts.append(call)
        elif kind == "tool_result":
            call_id = str(block.get("tool_use_id", ""))
            parts.append(
                ToolResult(
                    call_id=call_id,
                    content=_result_content(block.get("content")),
                    is_error=bool(block.get("is_error")),
                    name=names.get(call_id),
                )
            )
        elif kind == "thinking":
            parts.append(thinking_from_client(str(block.get("thinking", "")), block.get("signature"), ME))
        elif kind == "redacted_thinking":
            parts.append(thinking_from_client("", None, ME, redacted=str(block.get("data", ""))))
        else:
            ctx.warn(f"dropped Anthropic content block of type {kind!r}: no equivalent upstream")
    return attach_tool_signatures(parts, ME)


def decode_request(body: dict, ctx: Context) -> Request:
    req = Request(model=str(body.get("model", "")))
    system = body.get("system")
    if isinstance(system, str):
        req.system = [system] if system else []
    elif isinstance(system, list):
        req.system = [str(b.get("text", "")) for b in system if isinstance(b, dict) and b.get("type") == "text"]
    for tool in as_list(body.get("tools")):
        if not isinstance(tool, dict):
            continue
        if tool.get("type") not in (None, "custom"):
            label = tool.get("name") or tool.get("type")
            ctx.warn(f"dropped Anthropic server tool {label!r}: no equivalent upstream")
            continue
        schema = tool.get("input_schema") if isinstance(tool.get("input_schema"), dict) else None
        req.tools.append(
            Tool(
                name=ctx.register_tool(str(tool.get("name", ""))),
                description=tool.get("description") or "",
                parameters=schema or {"type": "object", "properties": {}},
            )
        )
    names: dict[str, str] = {}
    messages = []
    for msg in as_list(body.get("messages")):
        if isinstance(msg, dict) and msg.get("role") in ("user", "assistant", "system"):
            messages.append(Message(role=msg["role"], parts=_blocks(msg.get("content"), ctx, names)))
    req.system, req.messages = hoist_system(req.system, messages)
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        mode = {"auto": "auto", "any": "required", "none": "none", "tool": "tool"}.get(str(choice.get("type")), "auto")
        name = ctx.upstream_name(choice["name"]) if isinstance(choice.get("name"), str) else None
        req.tool_choice = ToolChoice(mode=mode, name=name)
        if choice.get("disable_parallel_tool_use") is True:
            req.parallel_tool_calls = False
    req.max_tokens = as_int(body.get("max_tokens"))
    req.temperature = as_float(body.get("temperature"))
    req.top_p = as_float(body.get("top_p"))
    req.top_k = as_int(body.get("top_k"))
    req.stop = str_list(body.get("stop_sequences"))
    thinking = body.get("thinking")
    if isinstance(thinking, dict):
        if thinking.get("type") == "enabled":
            req.reasoning = Reasoning(enabled=True, budget=as_int(thinking.get("budget_tokens")))
        elif thinking.get("type") == "adaptive":
            req.reasoning = Reasoning(enabled=True)
        elif thinking.get("type") == "disabled":
            req.reasoning = Reasoning(enabled=False)
    effort = as_obj(body.get("output_config")).get("effort")
    if isinstance(effort, str):
        req.reasoning = req.reasoning or Reasoning(enabled=True)
        req.reasoning.effort = effort
    user = as_obj(body.get("metadata")).get("user_id")
    if isinstance(user, str):
        req.user = user
    return req


# ---- encode (IR -> upstream) ----


def _media_block(p: Image | Document) -> dict:
    if isinstance(p, Image):
        if p.url:
            return {"type": "image", "source": {"type": "url", "url": p.url}}
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": p.media_type or "image/png", "data": p.data or ""},
        }
    block: dict[str, Any]
    if p.text is not None:
        block = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": p.text}}
    elif p.url:
        block = {"type": "document", "source": {"type": "url", "url": p.url}}
    elif p.media_type == "application/pdf":
        block = {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": p.data},
        }
    elif p.media_type.startswith("text/"):
        try:
            text = base64.b64decode(p.data or "").decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise TranslationError(f"the {p.media_type} document is not valid base64 UTF-8 text") from exc
        block = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": text}}
    else:
        raise TranslationError(f"Anthropic does not accept {p.media_type or 'this'} documents (PDF and text only)")
    if p.title:
        block["title"] = p.title
    return block


def _encode_parts(parts: list) -> list[dict]:
    out: list[dict] = []
    for p in parts:
        if isinstance(p, Text):
            if p.text:
                out.append({"type": "text", "text": p.text})
        elif isinstance(p, (Image, Document)):
            out.append(_media_block(p))
        elif isinstance(p, ToolCall):
            out.append({"type": "tool_use", "id": safe_id(p.id), "name": p.name, "input": parse_args(p.arguments)})
        elif isinstance(p, ToolResult):
            block: dict[str, Any] = {"type": "tool_result", "tool_use_id": safe_id(p.call_id)}
            content = _encode_parts(p.content)
            if content:
                block["content"] = content
            if p.is_error:
                block["is_error"] = True
            out.append(block)
        elif isinstance(p, Thinking) and keep_for(p, ME):
            if p.redacted is not None:
                out.append({"type": "redacted_thinking", "data": p.redacted})
            else:
                out.append({"type": "thinking", "thinking": p.text, "signature": p.signature})
    return out


def thinking_blocks_ok(messages: list[dict]) -> bool:
    """With thinking on, an assistant turn that called a tool must open with a signed thinking block."""
    for msg in reversed(messages):
        if msg["role"] != "assistant":
            continue
        content = msg["content"]
        if any(b.get("type") == "tool_use" for b in content):
            return content[0].get("type") in ("thinking", "redacted_thinking")
        return True
    return True


def encode_request(req: Request, ctx: Context, *, model: str, stream: bool) -> dict:
    system, rest = hoist_system(req.system, req.messages)
    messages = []
    for msg in inline_system(rest):
        content = _encode_parts(msg.parts)
        if not content:
            if msg.role == "assistant":
                continue
            content = [{"type": "text", "text": "(empty)"}]
        if messages and messages[-1]["role"] == msg.role:
            messages[-1]["content"].extend(content)
        else:
            messages.append({"role": msg.role, "content": content})
    if not messages or messages[0]["role"] != "user":
        messages.insert(0, {"role": "user", "content": [{"type": "text", "text": "(conversation continues)"}]})
    body: dict[str, Any] = {"model": model, "messages": messages}
    if req.json_schema is not None:
        system = [
            *system,
            "Reply with only a JSON value that matches this JSON Schema:\n" + json.dumps(req.json_schema),
        ]
    elif req.json_mode:
        system = [*system, "Reply with only a valid JSON value."]
    if system:
        body["system"] = [{"type": "text", "text": s} for s in system if s]
    max_tokens = req.max_tokens or default_max_tokens(model)
    if req.tools:
        body["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": _object_schema(t.parameters)}
            for t in req.tools
        ]
    choice = req.tool_choice
    forced = choice is not None and choice.mode in ("required", "tool")
    if req.tools and (choice or req.parallel_tool_calls is False):
        mode = choice.mode if choice else "auto"
        tc: dict[str, Any] = {"type": {"required": "any", "tool": "tool"}.get(mode, mode)}
        if mode == "tool":
            tc["name"] = choice.name
        if req.parallel_tool_calls is False and mode != "none":
            tc["disable_parallel_tool_use"] = True
        body["tool_choice"] = tc
    thinking = wants_thinking(req.reasoning)
    if thinking and forced:
        ctx.warn("thinking was turned off: Anthropic does not allow it together with a forced tool choice")
        thinking = False
    if thinking and not thinking_blocks_ok(messages):
        ctx.warn("thinking was turned off for this turn: the tool call history has no Anthropic-signed thinking")
        thinking = False
    if thinking:
        budget = max(ANTHROPIC_MIN_BUDGET, resolve_budget(req.reasoning, ctx.thinking_budget))
        if max_tokens <= budget:
            max_tokens = budget + (req.max_tokens or 4096)
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    body["max_tokens"] = max_tokens
    if req.temperature is not None and not thinking:
        body["temperature"] = min(1.0, max(0.0, req.temperature))
    if req.top_p is not None and (not thinking or req.top_p >= 0.95):
        body["top_p"] = req.top_p
    if req.top_k is not None and not thinking:
        body["top_k"] = req.top_k
    if req.stop:
        body["stop_sequences"] = req.stop
    if req.user:
        body["metadata"] = {"user_id": req.user}
    if stream:
        body["stream"] = True
    return body


def _object_schema(schema: dict) -> dict:
    if schema.get("type") == "object":
        return schema
    return {
        "type": "object",
        "properties": schema.get("properties", {}),
        **{k: v for k, v in schema.items() if k not in ("type", "properties")},
    }


# ---- responses ----


def decode_response(body: dict, ctx: Context) -> Response:
    parts: list = []
    for block in as_list(body.get("content")):
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            parts.append(Text(text=str(block.get("text", ""))))
        elif kind == "thinking":
            parts.append(Thinking(text=str(block.get("thinking", "")), signature=block.get("signature"), source=ME))
        elif kind == "redacted_thinking":
            parts.append(Thinking(redacted=str(block.get("data", "")), source=ME))
        elif kind == "tool_use":
            parts.append(
                ToolCall(
                    id=str(block.get("id", "")),
                    name=str(block.get("name", "")),
                    arguments=args_text(block.get("input")),
                )
            )
    return Response(
        id=str(body.get("id") or new_id("msg_")),
        model=str(body.get("model", "")),
        parts=parts,
        finish_reason=mapping.anthropic_finish(body.get("stop_reason")),
        stop_sequence=body.get("stop_sequence") if isinstance(body.get("stop_sequence"), str) else None,
        usage=from_anthropic(body.get("usage")),
    )


def response_blocks(parts: list, ctx: Context) -> list[dict]:
    out: list[dict] = []
    for p in parts:
        if isinstance(p, Text):
            out.append({"type": "text", "text": p.text})
        elif isinstance(p, Thinking):
            if p.redacted is not None and p.source == ME:
                out.append({"type": "redacted_thinking", "data": p.redacted})
            elif p.redacted is None:
                out.append(
                    {
                        "type": "thinking",
                        "thinking": p.text,
                        "signature": client_signature(p.source, p.signature, ME),
                    }
                )
        elif isinstance(p, ToolCall):
            if p.signature and p.signature_source != ME:
                out.append(
                    {
                        "type": "thinking",
                        "thinking": "",
                        "signature": client_signature(p.signature_source, p.signature, ME),
                    }
                )
            out.append(
                {
                    "type": "tool_use",
                    "id": safe_id(p.id),
                    "name": ctx.origin(p.name).name,
                    "input": parse_args(p.arguments),
                }
            )
    return out


def encode_response(resp: Response, ctx: Context, model: str) -> dict:
    reason = resp.finish_for_tools()
    return {
        "id": resp.id if resp.id.startswith("msg_") else f"msg_{safe_id(resp.id) or new_id('')}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": response_blocks(resp.parts, ctx),
        "stop_reason": "stop_sequence" if resp.stop_sequence else mapping.ANTHROPIC_FROM_IR[reason],
        "stop_sequence": resp.stop_sequence,
        "usage": mapping.usage_to_anthropic(resp.usage or mapping.Usage()),
    }
