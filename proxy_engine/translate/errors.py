"""Errors in each client's dialect, with a status that client understands."""

from __future__ import annotations

import json
from typing import Any

from .error_kinds import CONTEXT_OVERFLOW, RATE_LIMIT, ErrorKind, classify


class TranslationError(Exception):
    """A request the target cannot represent; the proxy answers `status` in the client's dialect."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class UpstreamMalformed(TranslationError):
    """An upstream reply the proxy cannot read (a whole body or a stream event that is not JSON).

    It is the upstream's fault, so it is a 502 that cools the credential down and may fail over.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, 502)


_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_exceeded",
}
_GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    502: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def upstream_message(body: bytes | str | dict | None) -> tuple[str, str | None]:
    """(message, kind) from any provider's error body; the raw text when it is not JSON."""
    data: Any = body
    if isinstance(body, (bytes, str)):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        try:
            data = json.loads(text)
        except ValueError:
            return (text.strip()[:2000] or "upstream error", None)
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]  # Gemini sometimes wraps the error in an array
    if not isinstance(data, dict):
        return ("upstream error", None)
    err = data.get("error", data)
    if isinstance(err, str):
        return (err, data.get("type") if isinstance(data.get("type"), str) else None)
    if isinstance(err, dict):
        message = err.get("message") or data.get("message") or "upstream error"
        kind = err.get("type") or err.get("status") or err.get("code")
        return (str(message), str(kind) if kind is not None else None)
    return ("upstream error", None)


def client_status(client: str, status: int) -> int:
    """Anthropic's 529 "overloaded" means 503 to everyone else; any other upstream 5xx is a 502 here."""
    if status == 529 and client != "anthropic":
        return 503
    if status < 400 or (status >= 500 and status not in (503, 529)):
        return 502
    return status


def error_payload(client: str, status: int, message: str, kind: str | None = None) -> dict:
    if client == "anthropic":
        etype = kind if kind in _ANTHROPIC_TYPES.values() else _ANTHROPIC_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": etype, "message": message}}
    if client == "gemini":
        # `code` is the HTTP status the reply carries, as Google's own errors have it.
        fallback = "INTERNAL" if status >= 500 else "FAILED_PRECONDITION" if status < 400 else "INVALID_ARGUMENT"
        return {"error": {"code": status, "message": message, "status": _GEMINI_STATUS.get(status, fallback)}}
    etype = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    code = kind if kind and not kind.isupper() else None
    return {"error": {"message": message, "type": etype, "param": None, "code": code}}


def error_body(client: str, status: int, message: str, kind: str | None = None) -> bytes:
    """A complete error body the client's SDK parses into its own error type."""
    # "replace": a message quoting client input may hold a lone surrogate (a JSON "\\ud800" escape).
    return json.dumps(error_payload(client, status, message, kind), ensure_ascii=False).encode("utf-8", "replace")


def translate_error(client: str, status: int, upstream_body: bytes | str | dict | None) -> tuple[int, bytes]:
    """An upstream error in the client's shape; context overflows, rate limits and overloads in the
    exact type and wording the client's own SDK and agent recognise (see error_kinds.py)."""
    data: Any = upstream_body
    if isinstance(upstream_body, (bytes, str)):
        try:
            data = json.loads(upstream_body)
        except ValueError:
            data = upstream_body
    message, kind = upstream_message(data)
    recognised = classify(status, data, message)
    if recognised is not None:
        return _recognised(client, recognised, message)
    out_status = client_status(client, status)
    return out_status, error_body(client, out_status, message, kind)


def _recognised(client: str, err: ErrorKind, message: str) -> tuple[int, bytes]:
    if err.kind == CONTEXT_OVERFLOW:
        if client == "anthropic":
            return 400, error_body(client, 400, err.anthropic_message(message), "invalid_request_error")
        return 400, error_body(client, 400, message, "context_length_exceeded")
    if err.kind == RATE_LIMIT:
        return 429, error_body(client, 429, message, "rate_limit_error" if client == "anthropic" else None)
    status = 529 if client == "anthropic" else 503
    return status, error_body(client, status, message, "overloaded_error" if client == "anthropic" else None)
