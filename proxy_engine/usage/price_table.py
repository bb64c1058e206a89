"""Per-model prices resolved ahead of time: a priced request costs a few Decimal multiplications, and the
engine loads genai-prices only for a model whose price is not linear or not resolved yet.

The table lives in `prices.json` in the state folder, keyed by the installed genai-prices catalogue (its
data file's size and mtime: an upgrade re-resolves everything). Entries are filled by
`price_resolve.py` in a child process, off the event loop: at start for the configured routes and the
models seen before, and ten seconds after a request used a model the table did not have (that
request, and any until the table has it, is priced by genai-prices in the engine, as before).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from proxy_engine.usage.tokens import Usage

log = logging.getLogger("proxy_engine.prices")
FILE_NAME = "prices.json"
UNPRICED = "unpriced"  # genai-prices does not know the model: its cost is None
CATALOGUE = "catalogue"  # not linear: genai-prices prices each request
# A short-lived engine (a script, a test) never pays for the child process: it runs only once the engine
# has served for a while, and then for everything missing at once.
_REFRESH_DELAY_S = 10.0
_RESOLVE_TIMEOUT_S = 120.0
_RETRY_AFTER_S = 600.0
_MAX_ENTRIES = 4096  # models beyond this (a client inventing names) stay with genai-prices


@dataclass(frozen=True, slots=True)
class LinearPrice:
    """USD for one request and per token; genai-prices' own total for such a model is this exact sum."""

    per_request: Decimal
    per_input: Decimal
    per_output: Decimal
    per_cache_read: Decimal
    per_cache_write: Decimal

    def cost(self, usage: Usage) -> float | None:
        """None when the usage is one genai-prices would refuse (cached parts above the whole prompt)."""
        inp, cr, cw = usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens
        if cr + cw > inp:
            return None
        # The sum per_request + input + output + cache read + cache write, in that order, leaving out the terms
        # that are zero (most requests have no cache tokens, most prices no per-request part): adding an exact
        # zero changes no Decimal result, and each addition is rounded once, so the float is the same.
        total = self.per_input * inp
        if self.per_request:
            total = self.per_request + total
        total += self.per_output * usage.output_tokens
        if cr:
            total += self.per_cache_read * cr
        if cw:
            total += self.per_cache_write * cw
        return float(total)


Entry = LinearPrice | str  # or UNPRICED / CATALOGUE


def catalogue_key() -> str | None:
    """Which genai-prices catalogue is installed, without importing it; None when it is not installed."""
    spec = importlib.util.find_spec("genai_prices")
    if spec is None or spec.origin is None:
        return None
    try:
        st = (Path(spec.origin).parent / "data.py").stat()
    except OSError:
        return None
    return f"{st.st_size}:{st.st_mtime_ns}"


def _entry(raw: object) -> Entry | None:
    if raw in (UNPRICED, CATALOGUE):
        return str(raw)
    if isinstance(raw, list) and len(raw) == 5 and all(isinstance(x, str) for x in raw):
        try:
            return LinearPrice(*(Decimal(x) for x in raw))
        except ArithmeticError:
            return None
    return None


def _raw(entry: Entry) -> object:
    if isinstance(entry, LinearPrice):
        return [str(entry.per_request), str(entry.per_input), str(entry.per_output), str(entry.per_cache_read),
                str(entry.per_cache_write)]  # fmt: skip
    return entry


Pair = tuple[str | None, str]


class PriceTable:
    """One per engine process: entries by (genai-prices provider id, model), and the pairs still to resolve."""

    def __init__(self) -> None:
        self.entries: dict[Pair, Entry] = {}
        self.path: Path | None = None
        self._key: str | None = None
        self._missing: set[Pair] = set()
        self._refresh: asyncio.Task[None] | None = None
        self._retry_at = 0.0  # after a failed resolve, wait before running the child again

    def get(self, provider_id: str | None, model: str) -> Entry | None:
        """The resolved entry, or None (then the pair is noted, and resolved a little later)."""
        entry = self.entries.get((provider_id, model))
        if entry is None and self.path is not None and len(self.entries) + len(self._missing) < _MAX_ENTRIES:
            self._missing.add((provider_id, model))
            self._schedule()
        return entry

    # -- start-up and refresh (off the request path) ----------------------------------------------

    def load(self, state_dir: Path) -> None:
        """Read the table file (blocking, small: call it in a thread). A file for another catalogue is
        ignored; its pairs are resolved again."""
        self.path = state_dir / FILE_NAME
        self._key = catalogue_key()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
            return
        fresh = data.get("key") == self._key and self._key is not None
        for item in data["entries"]:
            if not (isinstance(item, list) and len(item) == 3 and isinstance(item[1], str)):
                continue
            pair = (item[0] if isinstance(item[0], str) else None, item[1])
            entry = _entry(item[2]) if fresh else None
            if entry is None:
                self._missing.add(pair)
            else:
                self.entries[pair] = entry

    def want(self, pairs: set[Pair]) -> None:
        """Pairs the config routes to: resolved soon when not in the table."""
        self._missing |= {p for p in pairs if p not in self.entries}

    def needs_catalogue(self) -> bool:
        """Whether a known model is priced by genai-prices itself (then it is worth preloading)."""
        return any(e == CATALOGUE for e in self.entries.values())

    def _schedule(self, delay: float = _REFRESH_DELAY_S) -> None:
        if self._refresh is not None or not self._missing or time.monotonic() < self._retry_at:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._refresh = loop.create_task(self._resolve_later(delay), name="price-table")

    async def _resolve_later(self, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
            while self._missing and time.monotonic() >= self._retry_at:
                pairs, self._missing = self._missing, set()
                await self.resolve(pairs)
        finally:
            self._refresh = None

    def start(self, delay: float = _REFRESH_DELAY_S) -> None:
        """Resolve what is missing after `delay` (at start, after the proxy listens)."""
        self._schedule(delay)

    async def close(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
            await asyncio.gather(self._refresh, return_exceptions=True)

    async def resolve(self, pairs: set[Pair]) -> None:
        """Resolve `pairs` in a child process and save the table; a failure is logged, never raised."""
        if self._key is None or self.path is None:  # genai-prices is not installed: nothing to resolve
            return
        failure = await self._run_resolver(pairs)
        if failure is not None:
            self._retry_at = time.monotonic() + _RETRY_AFTER_S
            log.warning("prices could not be resolved ahead (%s); genai-prices prices those models", failure)
            return
        await asyncio.to_thread(self._save)

    async def _run_resolver(self, pairs: set[Pair]) -> str | None:
        """Run `price_resolve` on `pairs` and merge its answer; why it failed, or None."""
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "proxy_engine.usage.price_resolve",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
        except OSError as e:
            return str(e)
        try:
            query = json.dumps(sorted(pairs, key=str)).encode()
            out, err = await asyncio.wait_for(proc.communicate(query), _RESOLVE_TIMEOUT_S)
        except TimeoutError:
            return "it took too long"
        finally:
            if proc.returncode is None:  # timed out, or the engine is stopping
                proc.kill()
                await asyncio.shield(proc.wait())
        if proc.returncode != 0:
            return (err.decode(errors="replace").strip().splitlines()[-1:] or ["no message"])[0]
        try:
            self._merge(json.loads(out))
        except ValueError:
            return "unreadable answer"
        return None

    def _merge(self, data: object) -> None:
        if not isinstance(data, dict) or data.get("key") != self._key:
            return
        for item in data.get("entries", []):
            if isinstance(item, list) and len(item) == 3 and (entry := _entry(item[2])) is not None:
                self.entries[(item[0], item[1])] = entry

    def _save(self) -> None:
        from proxy_engine.paths import atomic_write

        if self.path is None:
            return
        entries = [[pid, model, _raw(e)] for (pid, model), e in sorted(self.entries.items(), key=str)]
        atomic_write(self.path, json.dumps({"key": self._key, "entries": entries}, indent=0))


TABLE = PriceTable()
