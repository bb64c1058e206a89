"""What travels on a Responses WebSocket besides the stream events: errors and a warm-up's answer.

The wire facts are Codex's (openai/codex `codex-api/src/endpoint/responses_websocket.rs`): every
message is one JSON text frame; a failure is `{"type": "error", "status": N, "error": {...}}`,
which Codex turns into the HTTP error it would have had (a 429 is retried after its delay).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from proxy_engine.record import ERROR_MESSAGE_MAX
from proxy_engine.request_path.errors import ProxyError
from proxy_engine.request_path.redaction import safe_error_text
from proxy_engine.translate.errors import error_payload


def error_frame(err: ProxyError) -> str:
    """A ProxyError as the socket's error event, in the OpenAI error shape."""
    message = safe_error_text(err.message, ERROR_MESSAGE_MAX)
    payload = error_payload("openai_responses", err.status, message, err.code)
    event: dict[str, Any] = {"type": "error", "status": err.status, "error": payload["error"]}
    retry = err.headers.get("Retry-After") if err.headers else None
    if retry is not None:
        event["headers"] = {"retry-after": retry}
    return json.dumps(event, ensure_ascii=False)


def relayed_error(status: int, body: bytes, retry_after: str | None = None) -> str:
    """A derived HTTP call's error reply (already in the OpenAI shape) as the socket's error event;
    Codex reads `headers` of the event as the reply's headers (a 429's Retry-After)."""
    try:
        obj = json.loads(body)
        error = obj.get("error") if isinstance(obj, dict) else None
    except ValueError:
        error = None
    if not isinstance(error, dict):
        error = error_payload("openai_responses", status, f"the proxy answered {status}")["error"]
    event: dict[str, Any] = {"type": "error", "status": status, "error": error}
    if retry_after is not None:
        event["headers"] = {"retry-after": retry_after}
    return json.dumps(event, ensure_ascii=False)


def warmup_frames(model: str) -> tuple[str, list[str]]:
    """A warm-up (`generate: false`) answered without an upstream call: its id and its two events."""
    rid = "resp_" + os.urandom(16).hex()
    resp: dict[str, Any] = {
        "id": rid, "object": "response", "created_at": int(time.time()), "status": "in_progress",
        "model": model, "output": [], "usage": None, "error": None,
    }  # fmt: skip
    created = json.dumps({"type": "response.created", "response": resp})
    completed = json.dumps({"type": "response.completed", "response": {**resp, "status": "completed"}})
    return rid, [created, completed]
