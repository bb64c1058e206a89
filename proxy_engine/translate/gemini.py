"""Gemini generateContent: requests and whole responses (streams are in gemini_stream).

Gemini function calls carry no ids (or optional ones): we synthesize deterministic ids and
match function responses to calls by id, else by name in order. Tool schemas are rewritten
into Gemini's Schema subset (schema_clean). A thoughtSignature on a function call goes back
only to Gemini; for Gemini 3 histories that lack one (made elsewhere), Google documents a
placeholder value that skips the check.
"""

from __future__ import annotations

import re
from typing import Any

from proxy_engine.usage import upstream as upstream_usage

from . import mapping
from .context import Context
from .fields import as_float, as_int, as_list, as_obj, get, str_list
from .ids import new_id, stable_id
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
from .json_text import args_text, dumps, parse_args
from .schema_clean import from_gemini, to_gemini
from .shape import hoist_system, inline_system
from .thinking import client_signature, keep_for, resolve_budget, thinking_from_client

ME = "gemini"
SKIP_SIGNATURE = "skip_thought_signature_validator"
_OLD_GEMINI = re.compile(r"gemini-(1|2)(\.|-)", re.I)


# ---- decode (client -> IR) ----


def standard_b64(data: str) -> str:
    """google-genai sends URL-safe base64 (proto bytes accept both); OpenAI and Anthropic want standard."""
    if "-" in data or "_" in data:
        data = data.replace("-", "+").replace("_", "/")
    return data + "=" * (-len(data) % 4)


def _media(data: dict, kind: str) -> Image | Document:
    mime = str(get(data, "mimeType", "mime_type", default=""))
    if kind == "inline":
        payload = standard_b64(str(data.get("data", "")))
        return (
            Image(media_type=mime, data=payload)
            if mime.startswith("image/")
            else Document(media_type=mime, data=payload)
        )
    uri = str(get(data, "fileUri", "file_uri", default=""))
    return Image(media_type=mime, url=uri) if mime.startswith("image/") else Document(media_type=mime, url=uri)


def _result_parts(response: Any) -> tuple[list, bool]:
    if isinstance(response, dict) and set(response) == {"output"} and isinstance(response["output"], str):
        return [Text(text=response["output"])], False
    if isinstance(response, dict) and set(response) == {"error"} and isinstance(response["error"], str):
        return [Text(text=response["error"])], True
    if isinstance(response, dict) and set(response) == {"content"} and isinstance(response["content"], str):
        return [Text(text=response["content"])], False
    return [Text(text=dumps(response if response is not None else {}))], False


def decode_contents(contents: Any, ctx: Context) -> list[Message]:
    messages: list[Message] = []
    pending: list[ToolCall] = []  # calls of the last model turn not yet answered
    for turn, content in enumerate(contents if isinstance(contents, list) else []):
        if not isinstance(content, dict):
            continue
        role = "assistant" if content.get("role") == "model" else "user"
        parts: list = []
        calls_here: list[ToolCall] = []
        for j, part in enumerate(as_list(content.get("parts"))):
            if not isinstance(part, dict):
                continue
            sig = get(part, "thoughtSignature", "thought_signature")
            call = get(part, "functionCall", "function_call")
            resp = get(part, "functionResponse", "function_response")
            if part.get("thought") and isinstance(part.get("text", ""), str):
                _add_thought(parts, str(part.get("text", "")), sig)
            elif isinstance(part.get("text"), str):
                if part["text"]:
                    parts.append(Text(text=part["text"]))
            elif isinstance(get(part, "inlineData", "inline_data"), dict):
                parts.append(_media(get(part, "inlineData", "inline_data"), "inline"))
            elif isinstance(get(part, "fileData", "file_data"), dict):
                parts.append(_media(get(part, "fileData", "file_data"), "file"))
            elif isinstance(call, dict):
                name = ctx.upstream_name(str(call.get("name", "")))
                args = as_obj(call.get("args"))
                call_id = call.get("id") or stable_id("call_", "history", turn, j, name, dumps(args))
                tc = ToolCall(id=str(call_id), name=name, arguments=args_text(args))
                wrapped = thinking_from_client("", sig, ME) if sig else None
                if wrapped is not None and wrapped.signature:
                    tc.signature, tc.signature_source = wrapped.signature, wrapped.source
                calls_here.append(tc)
                parts.append(tc)
            elif isinstance(resp, dict):
                name = ctx.upstream_name(str(resp.get("name", "")))
                match = next((c for c in pending if resp.get("id") and c.id == resp.get("id")), None)
                match = match or next((c for c in pending if c.name == name), None)
                if match is not None:
                    pending.remove(match)
                content_parts, is_error = _result_parts(resp.get("response"))
                call_id = match.id if match else str(resp.get("id") or stable_id("call_", "orphan", turn, j, name))
                parts.append(ToolResult(call_id=call_id, content=content_parts, is_error=is_error, name=name))
            else:
                ctx.warn("dropped a Gemini part with no equivalent upstream (code execution or similar)")
        if role == "assistant":
            pending = calls_here
        messages.append(Message(role=role, parts=parts))
    return messages


def _add_thought(parts: list, text: str, sig: Any) -> None:
    """A streamed thought comes back as one part per chunk, its signature on the last (often empty) one:
    join the run into one thinking block, so the signature stays with the text it signs. (Gemini has a
    field for a call's own signature, so an empty signed thought is never a call's signature.)"""
    thought = thinking_from_client(text, sig, ME)
    prev = parts[-1] if parts else None
    if not isinstance(prev, Thinking) or prev.source is not None or prev.redacted is not None:
        parts.append(thought)
        return
    prev.text = prev.text + text if thought.text == text else thought.text  # a wrapped token may hold the text
    prev.signature, prev.source, prev.redacted = thought.signature, thought.source, thought.redacted


def decode_request(body: dict, ctx: Context) -> Request:
    req = Request(model=str(body.get("model", "")))
    system = get(body, "systemInstruction", "system_instruction")
    if isinstance(system, str):
        req.system = [system]
    elif isinstance(system, dict):
        text = "".join(str(p.get("text", "")) for p in as_list(system.get("parts")) if isinstance(p, dict))
        req.system = [text] if text else []
    for tool in as_list(body.get("tools")):
        if not isinstance(tool, dict):
            continue
        for decl in get(tool, "functionDeclarations", "function_declarations", default=[]):
            schema = get(decl, "parametersJsonSchema", "parameters_json_schema")
            params = schema if isinstance(schema, dict) else from_gemini(decl.get("parameters"))
            req.tools.append(
                Tool(
                    name=ctx.register_tool(str(decl.get("name", ""))),
                    description=decl.get("description") or "",
                    parameters=params,
                )
            )
        others = [k for k in tool if k not in ("functionDeclarations", "function_declarations")]
        if others:
            ctx.warn(f"dropped Gemini tool(s) {', '.join(others)}: no equivalent upstream")
    req.system, req.messages = hoist_system(req.system, decode_contents(body.get("contents"), ctx))
    config = as_obj(get(body, "toolConfig", "tool_config"))
    fcc = as_obj(get(config, "functionCallingConfig", "function_calling_config"))
    mode = str(fcc.get("mode", "")).upper()
    allowed = str_list(get(fcc, "allowedFunctionNames", "allowed_function_names"))
    if mode == "NONE":
        req.tool_choice = ToolChoice(mode="none")
    elif mode in ("ANY", "VALIDATED") and len(allowed) == 1:
        req.tool_choice = ToolChoice(mode="tool", name=ctx.upstream_name(allowed[0]))
    elif mode == "ANY":
        req.tool_choice = ToolChoice(mode="required")
    elif mode == "AUTO":
        req.tool_choice = ToolChoice(mode="auto")
    gen = as_obj(get(body, "generationConfig", "generation_config"))
    req.max_tokens = as_int(get(gen, "maxOutputTokens", "max_output_tokens"))
    req.temperature = as_float(gen.get("temperature"))
    req.top_p = as_float(get(gen, "topP", "top_p"))
    req.top_k = as_int(get(gen, "topK", "top_k"))
    req.stop = str_list(get(gen, "stopSequences", "stop_sequences"))
    think = get(gen, "thinkingConfig", "thinking_config")
    if isinstance(think, dict):
        budget = as_int(get(think, "thinkingBudget", "thinking_budget"))
        level = get(think, "thinkingLevel", "thinking_level")
        include = get(think, "includeThoughts", "include_thoughts")
        if budget == 0:
            req.reasoning = Reasoning(enabled=False)
        elif budget is not None or include or level:
            req.reasoning = Reasoning(
                enabled=True,
                budget=budget if budget and budget > 0 else None,
                effort=str(level).lower() if isinstance(level, str) else None,
            )
    if get(gen, "responseMimeType", "response_mime_type") == "application/json":
        schema = get(gen, "responseJsonSchema", "response_json_schema")
        if not isinstance(schema, dict) and isinstance(get(gen, "responseSchema", "response_schema"), dict):
            schema = from_gemini(get(gen, "responseSchema", "response_schema"))
        if isinstance(schema, dict):
            req.json_schema = schema
        else:
            req.json_mode = True
    return req


# ---- encode (IR -> upstream) ----


def _media_part(p: Image | Document) -> dict:
    if p.url:
        mime = p.media_type or ("image/jpeg" if isinstance(p, Image) else "application/pdf")
        return {"fileData": {"mimeType": mime, "fileUri": p.url}}
    mime = p.media_type or ("image/png" if isinstance(p, Image) else "application/pdf")
    return {"inlineData": {"mimeType": mime, "data": p.data or ""}}


def _result_response(p: ToolResult) -> dict:
    text = "".join(c.text or "" for c in p.content if isinstance(c, (Text, Document)))
    return {"error": text} if p.is_error else {"output": text}


def encode_contents(messages: list[Message], model: str) -> list[dict]:
    names: dict[str, str] = {}
    placeholder = not _OLD_GEMINI.search(model)
    contents: list[dict] = []
    for msg in inline_system(messages):
        parts: list[dict] = []
        carry: str | None = None  # a signature waiting for the function call it belongs to
        first_call = True
        for p in msg.parts:
            if isinstance(p, Text):
                if p.text:
                    parts.append({"text": p.text})
            elif isinstance(p, (Image, Document)):
                parts.append({"text": p.text} if isinstance(p, Document) and p.text is not None else _media_part(p))
            elif isinstance(p, Thinking):
                if not keep_for(p, ME) or p.redacted is not None:
                    continue
                if p.text:
                    parts.append({"text": p.text, "thought": True, "thoughtSignature": p.signature})
                else:
                    carry = p.signature
            elif isinstance(p, ToolCall):
                names[p.id] = p.name
                part: dict[str, Any] = {"functionCall": {"name": p.name, "args": parse_args(p.arguments)}}
                sig = p.signature if p.signature_source == ME else carry
                if sig is None and first_call and placeholder and msg.role == "assistant":
                    sig = SKIP_SIGNATURE
                if sig:
                    part["thoughtSignature"] = sig
                carry, first_call = None, False
                parts.append(part)
            elif isinstance(p, ToolResult):
                name = p.name or names.get(p.call_id) or p.call_id
                parts.append({"functionResponse": {"name": name, "response": _result_response(p)}})
                parts.extend(
                    _media_part(c)
                    for c in p.content
                    if isinstance(c, Image) or (isinstance(c, Document) and c.text is None)
                )
        if not parts:
            if msg.role == "assistant":
                continue
            parts = [{"text": " "}]
        contents.append({"role": "model" if msg.role == "assistant" else "user", "parts": parts})
    return contents


def thinking_config(req: Request, ctx: Context, model: str) -> dict | None:
    r = req.reasoning
    if r is None:
        return None
    if r.enabled is False or r.effort == "none" or r.budget == 0:
        return {"thinkingBudget": 0} if "flash" in model else None
    if not (r.enabled or r.effort or r.budget):
        return None
    if not _OLD_GEMINI.search(model) and r.effort and r.budget is None:
        level = "low" if r.effort in ("minimal", "low") else "high"
        return {"includeThoughts": True, "thinkingLevel": level}
    cap = 24576 if "flash" in model else 32768
    return {"includeThoughts": True, "thinkingBudget": min(cap, resolve_budget(r, ctx.thinking_budget))}


def encode_request(req: Request, ctx: Context, *, model: str, stream: bool) -> dict:
    """The body for models/{model}:generateContent; the model itself goes in the URL."""
    system, rest = hoist_system(req.system, req.messages)
    body: dict[str, Any] = {"contents": encode_contents(rest, model)}
    if system:
        body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    if req.tools:
        decls = []
        for t in req.tools:
            decl: dict[str, Any] = {"name": t.name, "description": t.description}
            if (t.parameters or {}).get("properties"):
                decl["parameters"] = to_gemini(t.parameters)
            decls.append(decl)
        body["tools"] = [{"functionDeclarations": decls}]
    if req.tool_choice and req.tools:
        tc = req.tool_choice
        fcc: dict[str, Any] = {"mode": {"auto": "AUTO", "none": "NONE"}.get(tc.mode, "ANY")}
        if tc.mode == "tool" and tc.name:
            fcc["allowedFunctionNames"] = [tc.name]
        body["toolConfig"] = {"functionCallingConfig": fcc}
    gen: dict[str, Any] = {}
    if req.max_tokens is not None:
        gen["maxOutputTokens"] = req.max_tokens
    for key, name in (("temperature", "temperature"), ("top_p", "topP"), ("top_k", "topK")):
        if getattr(req, key) is not None:
            gen[name] = getattr(req, key)
    if req.stop:
        gen["stopSequences"] = req.stop[:5]
    think = thinking_config(req, ctx, model)
    if think:
        gen["thinkingConfig"] = think
    if req.json_schema is not None:
        gen["responseMimeType"] = "application/json"
        gen["responseSchema"] = to_gemini(req.json_schema)
    elif req.json_mode:
        gen["responseMimeType"] = "application/json"
    if gen:
        body["generationConfig"] = gen
    return body


# ---- responses ----


def call_from_part(part: dict, salt: str, position: object) -> ToolCall:
    call = get(part, "functionCall", "function_call")
    args = as_obj(call.get("args"))
    name = str(call.get("name", ""))
    call_id = call.get("id") or stable_id("call_", salt, position, name, dumps(args))
    sig = get(part, "thoughtSignature", "thought_signature")
    return ToolCall(
        id=str(call_id),
        name=name,
        arguments=args_text(args),
        signature=sig,
        signature_source=ME if sig else None,
    )


def decode_response(body: dict, ctx: Context) -> Response:
    candidate = as_obj((as_list(body.get("candidates")) or [{}])[0])
    salt = str(get(body, "responseId", "response_id", default="") or new_id(""))
    parts: list = []
    for j, part in enumerate(as_list(as_obj(candidate.get("content")).get("parts"))):
        if not isinstance(part, dict):
            continue
        sig = get(part, "thoughtSignature", "thought_signature")
        if part.get("thought"):
            parts.append(Thinking(text=str(part.get("text", "")), signature=sig, source=ME if sig else None))
        elif isinstance(part.get("text"), str):
            last = parts[-1] if parts else None
            if sig and isinstance(last, Thinking) and last.signature is None:
                last.signature, last.source = sig, ME  # Gemini signs the thoughts on the next part
            parts.append(Text(text=part["text"]))
        elif isinstance(get(part, "functionCall", "function_call"), dict):
            parts.append(call_from_part(part, salt, j))
    reason = mapping.gemini_finish(get(candidate, "finishReason", "finish_reason"))
    if not body.get("candidates") and as_obj(get(body, "promptFeedback", "prompt_feedback")).get("blockReason"):
        reason = "content_filter"
    return Response(
        id=salt,
        model=str(get(body, "modelVersion", "model_version", default="")),
        parts=parts,
        finish_reason=reason,
        usage=upstream_usage.from_gemini(get(body, "usageMetadata", "usage_metadata")),
    )


def response_parts(parts: list, ctx: Context) -> list[dict]:
    out: list[dict] = []
    for p in parts:
        if isinstance(p, Text):
            out.append({"text": p.text})
        elif isinstance(p, Thinking) and p.redacted is None:
            part: dict[str, Any] = {"text": p.text, "thought": True}
            token = client_signature(p.source, p.signature, ME)
            if token:
                part["thoughtSignature"] = token
            out.append(part)
        elif isinstance(p, ToolCall):
            out.append(call_part(p, ctx))
    return out


def call_part(p: ToolCall, ctx: Context) -> dict:
    part: dict[str, Any] = {
        "functionCall": {"id": p.id, "name": ctx.origin(p.name).name, "args": parse_args(p.arguments)}
    }
    token = client_signature(p.signature_source, p.signature, ME)
    if token:
        part["thoughtSignature"] = token
    return part


def encode_response(resp: Response, ctx: Context, model: str) -> dict:
    out: dict[str, Any] = {
        "candidates": [
            {
                "content": {"role": "model", "parts": response_parts(resp.parts, ctx)},
                "finishReason": mapping.GEMINI_FROM_IR[resp.finish_reason],
                "index": 0,
            }
        ],
        "modelVersion": model,
        "responseId": resp.id or new_id(""),
    }
    if resp.usage is not None:
        out["usageMetadata"] = mapping.usage_to_gemini(resp.usage)
    return out
