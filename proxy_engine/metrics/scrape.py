"""`GET /metrics`: the request counters plus gauges read at scrape time.

Guarded like `/v0` (loopback unless `management.allow_remote`, and the management key) unless
`metrics: {open: true}`. Gauges: requests in flight, ledger rows not yet stored, live cooldowns per
provider, and each credential's quota windows (`proxy_engine/quota/`: used percent, exhausted).
"""

from __future__ import annotations

import time

from aiohttp import web

from proxy_engine.members.roles import require_admin
from proxy_engine.metrics.registry import BoundedLabel
from proxy_engine.state import ENGINE, RunningEngine


async def _gauges(state: RunningEngine) -> bytes:
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    from proxy_engine.quota.report import engine_quota

    r = CollectorRegistry()
    Gauge("proxypal_in_flight_requests", "Model requests being served", registry=r).set(state.stats.in_flight)
    Gauge("proxypal_ledger_backlog_rows", "Finished requests not yet in the ledger database",
          registry=r).set(state.ledger.health().get("backlog", 0))  # fmt: skip
    cooling = Gauge("proxypal_credential_cooldowns", "Credential/model pairs cooling down", ("provider",), registry=r)
    now = time.time()
    if state.credentials.cooldowns is not None:
        counts: dict[str, int] = {}
        for c in state.credentials.cooldowns.list(now=now):
            counts[c.provider] = counts.get(c.provider, 0) + 1
        for provider in state.runtime.providers:
            cooling.labels(provider).set(counts.get(provider, 0))
    used = Gauge("proxypal_quota_used_percent", "Use of a credential's quota window (0-100)",
                 ("provider", "credential", "window"), registry=r)  # fmt: skip
    out = Gauge("proxypal_quota_exhausted", "1 when a credential's quota window is used up",
                ("provider", "credential", "window"), registry=r)  # fmt: skip
    bound = BoundedLabel(500)
    report = await engine_quota(state.credentials)
    for cred in report["credentials"]:
        for w in cred.get("windows") or ():
            labels = (cred["provider"], bound(cred["credential"]), str(w.get("name")))
            if w.get("used_percent") is not None:
                used.labels(*labels).set(float(w["used_percent"]))
            out.labels(*labels).set(1.0 if w.get("exhausted") else 0.0)
    return generate_latest(r)


async def metrics(request: web.Request) -> web.Response:
    state = request.app[ENGINE]
    if not state.runtime.config.metrics.open:
        require_admin(request)
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest  # loaded by the first scrape

    state.metrics.drain()
    body = generate_latest(state.metrics.registry) + await _gauges(state)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
