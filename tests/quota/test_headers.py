"""Each header family is read into windows with the right names, percentages, limits and reset times."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from multidict import CIMultiDict, CIMultiDictProxy

from proxy_engine.quota.error_bodies import read_error_body
from proxy_engine.quota.headers import duration, read_headers
from tests.fakes import quota_headers as qh

NOW = 1_790_000_000.0


def headers(d: dict[str, str]) -> CIMultiDictProxy[str]:
    """As aiohttp hands them over (case-insensitive), with the capitalisation Go servers send."""
    return CIMultiDictProxy(CIMultiDict({k.title(): v for k, v in d.items()}))


def by_name(d: dict[str, str]) -> dict[str, object]:
    return {w.name: w for w in read_headers(headers(d), "p", "c", NOW)}


def test_a_reply_without_quota_headers_gives_nothing() -> None:
    assert read_headers(headers({"content-type": "application/json", "x-request-id": "r1"}), "p", "c", NOW) == []


def test_anthropic_unified_windows() -> None:
    w = by_name(qh.anthropic_unified(0.63, 0.2, NOW + 3600, NOW + 5 * 86400))
    five, seven = w["5h"], w["7d"]
    assert (five.used_percent, five.resets_at, five.window_s, five.representative) == (63.0, NOW + 3600, 18000, True)
    assert (seven.used_percent, seven.resets_at, seven.representative) == (20.0, NOW + 5 * 86400, False)
    assert five.status == "allowed" and not five.exhausted(NOW)


def test_anthropic_unified_rejected_is_exhausted_until_its_reset() -> None:
    w = by_name(qh.anthropic_unified(1.0, 0.5, NOW + 600, NOW + 86400, status="rejected"))
    assert w["5h"].status == "rejected" and w["5h"].exhausted(NOW)
    assert not w["5h"].exhausted(NOW + 601)  # past its reset it is a fresh window
    assert w["5h"].current(NOW + 601).used_percent == 0.0 and w["5h"].current(NOW + 601).source == "reset"


def test_anthropic_api_limits_with_rfc3339_resets() -> None:
    w = by_name(qh.anthropic_api((1000, 999), (80000, 60000), NOW + 30))
    assert set(w) == {"requests", "tokens", "input_tokens", "output_tokens"}
    assert (w["requests"].limit, w["requests"].remaining, round(w["requests"].used_percent, 1)) == (1000, 999, 0.1)
    assert w["tokens"].used_percent == 25.0 and w["tokens"].resets_at == NOW + 30


def test_codex_primary_and_secondary_named_by_their_length() -> None:
    w = by_name(qh.codex(42.5, 13, NOW + 3600, NOW + 6 * 86400))
    assert (w["5h"].used_percent, w["5h"].resets_at, w["5h"].window_s) == (42.5, NOW + 3600, 18000)
    assert (w["7d"].used_percent, w["7d"].window_s) == (13.0, 7 * 86400)


def test_codex_older_servers_send_reset_after_seconds() -> None:
    w = by_name({"x-codex-primary-used-percent": "80", "x-codex-primary-reset-after-seconds": "120"})
    assert w["primary"].resets_at == NOW + 120 and w["primary"].used_percent == 80


def test_openai_limits_with_duration_resets() -> None:
    w = by_name(qh.openai_api((5000, 4999), (160000, 40000), "6m0s", "12ms"))
    assert w["requests"].resets_at == NOW + 360 and w["tokens"].resets_at == NOW + 0.012
    assert w["tokens"].used_percent == 75.0
    assert duration("1h2m3s") == 3723 and duration("1.5s") == 1.5 and duration("soon") is None


def test_azure_no_limit_values_are_skipped() -> None:
    assert by_name({"x-ratelimit-limit-tokens": "-1", "x-ratelimit-remaining-tokens": "-1"}) == {}


def test_copilot_snapshot_skips_unlimited_entitlements() -> None:
    w = by_name(qh.copilot(300, 29.7, NOW + 86400))
    assert set(w) == {"premium_interactions"}
    p = w["premium_interactions"]
    assert round(p.used_percent, 1) == 70.3 and p.limit == 300 and round(p.remaining, 1) == 89.1
    assert p.resets_at == NOW + 86400


def test_gemini_quota_failure_is_an_exhausted_daily_window_until_pacific_midnight() -> None:
    details = [*qh.gemini_quota_failure(250), {"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                              "retryDelay": "22s"}]  # fmt: skip
    body = json.dumps({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "quota",
                                 "details": details}}).encode()  # fmt: skip
    (w,) = read_error_body(body, "gemini", "env:GK", NOW)
    assert (w.name, w.used_percent, w.limit, w.remaining, w.status) == ("requests/day", 100.0, 250, 0, "rejected")
    from zoneinfo import ZoneInfo

    local = datetime.fromtimestamp(w.resets_at, ZoneInfo("America/Los_Angeles"))
    assert (local.hour, local.minute) == (0, 0) and 0 < w.resets_at - NOW <= 86400 + 3600
    assert read_error_body(b'{"error": {"code": 429, "message": "slow down"}}', "g", "c", NOW) == []
    assert read_error_body(b"<html>not json QuotaFailure", "g", "c", NOW) == []
    assert datetime.fromtimestamp(NOW, UTC).year == 2026


def test_garbled_values_are_bounded_never_raised() -> None:
    w = by_name({
        "x-codex-primary-used-percent": "1e300",
        "x-codex-primary-reset-at": "9" * 40,
        "anthropic-ratelimit-unified-5h-utilization": "nan",
        "anthropic-ratelimit-unified-5h-status": "rejected\r\nset-cookie: sk-ant-secret",
        "anthropic-ratelimit-unified-5h-reset": "9999-12-31T23:59:59",
    })  # fmt: skip
    assert (w["primary"].used_percent, w["primary"].resets_at) == (100.0, None)
    assert (w["5h"].status, w["5h"].resets_at, w["5h"].used_percent) == ("", None, 0.0)
    deep = b'{"error": {"details": ' + b"[" * 100_000 + b"]" * 100_000 + b', "x": "QuotaFailure"}}'
    assert read_error_body(deep, "g", "c", NOW) == []
    huge_delay = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "99999999999h"},
                  *qh.gemini_quota_failure()]  # fmt: skip
    body = json.dumps({"error": {"code": 429, "details": huge_delay}}).encode()
    assert all(x.resets_at is None or x.resets_at < 4.2e9 for x in read_error_body(body, "g", "c", NOW))


def test_copilot_premium_requests_used_up_do_not_stop_the_account() -> None:
    w = by_name(qh.copilot(300, 0, NOW + 86400))
    assert w["premium_interactions"].used_percent == 100 and not w["premium_interactions"].exhausted(NOW)
