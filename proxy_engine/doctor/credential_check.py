"""Each credential's state and cooldowns: from the running engine's `/v0/auth/status`, else from the
cooldown table it keeps in the ledger file (so a stopped engine's cooldowns are still shown)."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from proxy_engine.config import Config
from proxy_engine.doctor.engine_client import EngineView
from proxy_engine.doctor.findings import FAIL, NOTE, OK, Finding
from proxy_engine.paths import Paths

_BAD_STATES = {"error": "its login cannot be used", "expired": "its login expired", "missing": "it is missing"}


def _left(until: float, now: float) -> str:
    s = max(0, int(until - now))
    return f"{s // 60} min {s % 60} s" if s >= 60 else f"{s} s"


def _cooling(provider: str, cred: str, cools: list[dict[str, Any]], now: float) -> Finding:
    parts = [
        f"{c.get('model') or 'all models'}: {c.get('reason')} (HTTP {c.get('status')}), "
        f"{_left(float(c.get('until') or 0), now)} left"
        for c in cools
    ]
    return Finding(
        "credential",
        f"{provider}/{cred}",
        FAIL,
        "cooling down: " + "; ".join(parts),
        f"wait, or clear it once the cause is fixed: Providers screen `x`, or "
        f"`proxypal-engine auth cooldowns --clear --provider {provider} --credential {cred}`",
    )


def from_engine(auth: dict[str, Any]) -> list[Finding]:
    now = float(auth.get("now") or time.time())
    found = []
    for p in auth.get("providers") or []:
        for c in p.get("credentials") or []:
            cools = [x for x in c.get("cooldowns") or [] if float(x.get("until") or 0) > now]
            subject = f"{p.get('name')}/{c.get('id')}"
            state = c.get("state", "")
            if state in _BAD_STATES:
                found.append(
                    Finding(
                        "credential",
                        subject,
                        FAIL,
                        f"{_BAD_STATES[state]}: {c.get('message', '')}",
                        c.get("message") or f"log in again: `proxypal-engine login {p.get('name')}`",
                    )
                )
            elif cools:
                found.append(_cooling(str(p.get("name")), str(c.get("id")), cools, now))
            else:
                found.append(Finding("credential", subject, OK, f"{state or 'valid'} ({c.get('type')})"))
    return found


def from_ledger(cfg: Config, paths: Paths) -> list[Finding]:
    """No engine runs: the cooldowns it left (they survive restarts) for the providers still configured."""
    db = paths.ledger_file
    if not db.exists():
        return [Finding("credential", "cooldowns", NOTE, "no engine runs and none has recorded cooldowns yet")]
    try:
        conn = sqlite3.connect(db, timeout=5.0)
        try:
            conn.execute("PRAGMA query_only=ON")
            rows = conn.execute(
                "SELECT provider, credential, model, until, reason, status FROM credential_cooldowns WHERE until > ?",
                (time.time(),),
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.Error as e:
        if "no such table" in str(e):
            rows = []
        else:
            return [
                Finding(
                    "credential",
                    "cooldowns",
                    FAIL,
                    f"cannot read {db}: {e}",
                    "check the file's permissions; the engine keeps cooldowns and usage there",
                )
            ]
    now = time.time()
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for provider, cred, model, until, reason, status in rows:
        if provider in cfg.providers:
            grouped.setdefault((provider, cred), []).append(
                {"model": model, "until": until, "reason": reason, "status": status}
            )
    if not grouped:
        return [Finding("credential", "cooldowns", OK, "no credential is cooling down (read from the ledger)")]
    return [_cooling(p, c, cools, now) for (p, c), cools in sorted(grouped.items())]


def check_credentials(cfg: Config, paths: Paths, engine: EngineView) -> list[Finding]:
    if engine.answered and engine.auth:
        return from_engine(engine.auth)
    return from_ledger(cfg, paths)
