"""Session affinity: an agent session keeps its credential per provider while that one is usable.

A provider's prompt cache lives with the account (or key) that built it, so a conversation that
hops between credentials pays for its whole prompt again on every hop. Here a session stays on the
credential it was first given, for as long as the pool would still hand that one out (not cooling
down, not already tried by this request); otherwise the pool's own choice applies and the session
sticks to that one from then on. Requests without a session are left to the pool alone.

The map is bounded (least recently used sessions go first) and forgets a session idle for
`idle_s`; it is per process, so under `serve --workers N` each worker keeps its own.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Collection

from proxy_engine.credentials.pool import Credential, CredentialPool


class SessionAffinity:
    """(session, provider) -> the credential id that session uses, with the time it was last used."""

    def __init__(
        self, max_sessions: int = 4096, idle_s: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_sessions = max_sessions
        self.idle_s = idle_s
        self._clock = clock
        self._held: OrderedDict[tuple[str, str], tuple[str, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._held)

    def held(self, session: str, provider: str) -> str | None:
        """The credential id a session holds at a provider (None when it holds none, or it lapsed)."""
        entry = self._held.get((session, provider))
        if entry is None or self._clock() - entry[1] > self.idle_s:
            return None
        return entry[0]

    def pick(self, pool: CredentialPool, session: str, model: str, exclude: Collection[str] = ()) -> Credential | None:
        """The session's credential if the pool would still give it out, else the pool's pick (then held)."""
        key = (session, pool.provider)
        now = self._clock()
        held = self.held(session, pool.provider)
        if held is not None and held not in exclude:
            # Ask the pool with every other credential excluded, so whatever makes a credential
            # unusable to the pool (cooldowns, and any rule it adds) holds for the held one too.
            others = {c.id for c in pool.credentials if c.id != held}
            cred = pool.pick(model, others.union(exclude))
            if cred is not None:
                self._held[key] = (cred.id, now)
                self._held.move_to_end(key)
                return cred
        cred = pool.pick(model, exclude)
        if cred is not None:
            self._held[key] = (cred.id, now)
            self._held.move_to_end(key)
            while len(self._held) > self.max_sessions:
                self._held.popitem(last=False)
        return cred
