"""Cost of a request: `prices:` overrides first, then genai-prices (through the table of prices resolved
ahead, `price_table.py`, or the catalogue itself); unknown stays unknown (None), never 0."""

from __future__ import annotations

import asyncio
import logging
import warnings
from concurrent.futures import Future
from functools import lru_cache

from proxy_engine.config import PriceOverride
from proxy_engine.providers.registry import price_provider
from proxy_engine.usage.price_table import CATALOGUE, TABLE, UNPRICED, LinearPrice
from proxy_engine.usage.tokens import Usage


class PriceBook:
    def __init__(self, overrides: dict[str, PriceOverride]) -> None:
        self._overrides = overrides

    def expect(self, provider_kind: str, model: str) -> None:
        """A request starts: when the table cannot price its model, load genai-prices in a thread now (once
        per process), so the request's end does not import it on the event loop."""
        if _CATALOGUE.loading is not None or model in self._overrides:
            return
        entry = TABLE.entries.get((price_provider(provider_kind), model))
        if entry is None or entry == CATALOGUE:
            _CATALOGUE.load_soon()

    def cost(self, provider_kind: str, model: str, usage: Usage | None) -> float | None:
        if usage is None:
            return None
        if (o := self._overrides.get(model)) is not None:
            uncached = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
            cr = o.cache_read_per_mtok if o.cache_read_per_mtok is not None else o.input_per_mtok
            cw = o.cache_write_per_mtok if o.cache_write_per_mtok is not None else o.input_per_mtok
            total = (
                uncached * o.input_per_mtok
                + usage.output_tokens * o.output_per_mtok
                + usage.cache_read_tokens * cr
                + usage.cache_write_tokens * cw
            )
            return total / 1_000_000
        provider_id = price_provider(provider_kind)
        entry = TABLE.get(provider_id, model)
        if isinstance(entry, LinearPrice) and (cost := entry.cost(usage)) is not None:
            return cost
        if entry == UNPRICED:
            return None
        return _catalogue_cost(
            provider_id,
            model,
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens,
        )


@lru_cache(maxsize=8192)
def _catalogue_cost(provider_id: str | None, model: str, inp: int, out: int, cr: int, cw: int) -> float | None:
    # Imported on first use, not at start-up: genai-prices (and the httpx it brings) is a tenth of the
    # engine's start-up time and ~5 MiB; only models the price table cannot price come here.
    from genai_prices import Usage as PriceUsage
    from genai_prices import calc_price

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            usage = PriceUsage(input_tokens=inp, output_tokens=out, cache_read_tokens=cr, cache_write_tokens=cw)
            return float(calc_price(usage, model, provider_id=provider_id).total_price)
    except LookupError:
        return None
    except (ValueError, ArithmeticError):  # usage genai-prices refuses (more cached tokens than prompt tokens)
        return None  # cost unknown; the request is still recorded


def warm_catalogue() -> None:
    """Load genai-prices' catalogue (blocking: run in a thread once the proxy is listening) when a configured
    model needs it, so its first request does not pay for the import."""
    _catalogue_cost.__wrapped__(None, "gpt-4o-mini", 1, 1, 0, 0)


class _CatalogueLoader:
    """genai-prices loaded once per process in a thread; `loading` keeps the future (and says it started)."""

    def __init__(self) -> None:
        self.loading: asyncio.Future[None] | Future[None] | None = None

    def load_soon(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self.loading = loop.run_in_executor(None, warm_catalogue)
        self.loading.add_done_callback(_report_failure)


def _report_failure(fut: asyncio.Future[None] | Future[None]) -> None:
    if not fut.cancelled() and (exc := fut.exception()) is not None:
        logging.getLogger("proxy_engine.prices").warning("genai-prices could not be preloaded (%s)", exc)


_CATALOGUE = _CatalogueLoader()


def preload_catalogue() -> None:
    """Load genai-prices in a thread, once per process (from a running event loop)."""
    if _CATALOGUE.loading is None:
        _CATALOGUE.load_soon()
