"""Upstream error text, made safe to pass on: secrets cut out in place, size capped.

An upstream that echoes the credential it received (in its message, a nested field, a header
it quotes) would otherwise hand the operator's key to every client, the ledger and the event
feed. Only error text goes through here, never a successful reply, so the regex cost is paid
on the failure path alone.
"""

from __future__ import annotations

import re

from proxy_engine.logs import REDACTOR

# The most of an upstream error body a client, the ledger or an event ever gets.
ERROR_TEXT_MAX = 16 * 1024
REDACTED = "[redacted]"
# Shapes of credentials we may not know by value: provider key prefixes, bearer tokens, key fields.
_KEY_SHAPES = re.compile(
    r"""(?ix)
    (?<![A-Za-z0-9])(?:sk|rk|pk)-[A-Za-z0-9_\-]{8,}       # OpenAI / Anthropic style keys (sk-, sk-ant-, sk-proj-)
    | (?<![A-Za-z0-9])AIza[0-9A-Za-z_\-]{10,}             # Google API keys
    | (?<![A-Za-z0-9])ya29\.[0-9A-Za-z_\-.]{10,}          # Google OAuth access tokens
    | (?<![A-Za-z0-9])(?:ghp|gho|ghu|github_pat)_[A-Za-z0-9_]{10,}
    | (?<![A-Za-z0-9])AKIA[0-9A-Z]{12,}                   # AWS access key ids
    """
)
# `Bearer xxx`, and the value of a key-carrying header or field quoted in the text.
_LABELLED = re.compile(
    r"""(?ix)
    (\bbearer\s+)[A-Za-z0-9_\-.~+/=]{6,}
    | ((?:x-api-key|x-goog-api-key|api[-_]?key|authorization|access[-_]?token|refresh[-_]?token)
       ["']?\s*[:=]\s*["']?)(?!\[redacted\])[^\s"',;}&]{6,}
    """
)


def redact_secrets(text: str) -> str:
    """Every configured secret and anything shaped like a key or token in `text`, replaced."""
    text = REDACTOR.redact(text)
    text = _KEY_SHAPES.sub(REDACTED, text)
    return _LABELLED.sub(lambda m: (m.group(1) or m.group(2)) + REDACTED, text)


def safe_error_body(body: bytes) -> bytes:
    """An upstream error body with its secrets redacted in place (structure and wording kept), capped.

    Redaction works on the decoded text: every replacement is ASCII inside a JSON string, so
    a JSON body stays JSON. A body over the cap is cut and no longer parses; the caller then
    answers with its own error in the client's dialect.
    """
    text = body[:ERROR_TEXT_MAX].decode("utf-8", "replace")
    return redact_secrets(text).encode()


def safe_error_text(text: str, limit: int = ERROR_TEXT_MAX) -> str:
    """A message that quotes an upstream: redacted, then capped at `limit` characters."""
    text = redact_secrets(text[: limit * 2])
    return text if len(text) <= limit else text[: limit - 1] + "…"
