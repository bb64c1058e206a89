"""Budget periods: the cached current window gives the same answers as computing each one afresh."""

from __future__ import annotations

import datetime as dt

from proxy_engine.usage.budgets import period_end, period_start


def _local(*args: int) -> float:
    return dt.datetime(*args).timestamp()


def _fresh_start(kind: str, now: float) -> float:
    d = dt.datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return (d.replace(day=1) if kind == "month" else d).timestamp()


def test_day_window_moves_at_local_midnight() -> None:
    before, at = _local(2026, 3, 9, 23, 59, 59), _local(2026, 3, 10, 0, 0, 0)
    assert period_start("day", before) == _local(2026, 3, 9)
    assert period_end("day", before) == at
    assert period_start("day", at) == at  # the cached 9 March window must not answer for 10 March
    assert period_start("day", before) == _local(2026, 3, 9)  # and going back is not stuck on the new one


def test_month_window_moves_at_the_first_and_over_the_year() -> None:
    dec31, jan1 = _local(2026, 12, 31, 23, 59, 59), _local(2027, 1, 1)
    assert period_start("month", dec31) == _local(2026, 12, 1)
    assert period_end("month", dec31) == jan1
    assert period_start("month", jan1) == jan1
    assert period_end("month", jan1) == _local(2027, 2, 1)


def test_cached_answers_match_fresh_ones_across_a_year() -> None:
    t, stop = _local(2026, 1, 1), _local(2027, 1, 3)
    while t < stop:  # every 7 hours 13 minutes: crosses midnights at all hours and both DST changes
        for kind in ("day", "month"):
            start = period_start(kind, t)
            assert start == _fresh_start(kind, t)
            assert start <= t < period_end(kind, t)
        t += 7 * 3600 + 13 * 60
