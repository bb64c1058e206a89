"""Candidates, then credentials: fail over before the first byte, or wait out a cooldown once."""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from proxy_engine.request_path.errors import MALFORMED, ProxyError, cooling_down, no_credentials
from proxy_engine.request_path.exchange import Exchange
from proxy_engine.request_path.upstream import attempt
from proxy_engine.routing import Candidate
from proxy_engine.token_count import COUNT_ACTIONS
from proxy_engine.translate import ESTIMATE_HEADER, count_tokens_response, estimate_input_tokens, get_translator

log = logging.getLogger("proxy_engine.request_path")


async def forward(ex: Exchange, candidates: list[Candidate]) -> web.StreamResponse:
    """Try candidates in order and, within each, its credentials (never one twice), within the retry budget.

    When nothing was tried because every credential cools down, the soonest cooldown is waited
    out once if it ends within `routing.max_wait_s`; otherwise the answer is 429 with Retry-After.
    """
    rec, creds, rt = ex.record, ex.state.credentials, ex.runtime
    budget = rt.router.max_attempts
    last: ProxyError | None = None
    waited = False
    while True:
        soonest: float | None = None
        for cand in candidates:
            if budget <= 0:
                break
            provider = cand.provider
            up_dialect = provider.upstream_dialect(rec.dialect_in, cand.model)
            translator = None
            if up_dialect != rec.dialect_in:
                translator = get_translator(rec.dialect_in, up_dialect)
                if ex.action in COUNT_ACTIONS and not provider.counts_tokens(up_dialect):
                    return _estimate_count(ex, cand)
            if not creds.has_credentials(provider):
                last = last or no_credentials(provider)
                continue
            tried: set[str] = set()
            while budget > 0:
                cred = creds.pick(provider, cand.model, tried)
                if cred is None:
                    until = None if tried else creds.soonest(provider, cand.model)
                    if until is not None and (soonest is None or until < soonest):
                        soonest = until
                    break
                tried.add(cred.id)
                budget -= 1
                outcome = await attempt(ex, cand, cred, up_dialect, translator)
                if not isinstance(outcome, ProxyError):
                    return outcome
                last = outcome
        if last is not None or soonest is None:
            raise last or ProxyError(502, "no upstream could take this request")
        wait = soonest - time.time()
        if waited or wait > rt.config.routing.max_wait_s:
            quota = all(creds.out_of_quota(c.provider) for c in candidates if creds.has_credentials(c.provider))
            raise cooling_down(rec.model_requested, wait, out_of_quota=quota)
        waited = True
        log.info("every credential for %s cools down; waiting %.1fs", rec.model_requested, wait)
        await asyncio.sleep(max(wait, 0.0))


def _estimate_count(ex: Exchange, cand: Candidate) -> web.Response:
    """A translated token count for an upstream with no counter: the local estimate, marked as one."""
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
