"""Prices resolved ahead (`usage/price_table.py`) cost exactly what genai-prices says, request by request,
and the engine needs genai-prices itself only for models the table cannot price."""

from __future__ import annotations

import asyncio
import json
import os
import random
import stat
import subprocess
import sys
import textwrap
import warnings
from decimal import Decimal
from pathlib import Path

import pytest
from genai_prices import Usage as PriceUsage
from genai_prices import calc_price
from hypothesis import given
from hypothesis import strategies as st

from proxy_engine.usage.price_resolve import resolve
from proxy_engine.usage.price_table import CATALOGUE, UNPRICED, LinearPrice, PriceTable, _entry
from proxy_engine.usage.tokens import Usage

MODELS = [("openai", "gpt-4o-mini"), ("openai", "gpt-4.1"), ("openai", "gpt-5"), ("anthropic", "claude-haiku-4-5"),
          ("anthropic", "claude-opus-4-5"), ("google", "gemini-2.5-flash"), ("anthropic", "claude-sonnet-4-5"),
          ("google", "gemini-2.5-pro"), ("deepseek", "deepseek-chat")]  # fmt: skip


def _genai(provider_id: str | None, model: str, u: Usage) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        usage = PriceUsage(input_tokens=u.input_tokens, output_tokens=u.output_tokens,
                           cache_read_tokens=u.cache_read_tokens, cache_write_tokens=u.cache_write_tokens)  # fmt: skip
        return float(calc_price(usage, model, provider_id=provider_id).total_price)


@pytest.mark.parametrize(("provider_id", "model"), MODELS)
def test_a_resolved_price_costs_exactly_what_genai_prices_says(provider_id: str, model: str) -> None:
    entry = _entry(resolve(provider_id, model))
    if entry == CATALOGUE:
        return  # tiered or time-dependent: the engine asks genai-prices for each request
    assert isinstance(entry, LinearPrice)
    rng = random.Random(f"{provider_id}/{model}")
    for _ in range(400):
        inp = rng.choice(
            [0, 1, 7, 999, 12_345, 199_999, 200_001, 271_999, 272_001, 1_000_000, rng.randrange(2_000_000)]
        )
        cr = rng.randrange(inp + 1) if rng.random() < 0.5 else 0
        cw = rng.randrange(inp - cr + 1) if rng.random() < 0.5 else 0
        u = Usage(input_tokens=inp, output_tokens=rng.randrange(200_000), cache_read_tokens=cr, cache_write_tokens=cw)
        assert entry.cost(u) == _genai(provider_id, model, u), (inp, cr, cw)


def test_tiered_prices_and_unknown_models_are_not_made_linear() -> None:
    assert resolve("google", "gemini-2.5-pro") == CATALOGUE, "its price doubles above 200k prompt tokens"
    assert resolve(None, "no-such-model-anywhere") == UNPRICED
    price = _entry(resolve("openai", "gpt-4o-mini"))
    assert isinstance(price, LinearPrice)
    assert price.cost(Usage(input_tokens=10, output_tokens=1, cache_read_tokens=11)) is None, (
        "usage genai-prices refuses goes to genai-prices, which decides"
    )


async def test_a_missed_model_is_resolved_in_a_child_process_and_saved_private(tmp_path: Path) -> None:
    table = PriceTable()
    table.load(tmp_path)
    assert table.get("openai", "gpt-4o-mini") is None, "not resolved yet: the caller asks genai-prices"
    assert table.get(None, "no-such-model-anywhere") is None
    table.start(delay=0.0)
    for _ in range(600):
        if table._refresh is None and table.entries:
            break
        await asyncio.sleep(0.05)
    await table.close()
    assert isinstance(table.entries[("openai", "gpt-4o-mini")], LinearPrice)
    assert table.entries[(None, "no-such-model-anywhere")] == UNPRICED
    saved = tmp_path / "prices.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    again = PriceTable()
    again.load(tmp_path)
    assert again.entries == table.entries, "the next start reads them back"


def test_a_table_for_another_catalogue_is_resolved_again(tmp_path: Path) -> None:
    old = {"key": "an older genai-prices", "entries": [["openai", "gpt-4o-mini", ["1", "1", "1", "1", "1"]]]}
    (tmp_path / "prices.json").write_text(json.dumps(old))
    table = PriceTable()
    table.load(tmp_path)
    assert table.entries == {} and table._missing == {("openai", "gpt-4o-mini")}


CHECK = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from proxy_engine.usage.price_table import TABLE
    from proxy_engine.usage.prices import PriceBook
    from proxy_engine.usage.tokens import Usage

    TABLE.load(Path(sys.argv[1]))
    book = PriceBook({})
    print(book.cost("openai", "gpt-4o-mini", Usage(input_tokens=1000, output_tokens=200, cache_read_tokens=300)))
    print(book.cost("openai", "no-such-model-anywhere", Usage(input_tokens=1, output_tokens=1)))
    print("genai_prices" in sys.modules)
    """
)


def test_the_engine_prices_resolved_models_without_loading_genai_prices(tmp_path: Path) -> None:
    entries = [[p, m, resolve(p, m)] for p, m in [("openai", "gpt-4o-mini"), ("openai", "no-such-model-anywhere")]]
    from proxy_engine.usage.price_table import catalogue_key

    (tmp_path / "prices.json").write_text(json.dumps({"key": catalogue_key(), "entries": entries}))
    out = subprocess.run([sys.executable, "-c", CHECK, str(tmp_path)], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ), check=True).stdout.split()  # fmt: skip
    expected = _genai("openai", "gpt-4o-mini", Usage(input_tokens=1000, output_tokens=200, cache_read_tokens=300))
    assert out == [repr(expected), "None", "False"]


EXPECT = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from proxy_engine.usage import prices
    from proxy_engine.usage.price_table import TABLE

    async def main():
        TABLE.load(Path(sys.argv[1]))
        book = prices.PriceBook({})
        book.expect("openai", "gpt-4o-mini")  # in the table: nothing to load
        print("genai_prices" in sys.modules, prices._CATALOGUE.loading is None)
        book.expect("openai", "gpt-4.1")  # not in the table: loaded in a thread before the request ends
        await prices._CATALOGUE.loading
        print("genai_prices" in sys.modules)

    asyncio.run(main())
    """
)


def test_a_request_for_a_model_the_table_lacks_loads_genai_prices_off_the_event_loop(tmp_path: Path) -> None:
    from proxy_engine.usage.price_table import catalogue_key

    entries = [["openai", "gpt-4o-mini", resolve("openai", "gpt-4o-mini")]]
    (tmp_path / "prices.json").write_text(json.dumps({"key": catalogue_key(), "entries": entries}))
    out = subprocess.run([sys.executable, "-c", EXPECT, str(tmp_path)], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ), check=True).stdout.split()  # fmt: skip
    assert out == ["False", "True", "True"]


def test_usage_genai_prices_refuses_costs_none_instead_of_losing_the_record() -> None:
    from proxy_engine.usage.prices import PriceBook

    odd = Usage(input_tokens=10, output_tokens=1, cache_read_tokens=50)  # an upstream reporting more cached than sent
    assert PriceBook({}).cost("openai", "gpt-4o-mini", odd) is None


async def test_a_failing_resolver_is_not_run_again_for_a_while(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "broken" / "proxy_engine" / "usage"
    broken.mkdir(parents=True)
    for pkg in (broken.parent, broken):
        (pkg / "__init__.py").write_text("")
    (broken / "price_resolve.py").write_text("raise SystemExit('the catalogue is broken')\n")
    monkeypatch.chdir(tmp_path)  # `python -m` looks in the working folder first, then PYTHONPATH
    monkeypatch.setenv("PYTHONPATH", str(broken.parent.parent))
    table = PriceTable()
    table.load(tmp_path)
    await table.resolve({("openai", "gpt-4o-mini")})
    assert table.entries == {} and not (tmp_path / "prices.json").exists()
    assert table.get("openai", "gpt-4o-mini") is None
    assert table._refresh is None, "no new child process before the retry time"


_PRICE = st.one_of(st.just(Decimal(0)), st.decimals(min_value=0, max_value=1000, allow_nan=False, places=30))
_TOKENS = st.one_of(st.just(0), st.integers(0, 10**9))


@given(prices=st.tuples(*[_PRICE] * 5), inp=_TOKENS, out=_TOKENS, cr=_TOKENS, cw=_TOKENS)
def test_a_linear_price_left_out_zero_terms_is_the_whole_sum(prices, inp, out, cr, cw):
    """`cost` skips zero terms; the float is the one the whole sum in genai-prices' order gives, digits and all."""
    p = LinearPrice(*prices)
    whole = float(p.per_request + p.per_input * inp + p.per_output * out + p.per_cache_read * cr
                  + p.per_cache_write * cw)  # fmt: skip
    got = p.cost(Usage(inp, out, cr, cw))
    assert (got is None) if cr + cw > inp else repr(got) == repr(whole)
