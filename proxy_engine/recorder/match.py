"""Where a search word sits in a stored capture: the stage and a one-line excerpt around it.

Used by `GET /v0/captures?q=` so a client can show each hit in context without fetching every
capture. The text searched is the stored one, already redacted by the writer thread, so an excerpt
never carries a secret the capture itself does not.
"""

from __future__ import annotations

import re
from typing import Any

_SPACE = re.compile(r"\s+")
EXCERPT_SIDE = 40  # characters kept on each side of the match


def _fields(stage: dict[str, Any]) -> list[str]:
    """The searchable text of one stage: where it went, its headers, then its body."""
    head = f"{stage.get('method') or ''} {stage.get('url') or ''}".strip()
    headers = "\n".join(f"{k}: {v}" for k, v in (stage.get("headers") or {}).items())
    return [str(stage.get("body") or ""), head, headers]


def _one_line(text: str) -> str:
    return _SPACE.sub(" ", text)


def first_match(stages: list[dict[str, Any]], needle: str) -> dict[str, Any] | None:
    """The first stage containing `needle` (case-insensitive), with the match's place in a short excerpt.

    Answers `{stage, attempt, excerpt, start, length}`: `excerpt[start:start + length]` is the match.
    """
    if not needle:
        return None
    # A regex on the text itself, not `find` in a lowercased copy: lowercasing can lengthen a
    # character ("İ"), which would shift every position after it.
    pattern = re.compile(re.escape(needle), re.IGNORECASE)
    for stage in stages:
        for text in _fields(stage):
            m = pattern.search(text)
            if m is None:
                continue
            at, end = m.span()
            lo, hi = max(0, at - EXCERPT_SIDE), min(len(text), end + EXCERPT_SIDE)
            before = ("…" if lo else "") + _one_line(text[lo:at]).lstrip()
            hit = _one_line(text[at:end])
            after = _one_line(text[end:hi]).rstrip() + ("…" if hi < len(text) else "")
            return {
                "stage": stage.get("stage"),
                "attempt": stage.get("attempt"),
                "excerpt": before + hit + after,
                "start": len(before),
                "length": len(hit),
            }
    return None
