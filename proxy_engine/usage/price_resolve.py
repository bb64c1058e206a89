"""Resolve models' genai-prices prices into linear coefficients, in a process of its own.

`python -m proxy_engine.usage.price_resolve` reads a JSON list of `[provider_id, model]` pairs on stdin
and prints `{"key": ..., "entries": [[provider_id, model, entry], ...]}`, where an entry is
- five decimal strings: the cost of one request, and of one input, output, cache-read and cache-write
  token; the model's cost is exactly that linear sum (checked here against genai-prices at many points);
- `"unpriced"`: genai-prices does not know the model (its cost is unknown, never 0);
- `"catalogue"`: the price is not linear (tiers, prices that change by date or time of day), so the
  engine asks genai-prices itself for each request of this model.
Run apart from the engine so the engine never loads genai-prices (with the httpx and anyio its package
imports, and its data snapshot) for models whose prices are known ahead of time.
"""

from __future__ import annotations

import json
import sys
import warnings
from decimal import Decimal
from typing import Any

from proxy_engine.usage.price_table import catalogue_key

# (input, output, cache_read, cache_write) points the coefficients must reproduce exactly: small and
# large prompts (tiers start at 128k, 200k, 272k...), cache-heavy and output-heavy replies.
_CHECKS = [
    (1_234, 567, 0, 0),
    (9_999, 1, 4_000, 3_000),
    (150_000, 20_000, 100_000, 10_000),
    (210_000, 70_000, 0, 200_000),
    (300_000, 5, 299_000, 0),
    (1_100_000, 150_000, 50_000, 40_000),
]


def _calc(model: str, provider_id: str | None, inp: int, out: int, cr: int, cw: int) -> Decimal:
    from genai_prices import Usage, calc_price

    usage = Usage(input_tokens=inp, output_tokens=out, cache_read_tokens=cr, cache_write_tokens=cw)
    return Decimal(calc_price(usage, model, provider_id=provider_id).total_price)


def _time_dependent(model: str, provider_id: str | None) -> bool:
    """Prices that change on a date still ahead, or by time of day, cannot be fixed in a table."""
    from datetime import UTC, datetime

    from genai_prices import data_snapshot, types

    _provider, info = data_snapshot.get_snapshot().find_provider_model(model, None, provider_id, None)
    if isinstance(info.prices, types.ModelPrice):
        return False
    today = datetime.now(tz=UTC).date()
    for conditional in info.prices:
        c = conditional.constraint
        if c is not None and not (isinstance(c, types.StartDateConstraint) and c.start_date <= today):
            return True
    return False


def resolve(provider_id: str | None, model: str) -> list[str] | str:
    """One model's entry (see the module docstring)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            base = _calc(model, provider_id, 0, 0, 0, 0)
        except LookupError:
            return "unpriced"
        if _time_dependent(model, provider_id):
            return "catalogue"
        one_in = _calc(model, provider_id, 1, 0, 0, 0)
        coef = [
            base,
            one_in - base,
            _calc(model, provider_id, 0, 1, 0, 0) - base,
            _calc(model, provider_id, 1, 0, 1, 0) - one_in,
            _calc(model, provider_id, 1, 0, 0, 1) - one_in,
        ]
        for inp, out, cr, cw in _CHECKS:
            linear = coef[0] + coef[1] * inp + coef[2] * out + coef[3] * cr + coef[4] * cw
            if _calc(model, provider_id, inp, out, cr, cw) != linear:
                return "catalogue"
    return [str(c) for c in coef]


def main() -> int:
    pairs: list[Any] = json.load(sys.stdin)
    entries = []
    for pair in pairs:
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], str)):
            continue
        provider_id = pair[0] if isinstance(pair[0], str) else None
        try:
            entries.append([provider_id, pair[1], resolve(provider_id, pair[1])])
        except (ValueError, ArithmeticError):  # a catalogue entry genai-prices itself cannot price
            entries.append([provider_id, pair[1], "catalogue"])
    json.dump({"key": catalogue_key(), "entries": entries}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
