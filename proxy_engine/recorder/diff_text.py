"""A replay's diff as text for a terminal or the TUI: status, text, tool calls, usage, error."""

from __future__ import annotations

import difflib
import json
from typing import Any

_FIELDS = ("status", "text", "tool_calls", "usage", "error")


def _lines(value: Any) -> list[str]:  # noqa: ANN401 - a summary field: str, int, list or dict
    if isinstance(value, str):
        return value.splitlines() or [""]
    return json.dumps(value, indent=1, ensure_ascii=False).splitlines()


def render_diff(diff: dict[str, Any]) -> str:
    """One section per field; a changed one shows `-` original and `+` replay lines."""
    out = []
    for name in _FIELDS:
        entry = diff.get(name)
        if entry is None:
            continue
        if entry["same"]:
            out.append(f"{name}: same ({_short(entry['original'])})")
            continue
        out.append(f"{name}: changed")
        before, after = _lines(entry["original"]), _lines(entry["replay"])
        for line in difflib.unified_diff(before, after, "original", "replay", lineterm="", n=2):
            if not line.startswith(("---", "+++", "@@")):
                out.append("  " + line)
    return "\n".join(out) + "\n"


def _short(value: Any) -> str:  # noqa: ANN401
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:59] + "…"
