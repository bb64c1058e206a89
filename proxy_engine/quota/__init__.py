"""Subscription and rate-limit quota, read passively from upstream replies.

- `window`: one window's reading (`QuotaWindow`), its reset and exhaustion rules.
- `headers`: the readers per header family (Anthropic unified and API limits, Codex, OpenAI, Copilot).
- `error_bodies`: Gemini's 429 `QuotaFailure` / `RetryInfo`.
- `estimator`: requests and tokens counted against a known limit between observations.
- `headroom`: the numbers routing uses (headroom, highest use, blocked until).
- `alerts`: `quota.alert` thresholds.
- `store`: the `quota_windows` table in the ledger's SQLite file.
- `ledger`: `QuotaLedger`, the engine's one instance, and the `/v0/quota` report.
- `report`: `proxypal-engine quota`.
"""

from __future__ import annotations

from proxy_engine.quota.window import ESTIMATED, OBSERVED, RESET, QuotaWindow

__all__ = ["ESTIMATED", "OBSERVED", "RESET", "QuotaWindow"]
