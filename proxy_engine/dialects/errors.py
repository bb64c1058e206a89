"""Error events for failures after a stream's headers went out, in the client's own framing.

The error *bodies* come from `translate.errors.error_payload`, the one place that knows each
dialect's error shape.
"""

from __future__ import annotations

import json
from typing import Any

from proxy_engine.translate.errors import error_payload


def stream_error_event(dialect: str, status: int, message: str, code: str | None = None) -> bytes:
    body = error_payload(dialect, status, message, code)
    if dialect == "anthropic":
        return b"event: error\ndata: " + _dump(body) + b"\n\n"
    if dialect == "openai_responses":
        event = {"type": "error", "code": code or body["error"]["type"], "message": message, "param": None}
        return b"event: error\ndata: " + _dump(event) + b"\n\n"
    if dialect == "gemini":
        return b"data: " + _dump(body) + b"\r\n\r\n"
    return b"data: " + _dump(body) + b"\n\n"


def _dump(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()
