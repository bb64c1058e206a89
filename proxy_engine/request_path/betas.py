"""`anthropic-beta` flags an upstream does not take are dropped for it, never sent blindly.

Claude Code sends every flag it knows (`claude-code-20250219`, `context-management-...`); Claude on
Vertex or Bedrock answers a flag it does not know with a 400, so one unknown flag would fail every
turn. Which flags an upstream takes is its kind's `accepted_betas` (one table, `providers/`).
"""

from __future__ import annotations

import logging

log = logging.getLogger("proxy_engine.request_path")

BETA_HEADER = "anthropic-beta"
_LOGGED_MAX = 512  # a client can invent flags; the "logged once" memory stays bounded
_logged: set[tuple[str, str]] = set()


def drop_unaccepted_betas(headers: dict[str, str], accepted: frozenset[str] | None, kind: str) -> None:
    """Keep only the `anthropic-beta` flags `accepted` names (None: all); no header when none is left."""
    if accepted is None:
        return
    name = next((k for k in headers if k.lower() == BETA_HEADER), None)
    if name is None:
        return
    flags = [f.strip() for f in headers[name].split(",") if f.strip()]
    kept = [f for f in flags if f in accepted]
    if len(kept) == len(flags):
        return
    for flag in flags:
        if flag not in accepted and (kind, flag) not in _logged and len(_logged) < _LOGGED_MAX:
            _logged.add((kind, flag))
            log.debug("anthropic-beta %r is not sent to %s upstreams (they do not accept it)", flag, kind)
    if kept:
        headers[name] = ",".join(kept)
    else:
        del headers[name]


def accepted_flags(header: str | None, accepted: frozenset[str] | None) -> list[str]:
    """The flags of a client's `anthropic-beta` header that `accepted` names, in the client's order."""
    if not header or not accepted:
        return []
    return [f for f in (f.strip() for f in header.split(",")) if f in accepted]
