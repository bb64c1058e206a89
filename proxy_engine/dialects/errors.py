"""Error bodies in each API's own shape, so every SDK raises a proper error."""

from __future__ import annotations

import json
from typing import Any

_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    501: "not_implemented_error",
}
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def error_body(dialect: str, status: int, message: str, code: str | None = None) -> dict[str, Any]:
    if dialect == "anthropic":
        kind = _ANTHROPIC_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    if dialect == "gemini":
        google = _GOOGLE_STATUS.get(status, "INTERNAL")
        return {"error": {"code": status, "message": message, "status": google}}
    kind = _OPENAI_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def stream_error_event(dialect: str, status: int, message: str, code: str | None = None) -> bytes:
    """An error event in the client's stream framing, for failures after headers went out."""
    body = error_body(dialect, status, message, code)
    if dialect == "anthropic":
        return b"event: error\ndata: " + _dump(body) + b"\n\n"
    if dialect == "openai_responses":
        event = {"type": "error", "code": code or body["error"]["type"], "message": message, "param": None}
        return b"event: error\ndata: " + _dump(event) + b"\n\n"
    if dialect == "gemini":
        return b"data: " + _dump(body) + b"\r\n\r\n"
    return b"data: " + _dump(body) + b"\n\n"


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()
