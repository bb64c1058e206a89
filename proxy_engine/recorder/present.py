"""A stored stage made readable: its body parsed as JSON, or split into SSE events, one per entry."""

from __future__ import annotations

import json
from typing import Any


def sse_events(text: str) -> list[dict[str, str]]:
    """`event`/`data` of each SSE event in `text`, in order (comments and empty blocks skipped).

    As the WHATWG event-stream rules say: a line ends in CRLF, LF or CR, a blank line ends an event,
    one space after the colon is dropped, and data lines join with newlines.
    """
    events = []
    for block in text.replace("\r\n", "\n").replace("\r", "\n").split("\n\n"):
        name, data = "", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data or name:
            events.append({"event": name, "data": "\n".join(data)} if name else {"data": "\n".join(data)})
    return events


def _content_type(stage: dict[str, Any]) -> str:
    for k, v in (stage.get("headers") or {}).items():
        if k.lower() == "content-type":
            return v.lower()
    return ""


def body_kind(stage: dict[str, Any]) -> str:
    """ "sse", "json" or "text", from the content type and what the body looks like."""
    body = stage.get("body") or ""
    if "event-stream" in _content_type(stage) or body.startswith(("data:", "event:")):
        return "sse"
    if body[:1] in ("{", "["):
        return "json"
    return "text"


def present_stage(stage: dict[str, Any]) -> dict[str, Any]:
    """The stage with `kind` and, where it parses, `json` (the body) or `events` (SSE, data parsed when JSON)."""
    out = dict(stage)
    kind = out["kind"] = body_kind(stage)
    body = stage.get("body") or ""
    if kind == "json":
        try:
            out["json"] = json.loads(body)
        except ValueError:
            out["kind"] = "text"  # a truncated body no longer parses; shown as it is
    elif kind == "sse":
        events = []
        for ev in sse_events(body):
            try:
                events.append({**ev, "json": json.loads(ev["data"])})
            except ValueError:
                events.append(ev)  # an event whose data is not JSON is shown as text
        out["events"] = events
    return out


def present(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "stages": [present_stage(s) for s in doc["stages"]]}


def readable(doc: dict[str, Any]) -> str:
    """The whole capture as text for a terminal: a header per stage, pretty JSON, SSE events one per line."""
    meta = doc["meta"]
    lines = [
        f"request {doc['id']}  status {meta.get('status')}  {meta.get('dialect_in')} -> {meta.get('dialect_out')}  "
        f"{meta.get('model_requested')} -> {meta.get('provider')}/{meta.get('model')}  kept: {meta.get('reason')}"
    ]
    if meta.get("error_code"):
        lines.append(f"error {meta['error_code']}: {meta.get('error_message', '')}")
    for st in doc["stages"]:
        st = present_stage(st)
        title = st["stage"] + (f" (attempt {st['attempt']})" if st.get("attempt") else "")
        lines += ["", f"== {title} =="]
        if st.get("method"):
            lines.append(f"{st['method']} {st['url']}")
            if st.get("query"):
                lines.append("query: " + json.dumps(st["query"]))
        if st.get("status"):
            lines.append(f"status {st['status']}")
        lines += [f"{k}: {v}" for k, v in (st.get("headers") or {}).items()]
        if st.get("truncated"):
            lines.append(f"[truncated: {st.get('truncated_note', '')}]")
        lines.append("")
        if "json" in st:
            lines.append(json.dumps(st["json"], indent=2, ensure_ascii=False))
        elif "events" in st:
            for ev in st["events"]:
                data = json.dumps(ev["json"], ensure_ascii=False) if "json" in ev else ev["data"]
                lines.append((f"{ev['event']}: " if ev.get("event") else "") + data)
        else:
            lines.append(st.get("body") or "")
    return "\n".join(lines) + "\n"
