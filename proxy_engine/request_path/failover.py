"""Candidates, then credentials: fail over before the first byte, or wait out a cooldown once."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from aiohttp import web

from proxy_engine.request_path.credential_slots import CredentialSlots
from proxy_engine.request_path.errors import MALFORMED, ProxyError, cooling_down, no_credentials
from proxy_engine.request_path.exchange import Exchange
from proxy_engine.request_path.paid_fallback import PaidFallbackGate
from proxy_engine.request_path.upstream import attempt
from proxy_engine.routing import Candidate
from proxy_engine.token_count import COUNT_ACTIONS
from proxy_engine.translate import ESTIMATE_HEADER, count_tokens_response, estimate_input_tokens
from proxy_engine.translate.embeddings import EMBED_ACTIONS

if TYPE_CHECKING:  # the codecs load with the first translated call, not with the engine
    from proxy_engine.translate.translator import Translator

log = logging.getLogger("proxy_engine.request_path")
# Waking exactly at a cooldown's end can land a hair before it (the loop's clock is not the wall clock the
# cooldown was set by), which turned a wait that fits into a 429.
_PAST_COOLDOWN_S = 0.05


async def forward(ex: Exchange, candidates: list[Candidate]) -> web.StreamResponse:
    """Try candidates in order and, within each, its credentials (never one twice), within the retry budget.

    When nothing was tried because every credential cools down, the soonest cooldown is waited
    out once if it ends within `routing.max_wait_s`; otherwise the answer is 429 with Retry-After.
    A paced credential is waited for as `credential_slots.py` says; a paid candidate after a
    subscription or free one is tried only as `paid_fallback.py` allows.
    """
    rec, creds, rt = ex.record, ex.state.credentials, ex.runtime
    budget = rt.router.max_attempts
    last: ProxyError | None = None
    waited = False
    gate = PaidFallbackGate(candidates)
    slots = CredentialSlots(ex)
    while True:
        soonest: float | None = None
        for cand in candidates:
            if budget <= 0:
                break
            if not gate.admits(cand):
                continue
            provider = cand.provider
            if ex.action == "compact" and not provider.kind_rules.compacts:
                continue  # remote compaction goes only where it exists (compact.py summarises elsewhere)
            route = _upstream_route(ex, cand)
            if isinstance(route, web.Response):
                return route  # a token count's local estimate
            if isinstance(route, ProxyError):
                last = last or route
                continue
            up_dialect, translator = route
            if not creds.has_credentials(provider):
                last = last or no_credentials(provider)
                continue
            tried: set[str] = set()
            while budget > 0:
                slot = await slots.take(cand, tried)
                if slot is None:
                    until = None if tried else creds.soonest(provider, cand.model)
                    if until is not None and (soonest is None or until < soonest):
                        soonest = until
                    break
                cred, pacer = slot
                tried.add(cred.id)
                budget -= 1
                rec.paid_fallback = gate.crosses(cand)
                try:
                    outcome = await attempt(ex, cand, cred, up_dialect, translator)
                finally:
                    if pacer is not None:
                        pacer.release()  # the reply has ended: attempt() returns after a stream's last byte
                if not isinstance(outcome, ProxyError):
                    return outcome
                last = outcome
        if last is None and (paced := slots.refusal()) is not None:
            raise gate.explain(paced, rec.model_requested)
        if last is not None or soonest is None:
            raise gate.explain(last or ProxyError(502, "no upstream could take this request"), rec.model_requested)
        wait = soonest - time.time()
        if waited or wait > rt.config.routing.max_wait_s:
            quota = all(creds.out_of_quota(c.provider) for c in candidates if creds.has_credentials(c.provider))
            raise gate.explain(cooling_down(rec.model_requested, wait, out_of_quota=quota), rec.model_requested)
        waited = True
        log.info("every credential for %s cools down; waiting %.1fs", rec.model_requested, wait)
        await asyncio.sleep(max(wait, 0.0) + _PAST_COOLDOWN_S)  # just past its end, whatever the clocks


def _upstream_route(ex: Exchange, cand: Candidate) -> tuple[str, Translator | None] | web.Response | ProxyError:
    """The upstream's dialect for this call and the translator to it (None: same dialect).

    A token count goes to the upstream's own counter, or is estimated here when it has none; an
    embeddings call goes to its embeddings API (translated by `request_path/embeddings.py`).
    """
    rec, provider = ex.record, cand.provider
    if ex.action in EMBED_ACTIONS:
        dialect = provider.embed_dialect(cand.model)
        if dialect is None:
            return ProxyError(400, f"{provider.name} has no embeddings API for {cand.model!r}")
        return dialect, None
    up_dialect = provider.upstream_dialect(rec.dialect_in, cand.model)
    if ex.action in COUNT_ACTIONS:
        counter = provider.count_dialect(rec.dialect_in, cand.model)
        if counter is None:
            return _estimate_count(ex, cand)
        up_dialect = counter
    if up_dialect == rec.dialect_in:
        return up_dialect, None
    from proxy_engine.translate.translator import get_translator  # loaded by the first translated call

    return up_dialect, get_translator(rec.dialect_in, up_dialect)


def _estimate_count(ex: Exchange, cand: Candidate) -> web.Response:
    """A token count for an upstream with no counter: the local estimate, marked as one."""
    rec = ex.record
    rec.attempt_name(cand.provider.name, cand.model)
    try:
        n = estimate_input_tokens(rec.dialect_in, ex.body)
    except RecursionError:
        raise ProxyError(400, "the request is nested too deeply to count") from None
    except MALFORMED as e:
        raise ProxyError(400, f"the request cannot be counted: a field has the wrong type ({e})") from None
    rec.status = 200
    log.info("count_tokens for %s on %s is a local estimate (%d tokens)", cand.model, cand.provider.name, n)
    return web.json_response(count_tokens_response(rec.dialect_in, n), headers={ESTIMATE_HEADER: "true"})
