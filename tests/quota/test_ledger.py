"""The quota ledger: readings stored in SQLite across restarts, events only on change, alerts once,
estimates between observations, and windows past their reset shown as reset."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from proxy_engine.protocol import CredentialCooldown, QuotaAlert, QuotaUpdated
from proxy_engine.quota import store
from proxy_engine.quota.ledger import QuotaLedger, quota_report
from proxy_engine.quota.report import format_table
from proxy_engine.usage.tokens import Usage
from tests.fakes import quota_headers as qh

NOW = 1_790_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def h(d: dict[str, str]) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict(d))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "usage.db"


async def test_readings_survive_a_restart_in_a_private_file(db: Path) -> None:
    events: list = []
    ledger = QuotaLedger(events.append, Clock())
    await ledger.open(db)
    assert ledger.observe("claude", "ann", h(qh.anthropic_unified(0.63, 0.2, NOW + 3600, NOW + 86400)))
    await ledger.close()
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600 and stat.S_IMODE(os.stat(db.parent).st_mode) == 0o700
    again = QuotaLedger(events.append, Clock())
    await again.open(db)
    report = quota_report(await again.snapshot(), NOW + 60)
    (cred,) = report["credentials"]
    assert (cred["provider"], cred["credential"]) == ("claude", "ann")
    assert [(w["name"], w["used_percent"], w["source"]) for w in cred["windows"]] == [
        ("5h", 63.0, "observed"),
        ("7d", 20.0, "observed"),
    ]
    assert cred["windows"][0]["resets_at"] == NOW + 3600 and cred["windows"][0]["observed_at"] == NOW


async def test_a_window_past_its_reset_shows_as_reset(db: Path) -> None:
    ledger = QuotaLedger(lambda e: None, Clock())
    await ledger.open(db)
    ledger.observe("claude", "ann", h(qh.anthropic_unified(0.97, 0.2, NOW + 600, NOW + 86400)))
    later = quota_report(ledger.windows(), NOW + 601)["credentials"][0]["windows"]
    five = next(w for w in later if w["name"] == "5h")
    assert (five["used_percent"], five["source"], five["exhausted"]) == (0.0, "reset", False)
    await ledger.close()


async def test_updated_only_when_a_value_changes_and_alerts_once_per_threshold(db: Path) -> None:
    events: list = []
    clock = Clock()
    ledger = QuotaLedger(events.append, clock)
    ledger.configure([80, 95])
    await ledger.open(db)
    for used in (0.5, 0.5, 0.82, 0.83, 0.96, 0.96):
        clock.now += 5
        ledger.observe("claude", "ann", h(qh.anthropic_unified(used, 0.2, NOW + 3600, NOW + 86400)))
    updates = [e for e in events if isinstance(e, QuotaUpdated)]
    alerts = [e for e in events if isinstance(e, QuotaAlert)]
    assert [next(w["used_percent"] for w in u.windows if w["name"] == "5h") for u in updates] == [50, 82, 83, 96]
    assert [(a.window, a.threshold, a.used_percent) for a in alerts] == [("5h", 80, 82), ("5h", 95, 96)]
    await ledger.close()
    # A restart does not repeat the alerts already sent for these readings.
    again_events: list = []
    again = QuotaLedger(again_events.append, clock)
    again.configure([80, 95])
    await again.open(db)
    again.observe("claude", "ann", h(qh.anthropic_unified(0.97, 0.2, NOW + 3600, NOW + 86400)))
    assert not [e for e in again_events if isinstance(e, QuotaAlert)]
    await again.close()


async def test_exhaustion_emits_a_cooldown_until_the_reset(db: Path) -> None:
    events: list = []
    ledger = QuotaLedger(events.append, Clock())
    await ledger.open(db)
    ledger.observe("codex", "bob", h(qh.codex(100, 40, NOW + 900, NOW + 86400)))
    (cool,) = [e for e in events if isinstance(e, CredentialCooldown)]
    assert (cool.credential, cool.until, cool.reason, cool.model) == ("bob", NOW + 900, "quota_exhausted", "*")
    assert ledger.blocked_until("codex", "bob", NOW + 10) == NOW + 900
    assert ledger.blocked_until("codex", "bob", NOW + 901) is None
    await ledger.close()


async def test_requests_without_headers_are_estimated_against_the_known_limit(db: Path) -> None:
    events: list = []
    ledger = QuotaLedger(events.append, Clock())
    await ledger.open(db)
    ledger.observe("openai", "env:OK", h(qh.openai_api((100, 90), (10000, 9000), "50s", "50s")))
    ledger.count("openai", "env:OK", Usage(input_tokens=700, output_tokens=300))
    windows = {w["name"]: w for w in quota_report(ledger.windows(), NOW)["credentials"][0]["windows"]}
    assert (windows["requests"]["remaining"], windows["requests"]["source"]) == (89, "estimated")
    assert (windows["tokens"]["remaining"], windows["tokens"]["used_percent"]) == (8000, 20.0)
    # The next observation replaces the estimate.
    ledger.observe("openai", "env:OK", h(qh.openai_api((100, 95), (10000, 9500), "50s", "50s")))
    assert {w.name: w.source for w in ledger.windows()} == {"requests": "observed", "tokens": "observed"}
    await ledger.close()
    stored = {w.name: w.remaining for w in store.read_all(db)}
    assert stored == {"requests": 95, "tokens": 9500}


def test_the_table_lists_each_window_with_bar_reset_and_source() -> None:
    report = {
        "credentials": [
            {"provider": "claude", "credential": "ann", "windows": [
                {"name": "5h", "used_percent": 63.0, "resets_at": NOW + 3600, "observed_at": NOW - 40,
                 "source": "observed"},
                {"name": "7d", "used_percent": 20.0, "resets_at": NOW + 3 * 86400, "observed_at": NOW - 40,
                 "source": "estimated"}]},
            {"provider": "openai", "credential": "env:OK", "windows": []},
        ]
    }  # fmt: skip
    lines = format_table(report, NOW).splitlines()
    assert lines[0].split() == ["PROVIDER", "CREDENTIAL", "WINDOW", "USED", "RESETS", "SOURCE", "SEEN"]
    assert "claude" in lines[1] and "5h" in lines[1] and "63%" in lines[1]
    assert "▇▇▇▇▇▇▇▁▁▁" in lines[1] and "(in 1h00m)" in lines[1] and "observed" in lines[1] and "40s ago" in lines[1]
    assert "estimated" in lines[2] and "(in 3d0h)" in lines[2]
    assert "no reading yet" in lines[3]


async def test_another_worker_routes_by_what_this_one_read(db: Path) -> None:
    """Under `serve --workers N` each worker keeps its own ledger on one file; refresh takes the others'."""
    one_events: list = []
    other_events: list = []
    one, other = QuotaLedger(one_events.append, Clock()), QuotaLedger(other_events.append, Clock())
    await one.open(db)
    await other.open(db)
    one.observe("codex", "bob", h(qh.codex(100, 40, NOW + 900, NOW + 86400)))
    await one.flush()
    assert other.blocked_until("codex", "bob", NOW) is None
    await other.refresh()
    assert other.blocked_until("codex", "bob", NOW) == NOW + 900
    assert other_events == [] and one_events, "only the worker that read it tells the bus"
    await one.close()
    await other.close()
