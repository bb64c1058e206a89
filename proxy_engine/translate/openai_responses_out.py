"""OpenAI Responses output: whole response objects and the items they (and streams) are made of."""

from __future__ import annotations

import json
from typing import Any

from proxy_engine.usage.upstream import from_openai_responses

from . import mapping
from .context import Context
from .fields import as_list, as_obj
from .ids import new_id, now
from .ir import Response, Text, Thinking, ToolCall
from .json_text import args_text, dumps, parse_args
from .openai_responses import ME, native_signature, parts_of
from .thinking import Signature, wrap


def decode_response(body: dict, ctx: Context) -> Response:
    parts: list = []
    for item in as_list(body.get("output")):
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "reasoning":
            texts = [s.get("text", "") for s in as_list(item.get("summary")) if isinstance(s, dict)]
            if not texts:
                texts = [c.get("text", "") for c in as_list(item.get("content")) if isinstance(c, dict)]
            sig = native_signature(item.get("id"), item.get("encrypted_content"))
            parts.append(Thinking(text="\n\n".join(texts), signature=sig, source=ME if sig else None))
        elif kind == "message":
            parts.extend(p for p in parts_of(item.get("content")) if isinstance(p, Text))
        elif kind == "function_call":
            parts.append(
                ToolCall(
                    id=str(item.get("call_id") or item.get("id")),
                    name=str(item.get("name", "")),
                    arguments=args_text(item.get("arguments")),
                )
            )
        elif kind == "custom_tool_call":
            parts.append(
                ToolCall(
                    id=str(item.get("call_id") or item.get("id")),
                    name=str(item.get("name", "")),
                    arguments=dumps({"input": item.get("input", "")}),
                )
            )
    reason = "stop"
    if body.get("status") == "incomplete":
        why = as_obj(body.get("incomplete_details")).get("reason")
        reason = "content_filter" if why == "content_filter" else "length"
    elif body.get("status") == "failed":
        reason = "error"
    return Response(
        id=str(body.get("id") or new_id("resp_")),
        model=str(body.get("model", "")),
        parts=parts,
        finish_reason=reason,
        usage=from_openai_responses(body.get("usage")),
    )


def reasoning_item(text: str, token: str | None, item_id: str | None = None) -> dict:
    item: dict[str, Any] = {
        "id": item_id or new_id("rs_"),
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": text}] if text else [],
    }
    if token:
        item["encrypted_content"] = token
    return item


def client_token(source: str | None, signature: str | None, text: str, redacted: str | None = None) -> str | None:
    """Foreign signatures (and redacted thinking) travel wrapped, with the text they sign."""
    if source is None or (signature is None and redacted is None):
        return None
    if source == ME and signature and redacted is None:
        return signature.partition(":")[2] or signature  # our own: the bare encrypted_content
    return wrap(Signature(source=source, signature=signature, redacted=redacted, text=text))


def call_item(call: ToolCall, ctx: Context, status: str = "completed", item_id: str | None = None) -> dict:
    origin = ctx.origin(call.name)
    if origin.kind == "custom":
        raw = parse_args(call.arguments).get("input", call.arguments)
        return {
            "type": "custom_tool_call",
            "id": item_id or new_id("ctc_"),
            "call_id": call.id,
            "name": origin.name,
            "input": raw if isinstance(raw, str) else json.dumps(raw),
            "status": status,
        }
    item = {
        "type": "function_call",
        "id": item_id or new_id("fc_"),
        "call_id": call.id,
        "name": origin.name,
        "arguments": call.arguments,
        "status": status,
    }
    if origin.namespace:
        item["namespace"] = origin.namespace
    return item


def message_item(text: str, item_id: str | None = None, status: str = "completed") -> dict:
    return {
        "id": item_id or new_id("msg_"),
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def output_items(parts: list, ctx: Context) -> list[dict]:
    items: list[dict] = []
    for p in parts:
        if isinstance(p, Text):
            if items and items[-1]["type"] == "message":
                items[-1]["content"][0]["text"] += p.text
            else:
                items.append(message_item(p.text))
        elif isinstance(p, Thinking):
            own_id = p.signature.split(":", 1)[0] if p.source == ME and p.signature else None
            token = client_token(p.source, p.signature, p.text, p.redacted)
            items.append(reasoning_item(p.text, token, own_id or None))
        elif isinstance(p, ToolCall):
            if p.signature and p.signature_source != ME:
                items.append(reasoning_item("", client_token(p.signature_source, p.signature, "")))
            items.append(call_item(p, ctx))
    return items


def response_object(
    ctx: Context,
    model: str,
    resp_id: str,
    created: int,
    status: str,
    output: list,
    usage: dict | None,
    error: dict | None = None,
    incomplete: str | None = None,
) -> dict:
    echo = ctx.echo
    return {
        "id": resp_id,
        "object": "response",
        "created_at": created,
        "status": status,
        "error": error,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "instructions": echo.get("instructions"),
        "max_output_tokens": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": echo.get("parallel_tool_calls", True),
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": False,
        "temperature": None,
        "text": {"format": {"type": "text"}},
        "tool_choice": echo.get("tool_choice", "auto"),
        "tools": echo.get("tools", []),
        "top_p": None,
        "truncation": "disabled",
        "usage": usage,
        "metadata": {},
    }


def encode_response(resp: Response, ctx: Context, model: str) -> dict:
    reason = resp.finish_reason
    status = "incomplete" if reason in ("length", "content_filter") else "completed"
    incomplete = {"length": "max_output_tokens", "content_filter": "content_filter"}.get(reason)
    usage = mapping.usage_to_responses(resp.usage) if resp.usage else None
    rid = resp.id if resp.id.startswith("resp_") else new_id("resp_")
    return response_object(ctx, model, rid, now(), status, output_items(resp.parts, ctx), usage, incomplete=incomplete)
