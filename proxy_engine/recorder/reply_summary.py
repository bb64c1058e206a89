"""What a client reply said, in any dialect: status, text, tool calls, usage and error.

A reply is decoded with the dialect's own codec (whole replies) or stream decoder (SSE or
Gemini's JSON-array stream), so replay diffs compare meaning, not framing.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from proxy_engine.recorder.present import sse_events
from proxy_engine.usage.tokens import Usage

if TYPE_CHECKING:  # the codecs load with the first diff, not with the engine's /v0 routes
    from proxy_engine.translate import ir

_ERROR_FIELDS = ("error", "message")


@dataclass(slots=True)
class ReplySummary:
    status: int
    text: str = ""
    tool_calls: list[dict[str, str]] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _usage(u: Usage | None) -> dict[str, int]:
    return {"input_tokens": u.input_tokens, "output_tokens": u.output_tokens} if u is not None else {}


def _error_text(obj: object) -> str | None:
    if isinstance(obj, list) and obj:
        obj = obj[0]
    if not isinstance(obj, dict):
        return None
    err = obj.get("error")
    if isinstance(err, dict):
        return str(err.get("message") or err.get("type") or err)
    if isinstance(err, str):
        return err
    return None


def summarize(dialect: str, status: int, body: str) -> ReplySummary:
    """`body` as the client received it; an error body gives `error`, anything unreadable gives what it could."""
    out = ReplySummary(status)
    stripped = body.lstrip()
    if stripped.startswith(("data:", "event:", ":")):
        _summarize_stream(dialect, [e["data"] for e in sse_events(body)], out)
        return out
    try:
        obj = json.loads(body) if body else None
    except ValueError:
        out.error = body[:300] if status >= 400 else "the reply is not JSON"
        return out
    if status >= 400 or _error_text(obj):
        out.error = _error_text(obj) or body[:300]
        return out
    if isinstance(obj, list):  # Gemini's streamGenerateContent without alt=sse: a JSON array of chunks
        _summarize_stream(dialect, [json.dumps(x) for x in obj], out)
        return out
    if isinstance(obj, dict):
        from proxy_engine.translate.context import Context
        from proxy_engine.translate.translator import codec

        try:
            resp = codec(dialect).decode_response(obj, Context(client=dialect, upstream=dialect))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            out.error = f"the reply cannot be read: {type(e).__name__}"
            return out
        _parts(resp.parts, out)
        out.usage = _usage(resp.usage)
    return out


def _parts(parts: list[ir.Part], out: ReplySummary) -> None:
    from proxy_engine.translate import ir

    for p in parts:
        if isinstance(p, ir.Text):
            out.text += p.text
        elif isinstance(p, ir.ToolCall):
            out.tool_calls.append({"name": p.name, "arguments": p.arguments})


def _summarize_stream(dialect: str, payloads: list[str], out: ReplySummary) -> None:
    from proxy_engine.translate import ir
    from proxy_engine.translate.context import Context
    from proxy_engine.translate.translator import codec

    decoder = codec(dialect).stream_decoder(Context(client=dialect, upstream=dialect))
    calls: dict[object, dict[str, str]] = {}
    usage = Usage()
    saw_usage = False
    events: list[ir.Event] = []
    for data in payloads:
        if not data or data == "[DONE]":
            continue
        try:
            obj = json.loads(data)
        except ValueError:
            continue
        if isinstance(obj, dict) and (err := _error_text(obj)) and obj.get("type") in (None, "error"):
            out.error = err
            continue
        try:
            events += decoder.feed(obj)
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    with contextlib.suppress(KeyError, TypeError, ValueError, AttributeError):
        events += decoder.finish()  # a stream cut short: the events so far still say what the client saw
    for ev in events:
        if isinstance(ev, ir.TextDelta):
            out.text += ev.text
        elif isinstance(ev, ir.ToolStart):
            calls[ev.key] = {"name": ev.name, "arguments": ""}
        elif isinstance(ev, ir.ToolDelta) and ev.key in calls:
            calls[ev.key]["arguments"] += ev.arguments
        elif isinstance(ev, ir.UsageUpdate):
            ir.apply_usage(usage, ev)
            saw_usage = True
        elif isinstance(ev, ir.StreamError):
            out.error = ev.message
    out.tool_calls = list(calls.values())
    out.usage = _usage(usage) if saw_usage else {}


def diff(before: ReplySummary, after: ReplySummary) -> dict[str, Any]:
    """Each of status, text, tool calls, usage and error: both values and whether they differ."""
    a, b = before.to_dict(), after.to_dict()
    return {k: {"original": a[k], "replay": b[k], "same": a[k] == b[k]} for k in a}
