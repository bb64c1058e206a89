"""The agent session a request belongs to, read from the headers coding agents send.

A session groups one conversation's requests (the ledger, the TUI's feed), keeps it on one
credential per provider (`credentials/affinity.py`), and keys OpenAI's prompt cache when a
request is translated to OpenAI (`prompt_cache_key`), so provider prompt caches keep hitting.

The headers, most specific first (each checked in the agent's own source):
- Claude Code (2.1.86+): `X-Claude-Code-Session-Id`.
- Codex CLI: `session-id` (the root agent tree, also its `prompt_cache_key`) and `thread-id` (one
  thread); older releases sent `session_id` (and before that `conversation_id` with it).
- opencode: `x-session-affinity` and `X-Session-Id` (same value); `x-opencode-session` to its own
  gateway.
- Amp: `x-amp-thread-id` (one thread).
- Gemini CLI sends none to the Gemini API (its Code Assist calls carry `session_id` in the body).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from proxy_engine.record import bounded

SESSION_HEADERS = (
    "x-claude-code-session-id",
    "session-id",
    "session_id",
    "thread-id",
    "thread_id",
    "conversation_id",
    "conversation-id",
    "x-opencode-session",
    "x-amp-thread-id",
    "x-session-affinity",
    "x-session-id",
)
# The OpenAI APIs whose bodies take `prompt_cache_key` (legacy completions does not).
CACHE_KEYED = frozenset({"openai_chat", "openai_responses"})
SESSION_MAX = 128  # UUIDs are 36 characters and opencode's ids about 30; a longer value is cut


def session_of(headers: Mapping[str, str]) -> str | None:
    """The session id the client sent, or None. Blank or unprintable values are not ids."""
    for name in SESSION_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        value = value.strip()
        if value and value.isprintable():
            return bounded(value, SESSION_MAX)
    return None


def prompt_cache_key(session: str) -> str:
    """OpenAI's `prompt_cache_key` for a session: a hash, so the raw id never leaves the machine."""
    return "pp-" + hashlib.sha256(session.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def keep_prompt_cache(upstream_body: dict[str, Any], client_body: dict[str, Any], session: str | None) -> None:
    """A translated OpenAI body keeps the client's `prompt_cache_key`, else gets one from the session."""
    if "prompt_cache_key" in upstream_body:
        return
    sent = client_body.get("prompt_cache_key")
    if isinstance(sent, str) and sent:
        upstream_body["prompt_cache_key"] = sent
    elif session:
        upstream_body["prompt_cache_key"] = prompt_cache_key(session)
