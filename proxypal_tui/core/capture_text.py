"""A request's capture (GET /v0/requests/{id}/capture) as lines for the four-stage view, and search in it.

Pure functions over the engine's JSON: a stage's header lines, then its body as pretty JSON or
one SSE event per line; no Textual here, so the TUI's tests can check the text directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

STAGE_TITLES = {
    "client_request": "Client request",
    "upstream_request": "Upstream request",
    "upstream_response": "Upstream response",
    "client_response": "Client response",
}
STAGE_ORDER = tuple(STAGE_TITLES)


def _body_lines(stage: dict[str, Any]) -> list[str]:
    if "json" in stage:
        return json.dumps(stage["json"], indent=2, ensure_ascii=False).splitlines()
    if "events" in stage:
        out = []
        for ev in stage["events"]:
            data = json.dumps(ev["json"], ensure_ascii=False) if "json" in ev else str(ev.get("data", ""))
            out.append((f"{ev['event']}: " if ev.get("event") else "") + data)
        return out
    return str(stage.get("body") or "").splitlines()


def stage_lines(stage: dict[str, Any], headers: bool = True) -> list[str]:
    """Where it went (method and URL, or status), its headers, a truncation note, then the body."""
    out = []
    if stage.get("method"):
        out.append(f"{stage['method']} {stage.get('url', '')}")
    if stage.get("status"):
        out.append(f"status {stage['status']}")
    if headers:
        out += [f"{k}: {v}" for k, v in (stage.get("headers") or {}).items()]
    if stage.get("truncated"):
        out.append(f"[truncated: {stage.get('truncated_note') or 'past the recorder caps'}]")
    out.append("")
    return out + _body_lines(stage)


def stages_named(doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [s for s in doc.get("stages") or [] if s.get("stage") == name]


def stage_text(doc: dict[str, Any], name: str, headers: bool = True) -> str:
    """Every stage of that name (one per attempt for the upstream ones), one after another."""
    parts = []
    for st in stages_named(doc, name):
        lines = stage_lines(st, headers)
        if st.get("attempt") and name.startswith("upstream"):
            lines.insert(0, f"— attempt {st['attempt']} —")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) if parts else "(not captured)"


def capture_title(doc: dict[str, Any]) -> str:
    m = doc.get("meta") or {}
    head = f"{doc.get('id', '')}  status {m.get('status')}  {m.get('dialect_in')} → {m.get('dialect_out') or '?'}"
    route = f"{m.get('model_requested')} → {m.get('provider') or '?'}/{m.get('model') or '?'}"
    kept = f"kept: {m.get('reason')}" + (f"  attempts {m['attempts']}" if m.get("attempts", 1) > 1 else "")
    return f"{head}   {route}   {kept}"


@dataclass(frozen=True)
class SearchHit:
    stage: str
    line: int
    text: str


def search(doc: dict[str, Any], needle: str, limit: int = 200) -> list[SearchHit]:
    """Lines of any stage containing `needle` (case-insensitive), in stage order."""
    if not needle:
        return []
    low = needle.lower()
    hits = []
    for name in STAGE_ORDER:
        for i, line in enumerate(stage_text(doc, name).splitlines()):
            if low in line.lower():
                hits.append(SearchHit(name, i, line))
                if len(hits) >= limit:
                    return hits
    return hits
