"""What an error body must look like for each dialect's SDK to parse it (shared by engine and fuzz tests)."""

from __future__ import annotations

import json
from typing import Any


def dialect_error(dialect: str, status: int, body: bytes) -> str | None:
    """None when `body` is a well-formed error of `dialect` for `status`, else what is wrong with it."""
    try:
        obj: Any = json.loads(body)
    except ValueError:
        return f"not JSON: {body[:200]!r}"
    if not isinstance(obj, dict) or not isinstance(obj.get("error"), dict | str):
        return f"no `error` object: {body[:200]!r}"
    err = obj["error"]
    if dialect == "management":
        return None if isinstance(err, str) or isinstance(err.get("message"), str) else "no message"
    if not isinstance(err, dict) or not isinstance(err.get("message"), str):
        return f"no error.message: {body[:200]!r}"
    if dialect == "anthropic":
        if obj.get("type") != "error" or not isinstance(err.get("type"), str):
            return f"not Anthropic's shape: {body[:200]!r}"
    elif dialect == "gemini":
        if err.get("code") != status or not isinstance(err.get("status"), str):
            return f"not Gemini's shape for {status}: {body[:200]!r}"
    elif "type" not in err:
        return f"not OpenAI's shape: {body[:200]!r}"
    return None
