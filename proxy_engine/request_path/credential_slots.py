"""A credential with room to take one more request, for one request's failover walk.

Pacing (`credentials/pacing.py`) is decided here: among a candidate's credentials that are not
cooling down, one with a free slot is taken at once; when every one is busy, the request waits
for the preferred one, at most `routing.max_wait_s` over the whole request, and then moves on to
the next candidate. When nothing else could serve it, the answer is 429 `credential_paced`.
"""

from __future__ import annotations

import asyncio

from proxy_engine.credentials.pacing import CredentialPacer, paced_retry_after
from proxy_engine.credentials.pool import Credential
from proxy_engine.request_path.errors import ProxyError
from proxy_engine.request_path.exchange import Exchange
from proxy_engine.routing import Candidate


class CredentialSlots:
    """One request's view of pacing: its wait budget and the pacer that last turned it away."""

    __slots__ = ("_deadline", "ex", "refused")

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex
        self._deadline: float | None = None
        self.refused: tuple[str, str, CredentialPacer] | None = None  # provider, credential, its pacer

    async def take(self, cand: Candidate, tried: set[str]) -> tuple[Credential, CredentialPacer | None] | None:
        """A credential of `cand` not in `tried`, holding a slot of its pacer (release it when done);
        None when every one cools down or stayed busy for the rest of the wait."""
        state, provider = self.ex.state, cand.provider
        busy: list[tuple[Credential, CredentialPacer]] = []
        skip = set(tried)
        while (cred := state.credentials.pick(provider, cand.model, skip, self.ex.record.session)) is not None:
            pacer = state.pacing.pacer(provider.name, provider.settings, cred)
            if pacer is None or pacer.try_acquire():
                return cred, pacer
            busy.append((cred, pacer))
            skip.add(cred.id)
        if not busy:
            return None
        now = asyncio.get_running_loop().time()
        if self._deadline is None:
            self._deadline = now + self.ex.runtime.config.routing.max_wait_s
        for cred, pacer in busy:  # the preferred one gets what is left of the wait, the others a last try
            if await pacer.acquire(max(0.0, self._deadline - asyncio.get_running_loop().time())):
                return cred, pacer
        self.refused = (provider.name, busy[0][0].id, busy[0][1])
        return None

    def refusal(self) -> ProxyError | None:
        """429 with Retry-After when pacing turned the request away, else None."""
        if self.refused is None:
            return None
        provider, cred, pacer = self.refused
        retry = paced_retry_after(pacer)
        wait = self.ex.runtime.config.routing.max_wait_s
        message = (
            f"credential {cred!r} of {provider} is paced ({pacer.limits.describe()}) and had no room "
            f"within routing.max_wait_s ({wait:g}s); retry in {retry}s"
        )
        return ProxyError(429, message, "credential_paced", {"Retry-After": retry})
