"""The headless core: feed, filter, pump, socket reader, metrics, config edits, settings, themes."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from proxy_engine.config import DEFAULT_CONFIG_TEXT, parse_config_text
from proxy_engine.paths import atomic_write
from proxy_engine.protocol import RequestFinished, RequestStarted, Stats, encode_event
from proxypal_tui.core import metrics
from proxypal_tui.core.configfile import (
    ConfigEditError,
    ensure_config,
    set_provider_api_key,
)
from proxypal_tui.core.events import EventPump, EventStream
from proxypal_tui.core.feed import FeedFilter, FeedRow, RequestFeed
from proxypal_tui.core.logbook import Logbook, LogLine
from proxypal_tui.core.process import port_holder, port_is_free
from proxypal_tui.core.settings import load_settings, save_theme
from proxypal_tui.themes import ThemeError, load_themes, theme_from_yaml
from tests.tui.feed_script import FIXED_NOW, record

REPO = Path(__file__).resolve().parents[2]


def finished(data: dict[str, object]) -> RequestFinished:
    return RequestFinished.from_dict(data)


def rec(i: int, **changes: object) -> FeedRow:
    data = record(i)
    data.update(changes)
    return FeedRow.from_finished(RequestFinished.from_dict(data))


def test_filter_fields_status_classes_and_free_text() -> None:
    ok, throttled, broken = rec(0), rec(6), rec(9)  # 200 anthropic, 429 gemini, 502 openai
    assert (throttled.status, broken.status) == (429, 502)
    assert FeedFilter.parse("status:4xx").matches(throttled)
    assert not FeedFilter.parse("status:4xx").matches(broken)
    assert FeedFilter.parse("status:error").matches(broken) and not FeedFilter.parse("status:error").matches(ok)
    assert FeedFilter.parse("status:ok").matches(ok)
    assert FeedFilter.parse("status:502").matches(broken)
    assert FeedFilter.parse("provider:anth").matches(ok) and not FeedFilter.parse("provider:openai").matches(ok)
    # model matches the requested name or the resolved one
    assert FeedFilter.parse("model:smart").matches(ok) and FeedFilter.parse("model:opus").matches(ok)
    # free text searches ids, clients, models and error messages; every word must match
    assert FeedFilter.parse("slow down").matches(throttled)
    assert not FeedFilter.parse("slow nothing-like-this").matches(throttled)
    assert FeedFilter.parse("provider:openai status:5xx").describe() == "provider:openai status:5xx"
    assert not FeedFilter.parse("").active
    in_flight = FeedRow.from_started(RequestStarted.from_dict({"id": "x", "ts": 1.0, "model_requested": "Smart"}))
    assert FeedFilter.parse("status:flight").matches(in_flight) and not FeedFilter.parse("status:ok").matches(in_flight)


def test_feed_is_bounded_and_moves_requests_from_flight_to_done() -> None:
    feed = RequestFeed(history=10, in_flight_max=3)
    for i in range(5):
        feed.started(RequestStarted(id=f"f{i}", ts_start=float(i)))
    assert [r.id for r in feed.newest_first()] == ["f4", "f3", "f2"]  # oldest in-flight dropped
    feed.finished(finished(record(1) | {"id": "f4"}))
    assert feed.get("f4") is not None and feed.get("f4").status == 200
    assert [r.id for r in feed.newest_first(limit=3)] == ["f3", "f2", "f4"]
    for i in range(30):
        feed.finished(finished(record(i)))
    assert len(feed) == 10 + 2  # 10 kept finished, 2 still in flight
    assert feed.newest_first(FeedFilter.parse("status:flight"))[0].id == "f3"
    v = feed.version
    feed.clear()
    assert len(feed) == 0 and feed.version > v


def test_hello_snapshot_replaces_history_in_start_order() -> None:
    feed = RequestFeed()
    feed.finished(finished(record(99)))
    feed.replace_history([finished(record(3)), finished(record(1)), finished(record(2))])
    assert [r.id for r in feed.newest_first()] == ["req-0003", "req-0002", "req-0001"]


def test_pump_keeps_one_batch_outstanding_and_drops_oldest_but_never_hello() -> None:
    delivered: list[list[dict]] = []
    pump = EventPump(delivered.append, capacity=5)
    pump.push([{"type": "log", "n": 0}])
    assert len(delivered) == 1  # delivered at once: nothing was outstanding
    pump.push([{"type": "log", "n": i} for i in range(1, 4)])
    pump.push([{"type": "hello"}, *({"type": "log", "n": i} for i in range(4, 8))])
    assert len(delivered) == 1  # the UI has not finished the first batch: the rest waits
    pump.done()
    assert len(delivered) == 2
    second = delivered[1]
    assert len(second) == 5 and pump.dropped == 3
    assert second[0]["type"] == "hello"  # kept even though it was among the oldest
    assert [e.get("n") for e in second[1:]] == [4, 5, 6, 7]
    pump.done()
    assert len(delivered) == 2  # nothing pending: nothing sent


async def test_event_stream_reads_lines_split_across_writes(tmp_path: Path) -> None:
    path = tmp_path / "ev.sock"
    lines = [encode_event("log", {"level": "info", "message": f"m{i}"}, ts=1.0) for i in range(50)]
    blob = b"".join(lines) + b"not json\n" + encode_event("stats", {"requests": 1}, ts=2.0)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for i in range(0, len(blob), 37):  # deliberately cut lines in the middle
            writer.write(blob[i : i + 37])
            await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(serve, path=str(path))
    stream = EventStream(path)
    await stream.connect()
    got = [ev async for batch in stream.batches() for ev in batch]
    await stream.close()
    server.close()
    assert [e["message"] for e in got[:50]] == [f"m{i}" for i in range(50)]
    assert got[-1]["type"] == "stats" and stream.bad_lines == 1


def test_series_fill_gaps_and_latency_per_minute() -> None:
    now = FIXED_NOW
    minute = int(now) // 60 * 60
    stats = Stats(per_minute=[[minute - 120, 4, 400, 0.5], [minute, 2, 100, 0.1]])
    s = metrics.per_minute_series(stats, now, span=5)
    assert s.requests == [0, 0, 4, 0, 2] and s.tokens[-1] == 100 and s.cost[2] == 0.5
    records = [rec(0, ts_start=minute + 1, latency_ms=100.0), rec(1, ts_start=minute + 2, latency_ms=300.0)]
    avg, high = metrics.latency_per_minute(records, now, span=3)
    assert avg == [0.0, 0.0, 200.0] and high[-1] == 300.0
    hours, cost = metrics.cost_per_hour([{"key": int(now) // 3600 * 3600, "cost_usd": 1.25}], now, hours=3)
    assert cost == [0.0, 0.0, 1.25] and hours[-1] == int(now) // 3600 * 3600


def test_distribution_budget_and_kpis() -> None:
    shares = metrics.distribution({"a": 5, "b": 3, "c": 1, "d": 1}, top=2)
    assert [(s.name, s.count) for s in shares] == [("a", 5), ("b", 3), ("other", 2)]
    assert abs(sum(s.ratio for s in shares) - 1) < 1e-9
    uses = metrics.budget_uses({"daily_usd": 50, "monthly_usd": None}, 25.0, 90.0)
    assert [(u.label, u.ratio) for u in uses] == [("Daily", 0.5)]
    row = {"requests": 10, "errors": 2, "input_tokens": 5, "output_tokens": 7, "cost_usd": 1.0}
    k = metrics.kpis_from_usage_row(row, 900.0)
    assert (k.requests, k.tokens, k.error_rate, k.p95_latency_ms) == (10, 12, 0.2, 900.0)


def test_today_and_since_start_error_rates_share_one_definition() -> None:
    """The same 3 replies (one 500) give the same rate in both rows, and no replies give "—" in both."""
    from proxy_engine.protocol import Stats

    row = {"requests": 3, "errors": 1}
    stats = Stats(requests=3, errors=1, error_rate=0.3333)
    assert metrics.kpis_from_usage_row(row).error_rate == metrics.kpis_from_stats(stats).error_rate == 1 / 3
    empty = Stats(requests=0, errors=0, error_rate=0.0)
    assert metrics.kpis_from_usage_row({"requests": 0}).error_rate is None
    assert metrics.kpis_from_stats(empty).error_rate is None
    assert (
        metrics.month_cost([{"key": "2025-10-01", "cost_usd": 2}, {"key": "2025-09-30", "cost_usd": 5}], now=FIXED_NOW)
        == 2
    )


def test_logbook_since_and_levels() -> None:
    book = Logbook(size=3)
    for i, level in enumerate(["debug", "info", "warning", "error"]):
        book.add(LogLine(float(i), level, "x", f"m{i}"))
    assert [ln.message for _, ln in book.since(0)] == ["m1", "m2", "m3"]  # bounded to 3
    assert [ln.message for _, ln in book.since(0, "warning")] == ["m2", "m3"]
    assert book.since(book.serial) == []


def test_atomic_write_is_private_and_first_run_writes_the_default(tmp_path: Path) -> None:
    cfg = tmp_path / "deep" / "config.yaml"
    assert ensure_config(cfg) is True
    assert cfg.read_text() == DEFAULT_CONFIG_TEXT
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    assert stat.S_IMODE(cfg.parent.stat().st_mode) == 0o700
    assert ensure_config(cfg) is False  # never overwrites
    atomic_write(cfg, "port: 1\n")
    assert cfg.read_text() == "port: 1\n" and [p.name for p in cfg.parent.iterdir()] == ["config.yaml"]


def test_api_key_reference_edit_keeps_comments_and_other_settings() -> None:
    text = textwrap.dedent(
        """\
        # my notes stay
        port: 9999   # and this one
        providers:
          work: {kind: openai_compatible, base_url: https://llm.example/v1, api_key: env:WORK}
        models:
          Smart: {work: qwen}
        """
    )
    out = set_provider_api_key(text, "anthropic", "keyring:anthropic")
    assert "# my notes stay" in out and "port: 9999   # and this one" in out
    cfg = parse_config_text(out)
    assert cfg.providers["anthropic"].api_key == "keyring:anthropic"
    assert cfg.providers["work"].api_key == "env:WORK" and cfg.models == {"Smart": {"work": "qwen"}}
    again = set_provider_api_key(out, "work", "keyring:work")
    assert parse_config_text(again).providers["work"].base_url == "https://llm.example/v1"
    assert parse_config_text(set_provider_api_key(DEFAULT_CONFIG_TEXT, "gemini", "keyring:gemini")).providers
    with pytest.raises(ConfigEditError):
        set_provider_api_key(text, "mystery", "keyring:mystery")  # no kind implied by that name
    with pytest.raises(ConfigEditError):
        set_provider_api_key("providers: [a, b]\n", "openai", "keyring:openai")


def test_settings_from_yaml_with_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "tui.yaml"
    path.write_text("theme: proxypal-light\nkeymap: {screen.requests: f2}\n")
    s = load_settings(path)
    assert s.theme == "proxypal-light" and s.keymap == {"screen.requests": "f2"}
    monkeypatch.setenv("PROXYPAL_TUI_THEME", "textual-dark")
    assert load_settings(path).theme == "textual-dark"
    save_theme(path, "proxypal-dark")
    monkeypatch.delenv("PROXYPAL_TUI_THEME")
    assert load_settings(path).theme == "proxypal-dark" and load_settings(path).keymap == {"screen.requests": "f2"}


def test_themes_load_from_yaml_and_user_files_win(tmp_path: Path) -> None:
    bundled = load_themes([REPO / "themes"])
    assert {"proxypal-dark", "proxypal-light"} <= {t.name for t in bundled.themes}
    assert {t.name: t.dark for t in bundled.themes}["proxypal-light"] is False
    user = tmp_path / "themes"
    user.mkdir()
    (user / "mine.yaml").write_text("name: proxypal-dark\nprimary: '#ff0000'\n")
    (user / "broken.yaml").write_text("primary: '#00ff00'\n")
    loaded = load_themes([REPO / "themes", user])
    assert {t.name: t.primary for t in loaded.themes}["proxypal-dark"] == "#ff0000"
    assert loaded.errors and "broken.yaml" in loaded.errors[0]
    with pytest.raises(ThemeError):
        theme_from_yaml(user / "broken.yaml")


def test_port_holder_is_named_and_left_alone() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    try:
        assert port_is_free("127.0.0.1", port) is False
        holder = port_holder(port)
        assert holder.pid == os.getpid() and holder.name == psutil.Process().name()
        assert f"pid {os.getpid()}" in holder.describe()
    finally:
        listener.close()
    assert port_is_free("127.0.0.1", port) is True


def test_core_never_imports_textual() -> None:
    """Like harlequin's import-hygiene test: the headless core stays free of Textual."""
    code = (
        "import sys, pkgutil, importlib, proxypal_tui.core as c\n"
        "[importlib.import_module('proxypal_tui.core.' + m.name) for m in pkgutil.iter_modules(c.__path__)]\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'textual_plotext', 'rich'))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_logbook_keeps_one_of_a_log_event_and_its_stderr_twin() -> None:
    book = Logbook()
    book.add_stderr(100.0, "WARNING proxy_engine.app: disk is slow")
    book.add(LogLine(100.5, "warning", "proxy_engine.app", "disk is slow"))  # the same record, by event
    book.add(LogLine(101.0, "info", "proxy_engine.app", "ready"))
    book.add_stderr(101.2, "INFO proxy_engine.app: ready")
    book.add_stderr(102.0, "Traceback (most recent call last):")  # not a record: keeps the last level
    lines = [ln for _, ln in book.since(0)]
    assert [(ln.level, ln.message) for ln in lines] == [
        ("warning", "disk is slow"),
        ("info", "ready"),
        ("info", "Traceback (most recent call last):"),
    ]
    assert [ln.message for _, ln in book.since(0, "warning")] == ["disk is slow"]
    book.add(LogLine(200.0, "warning", "proxy_engine.app", "disk is slow"))  # a later repeat is a new line
    assert len(book.since(0)) == 4


def test_a_finished_request_counts_in_today_before_the_next_usage_answer() -> None:
    from proxypal_tui.core import formatting as fmt
    from proxypal_tui.core.state import LiveState

    live = LiveState()
    today = fmt.day_key(FIXED_NOW)
    live.set_usage(
        [
            {
                "key": today,
                "requests": 2,
                "errors": 0,
                "input_tokens": 10,
                "output_tokens": 5,
                "cost_usd": 0.25,
                "avg_latency_ms": 100.0,
            }
        ],
        [],
    )
    version = live.usage_version
    done = RequestFinished(
        id="r1",
        ts_start=FIXED_NOW,
        status=502,
        latency_ms=400.0,
        input_tokens=7,
        output_tokens=3,
        cost_usd=0.5,
        ts=FIXED_NOW,
    )
    live.apply([done.to_dict() | {"type": "request.finished"}])
    row = live.day_rows[0]
    assert (row["requests"], row["errors"], row["input_tokens"], row["output_tokens"]) == (3, 1, 17, 8)
    assert row["cost_usd"] == pytest.approx(0.75) and row["avg_latency_ms"] == pytest.approx(200.0)
    assert live.usage_version > version
    assert metrics.budget_uses({"daily_usd": 1.0}, row["cost_usd"], 0.0)[0].spent == pytest.approx(0.75)
