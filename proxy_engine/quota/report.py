"""`GET /v0/quota` and `proxypal-engine quota`: every credential's windows, from the engine or its file.

The CLI asks the running engine first (its readings are the freshest, unwritten ones included);
when none answers it reads the `quota_windows` table of the ledger file directly. Either way a
window past its reset shows as reset.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proxy_engine.quota import store
from proxy_engine.quota.ledger import quota_report

if TYPE_CHECKING:
    from proxy_engine.credentials.broker import CredentialBroker


async def engine_quota(broker: CredentialBroker) -> dict[str, Any]:
    """The `/v0/quota` answer: readings of every credential, plus pooled credentials with none yet."""
    windows = await broker.quota.snapshot()
    labels = {(name, c.id): c.label for name, pool in broker.pools.items() for c in pool.credentials if c.label}
    report = quota_report(windows, time.time(), labels)
    seen = {(c["provider"], c["credential"]) for c in report["credentials"]}
    for name, pool in sorted(broker.pools.items()):
        for c in pool.credentials:
            if (name, c.id) not in seen:
                report["credentials"].append({"provider": name, "credential": c.id, "label": c.label,
                                              "windows": [], "blocked_until": None})  # fmt: skip
    return report


def run_quota_command(args: argparse.Namespace) -> int:
    """`proxypal-engine quota [--json]`: 0 with a report (possibly empty), 2 for a bad config."""
    from proxy_engine.config import ConfigError, load_config
    from proxy_engine.paths import resolve_paths

    paths = resolve_paths(args.config)
    try:
        cfg = load_config(paths.config_file).config
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 2
    report, origin = _from_engine(paths.management_key_file, cfg.host, cfg.port)
    if report is None:
        report = quota_report(store.read_all(paths.ledger_file), time.time())
        origin = f"from {paths.ledger_file} (no engine answers on port {cfg.port})"
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(origin)
        print(format_table(report))
    return 0


def _from_engine(key_file: Path, host: str, port: int) -> tuple[dict[str, Any] | None, str]:
    host = "127.0.0.1" if host in ("0.0.0.0", "", "localhost") else host
    host = "[::1]" if host == "::" else (f"[{host}]" if ":" in host else host)
    try:
        key = key_file.read_text(encoding="utf-8").strip()
    except OSError:
        return None, ""
    request = urllib.request.Request(f"http://{host}:{port}/v0/quota", headers={"Authorization": f"Bearer {key}"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the key never goes to a proxy
    try:
        with opener.open(request, timeout=5) as answer:
            return json.loads(answer.read()), f"from the engine on {host}:{port}"
    except (urllib.error.URLError, OSError, ValueError):
        return None, ""


def format_table(report: dict[str, Any], now: float | None = None) -> str:
    """One line per window: provider, credential, window, a bar, used, reset, source and age."""
    now = time.time() if now is None else now
    rows = [("PROVIDER", "CREDENTIAL", "WINDOW", "USED", "", "RESETS", "SOURCE", "SEEN")]
    for cred in report.get("credentials", []):
        windows = cred.get("windows") or []
        if not windows:
            rows.append((cred["provider"], cred["credential"], "-", "", "", "", "no reading yet", ""))
        for w in windows:
            used = float(w.get("used_percent") or 0.0)
            rows.append((cred["provider"], cred["credential"], w["name"], f"{math.floor(used + 0.5)}%", bar(used, 10),
                         reset_text(w.get("resets_at"), now), w.get("source", ""),
                         age_text(w.get("observed_at"), now)))  # fmt: skip
    if len(rows) == 1:
        return "no quota readings yet: they come with the first replies from providers that send them"
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows)


def bar(used_percent: float, width: int) -> str:
    """`▇▇▇▇▁` for 63 % of 5: a cell is filled once a twentieth of it is used."""
    full = min(width, max(0, math.ceil(used_percent / 100.0 * width - 0.05)))
    return "▇" * full + "▁" * (width - full)


def reset_text(resets_at: float | None, now: float) -> str:
    if resets_at is None:
        return "—"
    clock = time.strftime("%H:%M", time.localtime(resets_at))
    if resets_at - now > 86400:
        clock = time.strftime("%a %H:%M", time.localtime(resets_at))
    return f"{clock} (in {span_text(resets_at - now)})" if resets_at > now else f"{clock} (reset)"


def age_text(observed_at: float | None, now: float) -> str:
    return "" if not observed_at else f"{span_text(now - observed_at)} ago"


def span_text(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600}h"
