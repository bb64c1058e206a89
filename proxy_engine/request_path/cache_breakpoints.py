"""Prompt-cache breakpoints for clients that set none, when the upstream is Anthropic's Messages API.

Anthropic caches only up to blocks marked `cache_control`; a client that marks none (an OpenAI SDK
translated to Claude, a plain script) pays full price for the same long prefix on every turn. With
`routing.cache_breakpoints: auto` the proxy marks the three places a conversation's prefix ends: the
system prompt, the tool list and the last user turn (the API allows four). A client that marks any
block itself is left alone: it knows its prefix better.
"""

from __future__ import annotations

from typing import Any

EPHEMERAL = {"type": "ephemeral"}
_MARKER = b'"cache_control"'
_COUNT_ACTIONS = ("count_tokens", "countTokens")


def breakpoints_wanted(mode: str, accepts: bool, dialect: str, action: str | None) -> bool:
    """Only `auto`, only a message call (not a token count) to an upstream that honours `cache_control`."""
    return mode == "auto" and accepts and dialect == "anthropic" and action not in _COUNT_ACTIONS


def marks_its_own(raw: bytes) -> bool:
    """A cheap look at the client's bytes: any `cache_control` means the client manages its cache."""
    return _MARKER in raw


def with_cache_breakpoints(body: dict[str, Any]) -> dict[str, Any] | None:
    """A copy of a Messages body with breakpoints on system, last tool and last user turn; None if none fit."""
    if _has_cache_control(body):
        return None
    out = dict(body)
    placed = False
    system = body.get("system")
    if isinstance(system, str) and system:
        out["system"] = [{"type": "text", "text": system, "cache_control": EPHEMERAL}]
        placed = True
    elif isinstance(system, list) and system and isinstance(system[-1], dict):
        out["system"] = [*system[:-1], {**system[-1], "cache_control": EPHEMERAL}]
        placed = True
    tools = body.get("tools")
    if isinstance(tools, list) and tools and isinstance(tools[-1], dict):
        out["tools"] = [*tools[:-1], {**tools[-1], "cache_control": EPHEMERAL}]
        placed = True
    messages = body.get("messages")
    if isinstance(messages, list):
        for i in range(len(messages) - 1, -1, -1):
            marked = _marked_turn(messages[i]) if isinstance(messages[i], dict) else None
            if marked is not None:
                out["messages"] = [*messages[:i], marked, *messages[i + 1 :]]
                placed = True
                break
    return out if placed else None


def _marked_turn(msg: dict[str, Any]) -> dict[str, Any] | None:
    """The last user turn with its last block marked (a string becomes one text block)."""
    if msg.get("role") != "user":
        return None
    content = msg.get("content")
    if isinstance(content, str) and content:
        return {**msg, "content": [{"type": "text", "text": content, "cache_control": EPHEMERAL}]}
    if isinstance(content, list) and content and isinstance(content[-1], dict):
        last = content[-1]
        if last.get("type") == "text" and not last.get("text"):
            return None  # the API refuses cache_control on an empty text block
        return {**msg, "content": [*content[:-1], {**last, "cache_control": EPHEMERAL}]}
    return None


def _has_cache_control(body: dict[str, Any]) -> bool:
    blocks: list[Any] = []
    for key in ("system", "tools"):
        if isinstance(body.get(key), list):
            blocks += body[key]
    for msg in body.get("messages") or []:
        if isinstance(msg, dict) and isinstance(msg.get("content"), list):
            blocks += msg["content"]
    return any(isinstance(b, dict) and "cache_control" in b for b in blocks)
