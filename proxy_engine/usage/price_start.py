"""At start, after the proxy listens: load the price table, resolve the configured routes' prices that it
lacks, and preload genai-prices only when a configured model will need it before they are resolved."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from proxy_engine.providers.registry import price_provider
from proxy_engine.routing import UnknownModel
from proxy_engine.runtime import Runtime
from proxy_engine.usage.price_table import CATALOGUE, TABLE, Pair
from proxy_engine.usage.prices import preload_catalogue

log = logging.getLogger("proxy_engine.prices")


def routed_pairs(runtime: Runtime) -> set[Pair]:
    """(genai-prices provider id, model) for every friendly name's candidates and every listed model."""
    pairs: set[Pair] = set()
    for name in runtime.config.models:
        try:
            pairs |= {(price_provider(c.provider.kind), c.model) for c in runtime.router.resolve(name)}
        except UnknownModel:
            continue
    for p in runtime.providers.values():
        pairs |= {(price_provider(p.kind), m) for m in p.models}
    return {p for p in pairs if p[1] not in runtime.config.prices}


async def open_prices(state_dir: Path, runtime: Runtime) -> None:
    """Never raises: prices resolved ahead are an optimisation, genai-prices remains the fallback."""
    try:
        await asyncio.to_thread(TABLE.load, state_dir)
        pairs = routed_pairs(runtime)
        TABLE.want(pairs)
        TABLE.start()
        if any(TABLE.entries.get(p, CATALOGUE) == CATALOGUE for p in pairs):
            preload_catalogue()
    except Exception as e:  # start-up goes on: the catalogue prices requests meanwhile
        log.warning("price table not opened (%s); genai-prices prices every request", e)
