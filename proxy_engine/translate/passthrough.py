"""Cleaning a same-dialect request whose history passed through another provider.

A conversation may have visited another provider earlier (failover, a model switch): its
history then holds thinking we wrapped for that provider (see thinking.wrap) or unsigned
thinking. Replaying those to the native provider fails with 400 "invalid signature", so
before a byte pass-through the proxy asks this module; it answers None when the body is
fine as it is (the usual case, checked cheaply on the raw bytes).
"""

from __future__ import annotations

import copy
from typing import Any

from .fields import as_list

# `thinking.WRAP_PREFIX` as bytes, spelled out so the check on every pass-through loads no codec
# (tests/engine/test_serve_imports.py holds the two equal).
WRAP_MARK = b"cHAxc2ln"
_WRAPPED_ONLY = frozenset({"openai_responses", "gemini"})  # with `anthropic`, the dialects cleaned below


def might_need_sanitizing(dialect: str, raw: bytes) -> bool:
    """A cheap look at the raw request: only bodies holding a wrapped token or unsigned thinking need parsing.

    Each `in` scans the whole body (~0.2 ms for an agent's 350 KB turn), so a dialect is scanned only for
    what `sanitize_passthrough` can clean in it: nothing in OpenAI chat, wrapped tokens in Gemini and the
    Responses API, wrapped tokens and empty signatures in Anthropic (spellings looked for only when a
    signature is there at all).
    """
    if dialect == "anthropic":
        return WRAP_MARK in raw or (b'"signature":' in raw and (b'"signature":""' in raw or b'"signature": ""' in raw))
    return dialect in _WRAPPED_ONLY and WRAP_MARK in raw


def _foreign(token: Any, native: str) -> bool:
    from .thinking import unwrap

    if not isinstance(token, str) or not token:
        return True
    sig = unwrap(token, native)
    return sig is None or sig.source != native


def _anthropic(body: dict) -> bool:
    from .anthropic import thinking_blocks_ok
    from .thinking import is_wrapped

    changed = False
    for msg in as_list(body.get("messages")):
        content = msg.get("content") if isinstance(msg, dict) else None
        if not isinstance(content, list):
            continue
        kept = [
            b
            for b in content
            if not (isinstance(b, dict) and b.get("type") == "thinking" and _foreign(b.get("signature"), "anthropic"))
            and not (isinstance(b, dict) and b.get("type") == "redacted_thinking" and is_wrapped(b.get("data")))
        ]
        if len(kept) != len(content):
            msg["content"] = kept or [{"type": "text", "text": "(empty)"}]
            changed = True
    if changed and isinstance(body.get("thinking"), dict) and body["thinking"].get("type") == "enabled":
        messages = [
            m for m in as_list(body.get("messages")) if isinstance(m, dict) and isinstance(m.get("content"), list)
        ]
        if not thinking_blocks_ok(messages):
            body.pop("thinking")
    return changed


def _responses(body: dict) -> bool:
    from .thinking import is_wrapped

    items = body.get("input")
    if not isinstance(items, list):
        return False
    kept = [
        i
        for i in items
        if not (isinstance(i, dict) and i.get("type") == "reasoning" and is_wrapped(i.get("encrypted_content")))
    ]
    if len(kept) == len(items):
        return False
    body["input"] = kept
    return True


def _gemini(body: dict) -> bool:
    from .gemini import SKIP_SIGNATURE
    from .thinking import is_wrapped

    changed = False
    for content in as_list(body.get("contents")):
        parts = content.get("parts") if isinstance(content, dict) else None
        if not isinstance(parts, list):
            continue
        kept = []
        for part in parts:
            sig = part.get("thoughtSignature") if isinstance(part, dict) else None
            if is_wrapped(sig):
                changed = True
                if part.get("thought"):
                    continue
                part = {k: v for k, v in part.items() if k != "thoughtSignature"}
                if "functionCall" in part:
                    part["thoughtSignature"] = SKIP_SIGNATURE
            kept.append(part)
        content["parts"] = kept or [{"text": " "}]
    return changed


def sanitize_passthrough(dialect: str, body: dict) -> dict | None:
    """A copy of `body` without foreign thinking, or None when nothing had to change."""
    handler = {"anthropic": _anthropic, "openai_responses": _responses, "gemini": _gemini}.get(dialect)
    if handler is None or not isinstance(body, dict):
        return None
    work = copy.deepcopy(body)
    return work if handler(work) else None
