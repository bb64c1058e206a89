"""Send a captured client request through this proxy again, optionally to another model or provider.

The request goes over loopback to the engine's own port, so it takes the whole request path
(auth, routing, translation, failover, its own record and capture) like any client's call.
Credentials were never captured: the replay presents the captured client's key from the live
runtime (or none, when the proxy needs none).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from proxy_engine.recorder.capture import CLIENT_REQUEST, CLIENT_RESPONSE
from proxy_engine.recorder.redaction import SECRET_HEADERS
from proxy_engine.recorder.reply_summary import ReplySummary, diff, summarize
from proxy_engine.request_path.headers import CLIENT_ORIGIN, HOP_BY_HOP
from proxy_engine.request_path.redaction import REDACTED
from proxy_engine.runtime import Runtime

_GEMINI_MODEL = re.compile(r"(/models/)(.+)(:[A-Za-z]+)$")  # the model may hold a slash: models/openai/gpt-4o:m
_DROPPED = HOP_BY_HOP | CLIENT_ORIGIN | SECRET_HEADERS | {"content-length", "accept-encoding", "content-encoding"}
REPLAY_HEADER = "X-ProxyPal-Replay-Of"


class ReplayRefused(ValueError):
    """The capture cannot be replayed (no client request, a body that was cut)."""


@dataclass(slots=True)
class ReplayPlan:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    dialect: str


def plan_replay(doc: dict[str, Any], runtime: Runtime, model: str | None, provider: str | None) -> ReplayPlan:
    """The request to send: the captured one, with the model (and provider) swapped when asked."""
    stage = next((s for s in doc["stages"] if s["stage"] == CLIENT_REQUEST), None)
    if stage is None or not stage.get("body"):
        raise ReplayRefused("this capture has no client request body to replay")
    if stage.get("truncated"):
        raise ReplayRefused("the captured client request was truncated by the recorder caps; it cannot be replayed")
    meta = doc["meta"]
    dialect = meta.get("dialect_in") or ""
    path = stage.get("url") or ""
    try:
        body = json.loads(stage["body"])
    except ValueError:
        raise ReplayRefused("the captured client request body is not JSON") from None
    target = model
    if provider:
        target = f"{provider}/{model or meta.get('model') or meta.get('model_requested')}"
    if target:
        if _GEMINI_MODEL.search(path) and dialect == "gemini":
            path = _GEMINI_MODEL.sub(lambda m: m.group(1) + target + m.group(3), path)
        elif isinstance(body, dict):
            body["model"] = target
    headers = {k: v for k, v in (stage.get("headers") or {}).items() if k.lower() not in _DROPPED}
    key = _client_key(runtime, meta.get("client"))
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    headers[REPLAY_HEADER] = doc["id"]
    query = {k: v for k, v in (stage.get("query") or {}).items() if v != REDACTED}
    return ReplayPlan(stage.get("method") or "POST", path, query, headers, json.dumps(body).encode(), dialect)


def _client_key(runtime: Runtime, client: str | None) -> str | None:
    if not runtime.keys_required or not runtime.client_keys:
        return None
    for name, secret in runtime.client_keys:
        if name == client:
            return secret.decode()
    return runtime.client_keys[0][1].decode()


REPLY_MAX = 8 << 20  # the most of a replayed reply kept for the summary; the rest still streams


@dataclass(slots=True)
class ReplayOutcome:
    request_id: str | None
    status: int
    summary: ReplySummary


class ReplayCall:
    """One replay in flight: stream it with `stream`, then read `outcome`."""

    def __init__(self, plan: ReplayPlan) -> None:
        self.plan = plan
        self.status = 0
        self.request_id: str | None = None
        self._chunks: list[bytes] = []
        self._kept = 0

    async def stream(self, session: aiohttp.ClientSession, base_url: str) -> AsyncIterator[bytes]:
        """The reply's bytes as they arrive; `status` and `request_id` are set before the first one."""
        p = self.plan
        async with session.request(
            p.method, base_url + p.path, params=p.query, headers=p.headers, data=p.body, allow_redirects=False
        ) as resp:
            self.status, self.request_id = resp.status, resp.headers.get("X-ProxyPal-Request-Id")
            async for chunk in resp.content.iter_any():
                if self._kept < REPLY_MAX:
                    self._chunks.append(chunk)
                    self._kept += len(chunk)
                yield chunk

    def outcome(self) -> ReplayOutcome:
        body = b"".join(self._chunks).decode("utf-8", "replace")
        return ReplayOutcome(self.request_id, self.status, summarize(self.plan.dialect, self.status, body))


def original_summary(doc: dict[str, Any]) -> ReplySummary:
    stage = next((s for s in reversed(doc["stages"]) if s["stage"] == CLIENT_RESPONSE), None)
    status = int(doc["meta"].get("status") or 0)
    if stage is None:
        return ReplySummary(status, error="no client response was captured")
    return summarize(doc["meta"].get("dialect_in") or "", stage.get("status") or status, stage.get("body") or "")


def replay_diff(doc: dict[str, Any], replay: ReplayOutcome) -> dict[str, Any]:
    return diff(original_summary(doc), replay.summary)
