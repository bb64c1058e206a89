"""`POST /v1/responses/compact`: Codex's remote compaction of a long session.

Codex asks for remote compaction whenever its provider is OpenAI-like, whatever model the proxy
routes to, and a failed compaction is not retried locally: the task ends with an error event
(openai/codex `core/src/compact_remote.rs`), so the session stays too long. So the proxy always
answers with a usable history. An upstream that compacts itself (OpenAI, the Codex backend) gets
the call as it is. For any other, the routed model writes a hand-off summary (one derived
`/v1/responses` call, recorded like any other) and the answer is the shape Codex reads
(`codex-api/src/endpoint/compact.rs`: `{"output": [ResponseItem, ...]}`): the latest user
messages as they were, then the summary as a user message, which Codex keeps when it rebuilds
its history.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp
from aiohttp import web

from proxy_engine.request_path.errors import ProxyError, error_response, unknown_model
from proxy_engine.request_path.exchange import ResolveAs
from proxy_engine.request_path.handler import handle
from proxy_engine.request_path.headers import client_key
from proxy_engine.request_path.loopback import OwnAddressUnknown, post_responses
from proxy_engine.routing import UnknownModel
from proxy_engine.state import ENGINE

log = logging.getLogger("proxy_engine.request_path")
DIALECT = "openai_responses"
ACTION = "compact"
TRANSCRIPT_MAX = 400_000  # characters of history the summariser reads (the latest ones)
TOOL_TEXT_MAX = 2_000  # characters kept of one tool call's arguments or output
KEPT_USER_MAX = 80_000  # characters of the latest user messages kept word for word
SUMMARY_PREFIX = "Summary of the earlier part of this session, written when its context was compacted:\n\n"
SUMMARY_INSTRUCTIONS = (
    "You are compacting a coding session so that it can go on in a fresh context. Write the hand-off "
    "notes the assistant continuing it needs: the user's goal and stated preferences, what was decided "
    "and done (files, commands and their results), what failed, and what remains to do next. Be concise "
    "and concrete. Answer with the notes only."
)


async def compact(request: web.Request, resolve_as: ResolveAs | None) -> web.StreamResponse:
    """Pass the call to an upstream that compacts, or summarise through the routed model."""
    rt = request.app[ENGINE].runtime
    try:
        if request.app[ENGINE].members.client_name(rt, client_key(request)) is None:
            raise ProxyError(401, "invalid or missing client key for this proxy", "invalid_api_key")
        body = json.loads(await request.read())
        model = body.get("model") if isinstance(body, dict) else None
        if not isinstance(model, str) or not model:
            raise ProxyError(400, "the request has no `model`")
        try:
            candidates = rt.router.resolve(resolve_as(rt, model) if resolve_as else model)
        except UnknownModel as e:
            raise unknown_model(model, e.known, rt) from None
        if not isinstance(body.get("input"), list):
            raise ProxyError(400, "`input` must be the list of the session's items")
    except (ValueError, RecursionError):
        return error_response(DIALECT, ProxyError(400, "the request body is not a valid JSON object"))
    except ProxyError as e:
        return error_response(DIALECT, e)
    if candidates[0].provider.kind_rules.compacts:
        return await handle(request, DIALECT, action=ACTION, resolve_as=resolve_as)
    return await _summarised(request, body)


async def _summarised(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
    items = [i for i in body["input"] if isinstance(i, dict)]
    ask = {
        "model": body["model"],
        "instructions": SUMMARY_INSTRUCTIONS,
        "input": [_user_message(transcript(items))],
        "stream": False,
    }
    path = request.path.removesuffix("/compact")
    try:
        resp = await post_responses(request, path, ask)
    except (aiohttp.ClientError, OwnAddressUnknown) as e:
        log.warning("compaction summary call failed: %s", type(e).__name__)
        return error_response(DIALECT, ProxyError(503, "the proxy could not reach itself to summarise"))
    async with resp:
        reply = await resp.read()
        if resp.status != 200:  # already an error in the Responses dialect, and recorded
            return web.Response(body=reply, status=resp.status, content_type="application/json")
    try:
        obj = json.loads(reply)
    except ValueError:
        return error_response(DIALECT, ProxyError(502, "the summary reply is not JSON", "upstream_malformed"))
    summary = output_text(obj)
    if not summary.strip():
        return error_response(DIALECT, ProxyError(502, "the model wrote an empty summary", "upstream_malformed"))
    out: dict[str, Any] = {"output": compacted_history(items, summary)}
    if isinstance(obj.get("usage"), dict):
        out["usage"] = obj["usage"]
    return web.json_response(out)


def transcript(items: list[dict[str, Any]]) -> str:
    """The session as plain text: any model can read it, whatever tools it knows."""
    lines = []
    for item in items:
        kind = item.get("type", "message")
        if kind == "message":
            text = _text_of(item)
            if text:
                lines.append(f"[{item.get('role', 'user')}] {text}")
        elif kind in ("function_call", "custom_tool_call"):
            args = str(item.get("arguments", item.get("input", "")))[:TOOL_TEXT_MAX]
            lines.append(f"[tool call {item.get('name', '?')}] {args}")
        elif kind in ("function_call_output", "custom_tool_call_output"):
            out = item.get("output")
            text = out if isinstance(out, str) else json.dumps(out)
            lines.append(f"[tool output] {text[:TOOL_TEXT_MAX]}")
    text = "\n\n".join(lines)
    return text[-TRANSCRIPT_MAX:]


def compacted_history(items: list[dict[str, Any]], summary: str) -> list[dict[str, Any]]:
    """The latest user messages as sent (within KEPT_USER_MAX), then the summary."""
    kept: list[dict[str, Any]] = []
    room = KEPT_USER_MAX
    for item in reversed(items):
        if item.get("type", "message") != "message" or item.get("role") != "user":
            continue
        size = len(_text_of(item))
        if size > room:
            break
        room -= size
        content = item.get("content")
        kept.append({"type": "message", "role": "user", "content": content} if isinstance(content, list) else
                    _user_message(_text_of(item)))  # fmt: skip
    kept.reverse()
    return [*kept, _user_message(SUMMARY_PREFIX + summary)]


def output_text(obj: dict[str, Any]) -> str:
    """The text of a Response's assistant messages."""
    parts = []
    for item in obj.get("output") or []:
        if isinstance(item, dict) and item.get("type") == "message":
            parts.append(_text_of(item))
    return "\n".join(p for p in parts if p)


def _text_of(item: dict[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))


def _user_message(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
