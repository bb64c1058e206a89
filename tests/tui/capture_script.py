"""A fixed capture and replay answer for the scripted engine: req-0041 (the live 500) failed over from
Anthropic (translated, 529) to OpenAI (same dialect, 500). The documents are what the engine serves:
built with the engine's own presenter and diff renderer, so the TUI is shown the real shapes."""

from __future__ import annotations

import json
from typing import Any

from proxy_engine.recorder.diff_text import render_diff
from proxy_engine.recorder.present import present
from proxy_engine.recorder.reply_summary import ReplySummary, diff

_CLIENT_BODY = {"model": "gpt-4o", "stream": True, "messages": [
    {"role": "system", "content": "You are terse."}, {"role": "user", "content": "Capital of France?"}]}  # fmt: skip
_ASK = [{"role": "user", "content": [{"type": "text", "text": "Capital of France?"}]}]
_ANTHROPIC_BODY = {"model": "claude-sonnet-4-5", "system": "You are terse", "max_tokens": 32000, "stream": True,
                   "messages": _ASK}  # fmt: skip
_OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
_SERVER_ERROR = {"error": {"message": "internal server error", "type": "server_error"}}


def _stage(name: str, body: Any, **kw: Any) -> dict[str, Any]:
    text = json.dumps(body) if not isinstance(body, str) else body
    return {"stage": name, **kw, "body": text, "bytes": len(text), "truncated": False}


CAPTURE: dict[str, Any] = present({
    "format": "proxypal-capture/1", "id": "req-0041", "ts": 0.0,
    "meta": {"status": 500, "error_code": "upstream_error", "dialect_in": "openai_chat", "dialect_out": "openai_chat",
             "model_requested": "gpt-4o", "provider": "openai", "model": "gpt-4o", "attempts": 2, "reason": "error"},
    "stages": [
        _stage("client_request", _CLIENT_BODY, method="POST", url="/v1/chat/completions", query={},
               headers={"Authorization": "[redacted]", "Content-Type": "application/json"}),
        _stage("upstream_request", _ANTHROPIC_BODY, attempt=1, method="POST", url="https://api.anthropic.com/v1/messages",
               query={}, headers={"x-api-key": "[redacted]", "anthropic-version": "2023-06-01"}),
        _stage("upstream_response", _OVERLOADED, attempt=1, status=529, headers={"Content-Type": "application/json"}),
        _stage("upstream_request", {**_CLIENT_BODY, "stream_options": {"include_usage": True}}, attempt=2,
               method="POST", url="https://api.openai.com/v1/chat/completions", query={},
               headers={"Authorization": "[redacted]"}),
        _stage("upstream_response", _SERVER_ERROR, attempt=2, status=500, headers={"Content-Type": "application/json"}),
        _stage("client_response", 'data: {"error": {"message": "openai answered 500: internal server error"}}\n\n',
               status=500, headers={"Content-Type": "text/event-stream"}),
    ],
})  # fmt: skip

_BEFORE = ReplySummary(500, error="openai answered 500: internal server error")
_AFTER = ReplySummary(200, text="Paris.", usage={"input_tokens": 18, "output_tokens": 3})
_DIFF = diff(_BEFORE, _AFTER)
REPLAY: dict[str, Any] = {
    "type": "result", "original_id": "req-0041", "request_id": "req-0042", "status": 200,
    "original": _BEFORE.to_dict(), "replay": _AFTER.to_dict(), "diff": _DIFF, "diff_text": render_diff(_DIFF),
}  # fmt: skip
