"""A capture as a self-contained regression fixture: the client call, each upstream exchange, the answer.

Built from the stored (already redacted) capture, so it carries no secret. A test can serve
`upstream_exchanges[i].response` from a local server, send `client_request` through the proxy,
and compare what comes back with `expect` (and what the upstream got with `request`).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from proxy_engine.recorder.capture import CLIENT_REQUEST, CLIENT_RESPONSE, UPSTREAM_REQUEST, UPSTREAM_RESPONSE
from proxy_engine.recorder.present import present_stage
from proxy_engine.recorder.replay import original_summary

FIXTURE_FORMAT = "proxypal-fixture/1"
_ROUTE = ("dialect_in", "dialect_out", "provider", "provider_kind", "model_requested", "model", "stream", "status")


def _body(stage: dict[str, Any]) -> Any:  # noqa: ANN401 - wire JSON
    shown = present_stage(stage)
    return shown["json"] if "json" in shown else stage.get("body", "")


def _message(stage: dict[str, Any] | None, *, path: bool = False) -> dict[str, Any]:
    if stage is None:
        return {}
    out: dict[str, Any] = {}
    if path:
        out["method"] = stage.get("method", "POST")
        out["path"] = urlsplit(stage.get("url", "")).path
        out["query"] = stage.get("query") or {}
    if stage.get("status"):
        out["status"] = stage["status"]
    out["headers"] = stage.get("headers") or {}
    out["body"] = _body(stage) if path else stage.get("body", "")
    if stage.get("truncated"):
        out["truncated"] = True
    return out


def fixture_of(doc: dict[str, Any]) -> dict[str, Any]:
    stages = doc["stages"]
    first = {s["stage"]: s for s in reversed(stages)}
    exchanges = []
    for req in (s for s in stages if s["stage"] == UPSTREAM_REQUEST):
        resp = next((s for s in stages if s["stage"] == UPSTREAM_RESPONSE and s.get("attempt") == req["attempt"]), None)
        exchanges.append({"attempt": req["attempt"], "request": _message(req, path=True), "response": _message(resp)})
    return {
        "format": FIXTURE_FORMAT,
        "source_request_id": doc["id"],
        "captured_at": doc.get("captured_at"),
        "route": {k: doc["meta"].get(k) for k in _ROUTE},
        "client_request": _message(first.get(CLIENT_REQUEST), path=True),
        "upstream_exchanges": exchanges,
        "client_response": _message(first.get(CLIENT_RESPONSE)),
        "expect": original_summary(doc).to_dict(),
    }


def fixture_json(doc: dict[str, Any]) -> str:
    return json.dumps(fixture_of(doc), indent=2, ensure_ascii=False) + "\n"
