"""OpenAI Responses: requests and whole responses (streams are in openai_responses_stream).

Codex CLI speaks only this dialect. It may send no `instructions`, and besides `function`
tools it sends `custom` (free-form input), `namespace` (a group of functions) and built-in
tools such as `web_search`. Namespaced functions are flattened to `ns__name` upstream and
given back to the client under their namespace; custom tools become a function with one
string argument; built-ins with no upstream equivalent are dropped with a warning.
"""

from __future__ import annotations

from typing import Any

from .context import Context
from .errors import TranslationError
from .fields import as_float, as_int, as_list, as_obj
from .ids import new_id
from .ir import (
    Document,
    Image,
    Message,
    Reasoning,
    Request,
    Text,
    Thinking,
    Tool,
    ToolCall,
    ToolResult,
)
from .json_text import args_text, dumps
from .media import data_url, document_from_url, image_from_url
from .openai_chat import CUSTOM_TOOL_PARAMS, decode_tool_choice
from .shape import hoist_system, is_openai_reasoning_model
from .thinking import (
    attach_tool_signatures,
    is_wrapped,
    keep_for,
    resolve_effort,
    thinking_from_client,
    wants_thinking,
)

ME = "openai_responses"


def native_signature(item_id: str | None, encrypted: str | None) -> str | None:
    """Replaying a reasoning item needs both its id and its encrypted content."""
    if not encrypted:
        return None
    return f"{item_id or ''}:{encrypted}"


# ---- decode (client -> IR) ----


def parts_of(content: Any) -> list:
    if isinstance(content, str):
        return [Text(text=content)] if content else []
    out: list = []
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text"):
            out.append(Text(text=str(part.get("text", ""))))
        elif kind == "refusal":
            out.append(Text(text=str(part.get("refusal", ""))))
        elif kind == "input_image":
            url = part.get("image_url")
            if not isinstance(url, str):
                raise TranslationError("input_image by file_id cannot be forwarded to another provider")
            out.append(image_from_url(url))
        elif kind == "input_file":
            if isinstance(part.get("file_data"), str):
                doc = document_from_url(part["file_data"], part.get("filename"))
                if doc.data is None:
                    doc = Document(data=part["file_data"], title=part.get("filename"))
                out.append(doc)
            elif isinstance(part.get("file_url"), str):
                out.append(Document(url=part["file_url"], title=part.get("filename")))
            else:
                raise TranslationError("input_file by file_id cannot be forwarded to another provider")
        elif kind == "input_audio":
            raise TranslationError("audio input cannot be translated to this provider")
    return out


def _decode_tools(tools: Any, ctx: Context) -> list[Tool]:
    out: list[Tool] = []
    for tool in tools if isinstance(tools, list) else []:
        if not isinstance(tool, dict):
            continue
        kind = tool.get("type")
        if kind == "function":
            out.append(_function(tool, ctx, None))
        elif kind == "custom":
            name = ctx.register_tool(str(tool.get("name", "")), kind="custom")
            out.append(
                Tool(
                    name=name,
                    description=tool.get("description") or "",
                    parameters=CUSTOM_TOOL_PARAMS,
                    kind="custom",
                )
            )
        elif kind == "namespace":
            ns = str(tool.get("name", ""))
            for sub in as_list(tool.get("tools")):
                if isinstance(sub, dict) and sub.get("type", "function") == "function":
                    out.append(_function(sub, ctx, ns))
                elif isinstance(sub, dict):
                    label = f"{ns}.{sub.get('name')}"
                    ctx.warn(f"dropped tool {label} of type {sub.get('type')!r}: no equivalent upstream")
        else:
            ctx.warn(f"dropped built-in tool {kind!r}: the upstream provider has no equivalent")
    return out


def _function(tool: dict, ctx: Context, namespace: str | None) -> Tool:
    name = ctx.register_tool(str(tool.get("name", "")), namespace)
    params = tool.get("parameters") if isinstance(tool.get("parameters"), dict) else None
    description = tool.get("description") or ""
    return Tool(name=name, description=description, parameters=params or {"type": "object", "properties": {}})


def _append(messages: list[Message], role: str, part: Any) -> None:
    if messages and messages[-1].role == role:
        messages[-1].parts.append(part)
    else:
        messages.append(Message(role=role, parts=[part]))


def decode_request(body: dict, ctx: Context) -> Request:
    req = Request(model=str(body.get("model", "")))
    if isinstance(body.get("instructions"), str) and body["instructions"]:
        req.system = [body["instructions"]]
    req.tools = _decode_tools(body.get("tools"), ctx)
    items = body.get("input")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    messages: list[Message] = []
    names: dict[str, str] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            role = "system" if role in ("system", "developer") else role
            if role in ("system", "user", "assistant"):
                messages.append(Message(role=role, parts=parts_of(item.get("content"))))
        elif kind in ("function_call", "custom_tool_call"):
            name = ctx.upstream_name(str(item.get("name", "")), item.get("namespace"))
            if kind == "custom_tool_call":
                arguments = dumps({"input": item.get("input", "")})
            else:
                arguments = args_text(item.get("arguments"))
            call_id = str(item.get("call_id") or item.get("id") or new_id("call_"))
            names[call_id] = name
            _append(messages, "assistant", ToolCall(id=call_id, name=name, arguments=arguments))
        elif kind in ("function_call_output", "custom_tool_call_output"):
            call_id = str(item.get("call_id", ""))
            _append(
                messages,
                "user",
                ToolResult(call_id=call_id, content=parts_of(item.get("output")), name=names.get(call_id)),
            )
        elif kind == "reasoning":
            text = "\n\n".join(s.get("text", "") for s in as_list(item.get("summary")) if isinstance(s, dict))
            enc = item.get("encrypted_content")
            if isinstance(enc, str) and not is_wrapped(enc):
                enc = native_signature(item.get("id"), enc)
            _append(messages, "assistant", thinking_from_client(text, enc, ME))
        else:
            ctx.warn(f"dropped input item of type {kind!r}: no equivalent upstream")
    for msg in messages:
        msg.parts = attach_tool_signatures(msg.parts, ME)
    req.system, req.messages = hoist_system(req.system, messages)
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in ("function", "custom"):
        choice = {"function": {"name": choice.get("name")}}
    req.tool_choice = decode_tool_choice(choice, ctx)
    if isinstance(body.get("parallel_tool_calls"), bool):
        req.parallel_tool_calls = body["parallel_tool_calls"]
    req.max_tokens = as_int(body.get("max_output_tokens"))
    req.temperature = as_float(body.get("temperature"))
    req.top_p = as_float(body.get("top_p"))
    effort = as_obj(body.get("reasoning")).get("effort")
    if isinstance(effort, str):
        req.reasoning = Reasoning(enabled=effort != "none", effort=effort)
    user = body.get("user") or body.get("safety_identifier")
    if isinstance(user, str):
        req.user = user
    if isinstance(body.get("metadata"), dict):
        req.metadata = {str(k): str(v) for k, v in body["metadata"].items()}
    fmt = as_obj(as_obj(body.get("text")).get("format"))
    if fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
        req.json_schema = fmt["schema"]
    elif fmt.get("type") == "json_object":
        req.json_mode = True
    ctx.echo = {
        "tools": body.get("tools") or [],
        "tool_choice": body.get("tool_choice", "auto"),
        "instructions": body.get("instructions"),
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
    }
    return req


# ---- encode (IR -> upstream) ----


def _encode_content(parts: list, role: str) -> list[dict]:
    out: list[dict] = []
    for p in parts:
        if isinstance(p, Text):
            out.append({"type": "output_text" if role == "assistant" else "input_text", "text": p.text})
        elif isinstance(p, Image):
            url = p.url or data_url(p.media_type or "image/png", p.data or "")
            out.append({"type": "input_image", "image_url": url, "detail": "auto"})
        elif isinstance(p, Document):
            if p.text is not None:
                out.append({"type": "input_text", "text": p.text})
            elif p.url:
                out.append({"type": "input_file", "file_url": p.url})
            else:
                out.append(
                    {
                        "type": "input_file",
                        "filename": p.title or "document.pdf",
                        "file_data": data_url(p.media_type, p.data or ""),
                    }
                )
    return out


def _message_items(msg: Message) -> list[dict]:
    items: list[dict] = []
    pending: list = []

    def flush() -> None:
        if pending:
            items.append({"type": "message", "role": msg.role, "content": _encode_content(pending, msg.role)})
            pending.clear()

    for p in msg.parts:
        if isinstance(p, ToolCall):
            flush()
            items.append({"type": "function_call", "call_id": p.id, "name": p.name, "arguments": p.arguments})
        elif isinstance(p, ToolResult):
            flush()
            texts = [c for c in p.content if isinstance(c, Text)]
            output: Any = "".join(t.text for t in texts)
            if len(texts) != len(p.content):
                output = _encode_content(p.content, "user")
            items.append({"type": "function_call_output", "call_id": p.call_id, "output": output})
        elif isinstance(p, Thinking):
            flush()
            if keep_for(p, ME) and p.signature and ":" in p.signature:
                item_id, enc = p.signature.split(":", 1)
                summary = [{"type": "summary_text", "text": p.text}] if p.text else []
                items.append({"type": "reasoning", "id": item_id, "summary": summary, "encrypted_content": enc})
        else:
            pending.append(p)
    flush()
    return items


def encode_input(req: Request) -> list[dict]:
    items: list[dict] = []
    for msg in req.messages:
        if msg.role == "system":
            text = "".join(p.text for p in msg.parts if isinstance(p, Text))
            content = [{"type": "input_text", "text": text}]
            items.append({"type": "message", "role": "developer", "content": content})
        else:
            items.extend(_message_items(msg))
    return items


def encode_request(req: Request, ctx: Context, *, model: str, stream: bool) -> dict:
    body: dict[str, Any] = {"model": model, "input": encode_input(req), "store": False}
    if req.system:
        body["instructions"] = "\n\n".join(req.system)
    if req.tools:
        body["tools"] = [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters,
                "strict": False,
            }
            for t in req.tools
        ]
        if req.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = req.parallel_tool_calls
    if req.tool_choice and (req.tools or req.tool_choice.mode == "none"):
        tc = req.tool_choice
        body["tool_choice"] = tc.mode if tc.mode != "tool" else {"type": "function", "name": tc.name}
    if req.max_tokens is not None:
        body["max_output_tokens"] = max(16, req.max_tokens)
    if not is_openai_reasoning_model(model):
        for key in ("temperature", "top_p"):
            if getattr(req, key) is not None:
                body[key] = getattr(req, key)
    if req.stop:
        ctx.warn("stop sequences dropped: the Responses API has none")
    if wants_thinking(req.reasoning):
        body["reasoning"] = {"effort": resolve_effort(req.reasoning, ctx.thinking_budget), "summary": "auto"}
        body["include"] = ["reasoning.encrypted_content"]
    if req.user:
        body["user"] = req.user
    if req.metadata:
        body["metadata"] = req.metadata
    if req.json_schema is not None:
        body["text"] = {
            "format": {"type": "json_schema", "name": "response", "schema": req.json_schema, "strict": False}
        }
    elif req.json_mode:
        body["text"] = {"format": {"type": "json_object"}}
    if stream:
        body["stream"] = True
    return body
