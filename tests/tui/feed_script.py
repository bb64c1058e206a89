"""Deterministic traffic for the TUI tests: fixed times, fixed numbers, no randomness."""

from __future__ import annotations

from typing import Any

from tests.tui.capture_script import CAPTURE, REPLAY
from tests.tui.standin import Script

FIXED_NOW = 1_760_000_000.0  # 2025-10-09 08:53:20 UTC (tests run with TZ=UTC)
SNAP_PORT = 28317  # below the ephemeral range, so nothing random takes it

PROVIDERS = (
    ("anthropic", "Smart", "claude-opus-4-5"),
    ("openai", "gpt-4o", "gpt-4o"),
    ("gemini", "Rush", "gemini-2.5-flash"),
    ("anthropic", "Rush", "claude-haiku-4-5"),
)
CLIENTS = ("laptop", "ci", "desk")
STATUSES = (200, 200, 200, 200, 200, 200, 429, 200, 200, 502, 200, 499)
# Agent sessions: (agent, session id); every fifth request names none (a plain SDK call).
SESSIONS = (
    ("claude-code", "3f1c9a2e-7b4d-4e8a-9c1f-2d6b8e0a4c71"),
    ("codex", "019a9544-7ab1-73c1-837e-1fa681f4462b"),
    ("opencode", "ses_6b2f0c9d1e3aK7pQ2rS8tU4vW"),
    ("claude-code", "a7d0e5b3-2c9f-4b1e-8d6a-5f3c1e9b7a20"),
)

CONFIG_TEXT = f"""\
# ProxyPal config used by the TUI tests.
port: {SNAP_PORT}
host: 127.0.0.1
providers:
  anthropic: {{api_key: keyring:anthropic}}
  openai: {{api_key: env:OPENAI_API_KEY}}
  gemini: {{api_key: keyring:gemini}}
  claude: {{kind: anthropic, auth: oauth}}
models:
  Smart: {{anthropic: claude-opus-4-5, gemini: gemini-2.5-pro}}
  Rush: {{anthropic: claude-haiku-4-5, gemini: gemini-2.5-flash}}
budgets: {{daily_usd: 50, monthly_usd: 400}}
"""


def record(i: int, now: float = FIXED_NOW, status: int | None = None) -> dict[str, Any]:
    provider, requested, model = PROVIDERS[i % len(PROVIDERS)]
    st = STATUSES[i % len(STATUSES)] if status is None else status
    ok = 200 <= st < 400
    latency = 400 + (i * 137) % 2600
    tokens_in = 900 + (i * 811) % 9000
    tokens_out = (120 + (i * 97) % 1400) if ok else 0
    error = None
    if st == 429:
        error = {"code": "rate_limited", "message": "upstream 429: slow down (retry after 20s)"}
    elif st == 502:
        error = {"code": "upstream_error", "message": "upstream closed the connection"}
    elif st == 500:
        error = {"code": "upstream_error", "message": "upstream answered 500: internal server error"}
    elif st == 499:
        error = {"code": "client_closed", "message": "the client went away"}
    agent, session = SESSIONS[(i // 3) % len(SESSIONS)] if i % 5 != 4 else ("openai-sdk", None)
    return {
        "id": f"req-{i:04d}",
        "ts_start": now - 3000 + i * 61,
        "client": CLIENTS[i % len(CLIENTS)],
        "agent": agent,
        "session": session,
        "dialect_in": "anthropic" if provider == "anthropic" else "openai_chat",
        "dialect_out": "anthropic"
        if provider == "anthropic"
        else ("gemini" if provider == "gemini" else "openai_chat"),
        "model_requested": requested,
        "provider": provider,
        "model": model,
        "stream": i % 3 != 0,
        "status": st,
        "latency_ms": float(latency),
        "ttfb_ms": float(latency // 4) if ok else None,
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "cache_read_tokens": (i * 53) % 400,
        "cache_write_tokens": 0,
        "cost_usd": round(tokens_in * 3e-6 + tokens_out * 15e-6, 6) if provider != "gemini" else None,
        "attempts": 2 if st == 429 else 1,
        "error": error,
    }


def stats_for(records: list[dict[str, Any]], now: float = FIXED_NOW) -> dict[str, Any]:
    by_provider: dict[str, int] = {}
    by_model: dict[str, int] = {}
    per_minute: dict[int, list[float]] = {}
    for r in records:
        by_provider[r["provider"]] = by_provider.get(r["provider"], 0) + 1
        by_model[r["model"]] = by_model.get(r["model"], 0) + 1
        minute = int(r["ts_start"]) // 60 * 60
        row = per_minute.setdefault(minute, [0, 0, 0.0])
        row[0] += 1
        row[1] += r["input_tokens"] + r["output_tokens"]
        row[2] += r["cost_usd"] or 0.0
    errors = sum(1 for r in records if r["status"] >= 400)
    lat = sorted(r["latency_ms"] for r in records)
    return {
        "requests": len(records),
        "errors": errors,
        "in_flight": 0,
        "input_tokens": sum(r["input_tokens"] for r in records),
        "output_tokens": sum(r["output_tokens"] for r in records),
        "cost_usd": round(sum(r["cost_usd"] or 0 for r in records), 4),
        "avg_latency_ms": sum(lat) / len(lat) if lat else None,
        "p95_latency_ms": lat[int(0.95 * (len(lat) - 1))] if lat else None,
        "error_rate": errors / len(records) if records else 0.0,
        "by_provider": by_provider,
        "by_model": by_model,
        "per_minute": [[m, int(v[0]), int(v[1]), round(v[2], 6)] for m, v in sorted(per_minute.items())],
        "since": now - 754,
    }


def demo_script(n: int = 40, now: float = FIXED_NOW) -> Script:
    recent = [record(i, now) for i in range(n)]
    day_rows = [
        {
            "key": f"2025-10-{d:02d}",
            "requests": 300 + d * 7,
            "errors": 9,
            "input_tokens": 900_000 + d * 1000,
            "output_tokens": 120_000,
            "cache_read_tokens": 0,
            "cache_write_tokens": 0,
            "cost_usd": 4.5 + d,
            "priced_requests": 290,
            "avg_latency_ms": 1500.0,
        }
        for d in range(1, 9)
    ]
    day_rows.append(
        {
            "key": "2025-10-09",
            "requests": 412,
            "errors": 17,
            "input_tokens": 1_234_000,
            "output_tokens": 210_500,
            "cache_read_tokens": 40_000,
            "cache_write_tokens": 0,
            "cost_usd": 18.42,
            "priced_requests": 380,
            "avg_latency_ms": 1710.0,
        }
    )
    hour_rows = [
        {
            "key": int(now) // 3600 * 3600 - 3600 * h,
            "requests": 20 + (h * 7) % 30,
            "errors": 1,
            "input_tokens": 50_000,
            "output_tokens": 9000,
            "cache_read_tokens": 0,
            "cache_write_tokens": 0,
            "cost_usd": round(0.4 + ((h * 37) % 19) / 10, 2),
            "priced_requests": 20,
            "avg_latency_ms": 1500.0,
        }
        for h in range(0, 24)
    ]
    providers = demo_providers(now)
    history_rows = [
        {"period": f"2025-10-{d:02d}", "name": name, "requests": n + d * 9, "errors": d % 3,
         "success_rate": 1 - (d % 3) / (n + d * 9), "input_tokens": 40_000 * d, "output_tokens": 6_000 * d,
         "cost_usd": round(cost * d, 4), "p95_latency_ms": 900.0 + 100 * d}
        for d in range(1, 8)
        for name, n, cost in (("claude", 120, 0.9), ("openai", 80, 0.4), ("gemini", 40, 0.00003))
    ]  # fmt: skip
    return Script(
        recent=recent,
        stats=stats_for(recent, now),
        day_rows=day_rows,
        hour_rows=hour_rows,
        history_rows=history_rows,
        providers=providers,
        store=dict(STORE),
        ts=now,
        captures={"req-0041": CAPTURE},
        replay=REPLAY,
    )


STORE = {
    "backend": "encrypted file (passphrase via scrypt)",
    "notice": "encrypted file chosen by PROXYPAL_SECRET_BACKEND=file",
    "error": None,
}


def credential(cid: str, ctype: str, state: str, source: str, **extra: Any) -> dict[str, Any]:
    """One credential as `/v0/auth/status` lists it."""
    base = {"id": cid, "type": ctype, "state": state, "source": source, "label": cid, "priority": 0,
            "message": "", "expires_at": None, "cooldowns": []}  # fmt: skip
    return {**base, **extra}


def demo_providers(now: float = FIXED_NOW) -> list[dict[str, Any]]:
    """The engine's view after `live_events()`: an expiring login, a rejected key, a cooling key."""
    return [
        {
            "name": "anthropic",
            "kind": "anthropic",
            "base_url": "https://api.anthropic.com",
            "strategy": "round-robin",
            "login": None,
            "credentials": [credential("keyring:anthropic", "api_key", "valid", "keyring:anthropic")],
        },
        {
            "name": "claude",
            "kind": "anthropic",
            "base_url": "https://api.anthropic.com",
            "strategy": "round-robin",
            "login": "claude",
            "credentials": [
                credential(
                    "ann@example.com",
                    "oauth",
                    "expiring",
                    "login:claude",
                    expires_at=now + 540,
                    message="refreshing in 4 min",
                )
            ],
        },
        {
            "name": "gemini",
            "kind": "gemini",
            "base_url": "https://generativelanguage.googleapis.com",
            "strategy": "round-robin",
            "login": None,
            "credentials": [
                credential("keyring:gemini", "api_key", "error", "keyring:gemini", message="401 from upstream")
            ],
        },
        {
            "name": "openai",
            "kind": "openai",
            "base_url": "https://api.openai.com/v1",
            "strategy": "round-robin",
            "login": None,
            "credentials": [
                credential(
                    "env:OPENAI_API_KEY",
                    "api_key",
                    "cooling",
                    "env:OPENAI_API_KEY",
                    cooldowns=[
                        {"model": "gpt-4o", "until": now + 45, "reason": "rate limited", "status": 429},
                        {"model": "gpt-4o-mini", "until": now + 300, "reason": "server error", "status": 503},
                    ],
                )
            ],
        },
    ]


def live_events(now: float = FIXED_NOW) -> list[tuple[str, dict[str, Any]]]:
    """What arrives after hello: one request in flight, two finished, logs, an auth change, a cooldown."""
    finished = [record(40, now), record(41, now, status=500)]
    everything = [record(i, now) for i in range(40)] + finished
    return [
        (
            "request.started",
            {
                "id": "req-0099",
                "client": "laptop",
                "dialect_in": "anthropic",
                "model_requested": "Smart",
                "provider": "anthropic",
                "model": "claude-opus-4-5",
                "stream": True,
                "ts": now - 2,
            },
        ),
        ("request.finished", finished[0]),
        ("request.finished", finished[1]),
        ("log", {"level": "info", "logger": "proxy_engine.server", "message": "listening on 127.0.0.1:8317"}),
        (
            "log",
            {"level": "warning", "logger": "proxy_engine.routing", "message": "gemini: key rejected (401)"},
        ),
        (
            "log",
            {"level": "error", "logger": "proxy_engine.upstream", "message": "openai: 500 from upstream"},
        ),
        ("log", {"level": "debug", "logger": "proxy_engine.events", "message": "subscriber connected"}),
        ("stats", stats_for(everything, now)),
        (
            "auth.changed",
            {
                "provider": "gemini",
                "credential": "keyring:gemini",
                "state": "error",
                "message": "401 from upstream",
            },
        ),
        (
            "credential.cooldown",
            {
                "provider": "openai",
                "credential": "env:OPENAI_API_KEY",
                "model": "gpt-4o",
                "until": now + 45,
                "reason": "rate limited",
            },
        ),
    ]
