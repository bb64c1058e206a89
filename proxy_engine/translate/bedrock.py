"""AWS Bedrock Converse, as an upstream only: IR -> Converse request, Converse response -> IR.

Converse is one request shape for every Bedrock model; content blocks are unions keyed by kind
(`{"text": ...}`, `{"toolUse": {...}}`). Model-specific settings (Claude's thinking and top_k) go in
`additionalModelRequestFields`. Bedrock refuses toolUse/toolResult history without a toolConfig, so
tools named only in history are declared. Reasoning signatures are tagged "bedrock": they go back
only to Bedrock. The stream half lives in bedrock_stream.
"""

from __future__ import annotations

import json
import re
from typing import Any

from proxy_engine.usage.upstream import from_bedrock

from .anthropic import default_max_tokens, safe_id
from .context import Context
from .errors import TranslationError
from .fields import as_list, as_obj
from .ids import new_id
from .ir import (
    Document,
    FinishReason,
    Image,
    Message,
    Request,
    Response,
    Text,
    Thinking,
    ToolCall,
    ToolResult,
)
from .json_text import args_text, parse_args
from .media import guess_media_type
from .shape import hoist_system, inline_system
from .thinking import ANTHROPIC_MIN_BUDGET, keep_for, resolve_budget, wants_thinking

ME = "bedrock"
UPSTREAM_ONLY = "bedrock is an upstream-only dialect"
EMPTY = "(empty)"

STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
    "malformed_model_output": "error",
    "malformed_tool_use": "error",
}
IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
DOCUMENT_FORMATS = {
    "application/pdf": "pdf",
    "text/csv": "csv",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html",
    "text/plain": "txt",
    "text/markdown": "md",
}
# Document names: letters, digits, single spaces, hyphens, parentheses and square brackets.
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9\s\-\(\)\[\]]+")


def upstream_only(*_args: Any, **_kwargs: Any) -> Any:
    """Codec slots for the client side: no client speaks Converse to the proxy."""
    raise TranslationError(UPSTREAM_ONLY)


def is_claude(model: str) -> bool:
    return "claude" in model.lower()


def finish_reason(value: Any) -> FinishReason:
    return STOP_REASONS.get(value, "stop") if isinstance(value, str) else "stop"


# ---- encode (IR -> Converse) ----


class _Blocks:
    """Per-request encoding state: document names must be unique within one request."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def doc_name(self, title: str | None) -> str:
        base = " ".join(_NAME_UNSAFE.sub(" ", title or "").split())[:190] or "document"
        name, n = base, 1
        while name in self.names:
            n += 1
            name = f"{base} ({n})"
        self.names.add(name)
        return name

    def media(self, p: Image | Document) -> dict:
        if isinstance(p, Document) and p.text is not None:
            return {"text": p.text or EMPTY}
        url = p.url or ""
        media_type = p.media_type or guess_media_type(url)
        if isinstance(p, Image):
            fmt = IMAGE_FORMATS.get(media_type.lower() if media_type else "image/png")
            if fmt is None:
                raise TranslationError(f"Bedrock does not accept {media_type} images (png, jpeg, gif, webp only)")
            return {"image": {"format": fmt, "source": _source(url, p.data, "image")}}
        fmt = DOCUMENT_FORMATS.get((media_type or "application/pdf").lower())
        if fmt is None:
            raise TranslationError(f"Bedrock does not accept {media_type} documents")
        return {"document": {"format": fmt, "name": self.doc_name(p.title), "source": _source(url, p.data, "document")}}

    def content(self, parts: list) -> list[dict]:
        out: list[dict] = []
        for p in parts:
            if isinstance(p, Text):
                if p.text:
                    out.append({"text": p.text})
            elif isinstance(p, (Image, Document)):
                out.append(self.media(p))
            elif isinstance(p, ToolCall):
                if p.signature and p.signature_source == ME:
                    out.append({"reasoningContent": {"reasoningText": {"text": "", "signature": p.signature}}})
                block = {"toolUseId": safe_id(p.id), "name": p.name, "input": parse_args(p.arguments)}
                out.append({"toolUse": block})
            elif isinstance(p, ToolResult):
                inner = self.content(p.content) or [{"text": EMPTY}]
                result = {
                    "toolUseId": safe_id(p.call_id),
                    "content": inner,
                    "status": "error" if p.is_error else "success",
                }
                out.append({"toolResult": result})
            elif isinstance(p, Thinking) and keep_for(p, ME):
                if p.redacted is not None:
                    out.append({"reasoningContent": {"redactedContent": p.redacted}})
                else:
                    out.append({"reasoningContent": {"reasoningText": {"text": p.text, "signature": p.signature}}})
        return out


def _source(url: str, data: str | None, what: str) -> dict:
    if url.startswith("s3://"):
        return {"s3Location": {"uri": url}}
    if url:
        raise TranslationError(f"Bedrock takes a {what} inline (base64) or from s3://, not by URL")
    return {"bytes": data or ""}


def _messages(rest: list[Message]) -> list[dict]:
    blocks = _Blocks()
    messages: list[dict] = []
    for msg in inline_system(rest):
        content = blocks.content(msg.parts)
        if not content:
            if msg.role == "assistant":
                continue
            content = [{"text": EMPTY}]
        if messages and messages[-1]["role"] == msg.role:
            messages[-1]["content"].extend(content)
        else:
            messages.append({"role": msg.role, "content": content})
    if not messages or messages[0]["role"] != "user":
        messages.insert(0, {"role": "user", "content": [{"text": "(conversation continues)"}]})
    return messages


def _history_tools(messages: list[dict]) -> list[str]:
    names: list[str] = []
    for msg in messages:
        for block in msg["content"]:
            name = block.get("toolUse", {}).get("name")
            if name and name not in names:
                names.append(name)
    return names


def _has_tool_blocks(messages: list[dict]) -> bool:
    return any("toolUse" in b or "toolResult" in b for m in messages for b in m["content"])


def _object_schema(schema: dict) -> dict:
    if schema.get("type") == "object":
        return schema
    rest = {k: v for k, v in schema.items() if k not in ("type", "properties")}
    return {"type": "object", "properties": schema.get("properties", {}), **rest}


def _tool_config(req: Request, ctx: Context, messages: list[dict]) -> dict | None:
    choice = req.tool_choice
    history = _has_tool_blocks(messages)
    if choice is not None and choice.mode == "none" and not history:
        return None  # Converse has no "none": offering no tools says the same
    specs = []
    for t in req.tools:
        spec: dict[str, Any] = {"name": t.name, "inputSchema": {"json": _object_schema(t.parameters or {})}}
        if t.description:
            spec["description"] = t.description
        specs.append({"toolSpec": spec})
    declared = {t.name for t in req.tools}
    for name in _history_tools(messages):
        if name not in declared:
            # Bedrock refuses toolUse history without a toolConfig naming the tool.
            specs.append({"toolSpec": {"name": name, "inputSchema": {"json": {"type": "object", "properties": {}}}}})
    if not specs:
        return None
    config: dict[str, Any] = {"tools": specs}
    if choice is not None and req.tools:
        if choice.mode == "auto":
            config["toolChoice"] = {"auto": {}}
        elif choice.mode == "required":
            config["toolChoice"] = {"any": {}}
        elif choice.mode == "tool" and choice.name:
            config["toolChoice"] = {"tool": {"name": choice.name}}
        elif choice.mode == "none":
            ctx.warn("tool_choice none was not forwarded: Bedrock Converse cannot forbid tool calls")
    return config


def _thinking_allowed(messages: list[dict]) -> bool:
    """Claude with thinking on wants the last tool-calling assistant turn to open with signed reasoning."""
    for msg in reversed(messages):
        if msg["role"] != "assistant":
            continue
        if any("toolUse" in b for b in msg["content"]):
            return "reasoningContent" in msg["content"][0]
        return True
    return True


def encode_request(req: Request, ctx: Context, *, model: str, stream: bool) -> dict:
    """The Converse body; the model id and stream-or-not are in the URL, not the body."""
    system, rest = hoist_system(req.system, req.messages)
    messages = _messages(rest)
    body: dict[str, Any] = {"messages": messages}
    if req.json_schema is not None:
        system = [
            *system,
            "Reply with only a JSON value that matches this JSON Schema:\n" + json.dumps(req.json_schema),
        ]
    elif req.json_mode:
        system = [*system, "Reply with only a valid JSON value."]
    if any(system):
        body["system"] = [{"text": s} for s in system if s]
    tool_config = _tool_config(req, ctx, messages)
    if tool_config is not None:
        body["toolConfig"] = tool_config
    claude = is_claude(model)
    extra: dict[str, Any] = {}
    thinking = wants_thinking(req.reasoning)
    if thinking and not claude:
        ctx.warn(f"thinking settings were not forwarded: Bedrock model {model} takes no Claude thinking")
        thinking = False
    forced = "toolChoice" in (tool_config or {}) and "auto" not in tool_config["toolChoice"]
    if thinking and forced:
        ctx.warn("thinking was turned off: Claude does not allow it together with a forced tool choice")
        thinking = False
    if thinking and not _thinking_allowed(messages):
        ctx.warn("thinking was turned off for this turn: the tool call history has no Bedrock-signed thinking")
        thinking = False
    max_tokens = req.max_tokens or (default_max_tokens(model) if claude else None)
    if thinking:
        budget = max(ANTHROPIC_MIN_BUDGET, resolve_budget(req.reasoning, ctx.thinking_budget))
        if max_tokens is None or max_tokens <= budget:
            max_tokens = budget + (req.max_tokens or 4096)
        extra["thinking"] = {"type": "enabled", "budget_tokens": budget}
    inference: dict[str, Any] = {}
    if max_tokens is not None:
        inference["maxTokens"] = max_tokens
    if req.temperature is not None and not thinking:
        inference["temperature"] = min(1.0, max(0.0, req.temperature)) if claude else req.temperature
    if req.top_p is not None and (not thinking or req.top_p >= 0.95):
        inference["topP"] = req.top_p
    if req.stop:
        inference["stopSequences"] = req.stop
        if claude:
            body["additionalModelResponseFieldPaths"] = ["/stop_sequence"]
    if inference:
        body["inferenceConfig"] = inference
    if req.top_k is not None:
        if claude and not thinking:
            extra["top_k"] = req.top_k
        elif not claude:
            ctx.warn(f"top_k was not forwarded: Converse has no common top_k for {model}")
    if extra:
        body["additionalModelRequestFields"] = extra
    return body


# ---- decode (Converse response -> IR) ----


def reasoning_part(block: dict) -> Thinking:
    if "redactedContent" in block:
        return Thinking(redacted=str(block.get("redactedContent") or ""), source=ME)
    text = as_obj(block.get("reasoningText"))
    sig = text.get("signature")
    return Thinking(
        text=str(text.get("text", "")),
        signature=sig if isinstance(sig, str) and sig else None,
        source=ME if isinstance(sig, str) and sig else None,
    )


def decode_response(body: dict, ctx: Context) -> Response:
    message = as_obj(as_obj(body.get("output")).get("message"))
    parts: list = []
    for block in as_list(message.get("content")):
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            parts.append(Text(text=block["text"]))
        elif isinstance(block.get("toolUse"), dict):
            use = block["toolUse"]
            call_id = str(use.get("toolUseId") or new_id("tooluse_"))
            parts.append(ToolCall(id=call_id, name=str(use.get("name", "")), arguments=args_text(use.get("input"))))
        elif isinstance(block.get("reasoningContent"), dict):
            parts.append(reasoning_part(block["reasoningContent"]))
    extra = as_obj(body.get("additionalModelResponseFields"))
    stop_sequence = extra.get("stop_sequence")
    return Response(
        id=new_id("msg_"),
        model=ctx.model,
        parts=parts,
        finish_reason=finish_reason(body.get("stopReason")),
        stop_sequence=stop_sequence if isinstance(stop_sequence, str) else None,
        usage=from_bedrock(body.get("usage")),
    )
