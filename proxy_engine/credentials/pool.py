"""Several credentials for one provider: which one to use next, and which ones are resting.

Round-robin among the available credentials of the highest priority (or `fill-first`: always
the first available; or `headroom`: the one with the most quota left for the time its windows
still run, see `proxy_engine.quota.headroom`). With a quota view, a credential whose window is
exhausted rests until that window resets, and one above the provider's `max_used_percent` is
skipped while another is usable. A failure cools the (credential, model) pair down: long after 401/403,
`Retry-After` or exponential backoff after 429, short after 5xx or a timeout. A success
clears it. Cooldowns live in a `CooldownStore` (SQLite) so a restart does not forget them.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from proxy_engine.credentials.cooldowns import Cooldown, CooldownStore

STRATEGIES = ("round-robin", "fill-first", "headroom")


class QuotaView(Protocol):
    """What the pool asks of the quota ledger (`proxy_engine.quota.ledger.QuotaLedger`)."""

    def blocked_until(self, provider: str, credential: str, now: float) -> float | None: ...
    def headroom(self, provider: str, credential: str, now: float) -> float: ...
    def used_percent(self, provider: str, credential: str, now: float) -> float | None: ...


@dataclass(frozen=True)
class Credential:
    """One usable identity at a provider. Holds a *reference* to the secret, never the secret."""

    id: str
    priority: int = 0  # higher is preferred
    kind: str = "api_key"  # "api_key" | "oauth" | "service_account"
    ref: str = ""  # "keyring:NAME" / "env:VAR" for keys; "oauth:<provider>:<id>" for logins
    label: str = ""


# The one credential of a keyless local server.
ANONYMOUS = Credential(id="none", kind="none", label="no key")


@dataclass(frozen=True)
class CooldownPolicy:
    auth_seconds: float = 30 * 60.0  # 401/403: the key is wrong or revoked; needs a human
    server_error_seconds: float = 30.0  # 5xx
    timeout_seconds: float = 30.0
    rate_limit_base: float = 5.0  # 429 without Retry-After: base * 2**(n-1) ...
    rate_limit_max: float = 15 * 60.0  # ... capped here
    retry_after_max: float = 24 * 3600.0  # ignore absurd Retry-After values beyond this

    def decide(
        self, status: int | None, retry_after: float | None, previous: Cooldown | None
    ) -> tuple[str, float, int] | None:
        """(reason, seconds, consecutive failures) for a failure, or None when no cooldown applies."""
        if status in (401, 403):
            return "auth", self.auth_seconds, _streak(previous, "auth")
        if status == 429:
            failures = _streak(previous, "rate_limit")
            if retry_after is not None and retry_after >= 0:
                return "rate_limit", min(retry_after, self.retry_after_max), failures
            return (
                "rate_limit",
                min(self.rate_limit_base * 2 ** (failures - 1), self.rate_limit_max),
                failures,
            )
        if status is None or status == 0 or status == 408:
            return "timeout", self.timeout_seconds, _streak(previous, "timeout")
        if status >= 500:
            return "server_error", self.server_error_seconds, _streak(previous, "server_error")
        return None  # other 4xx: the request was at fault, not the credential


def _streak(previous: Cooldown | None, reason: str) -> int:
    return previous.failures + 1 if previous is not None and previous.reason == reason else 1


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class CredentialPool:
    def __init__(
        self,
        provider: str,
        credentials: Sequence[Credential],
        cooldowns: CooldownStore,
        *,
        strategy: str = "round-robin",
        policy: CooldownPolicy | None = None,
        on_cooldown: Callable[[Cooldown], None] | None = None,
        clock: Callable[[], float] = time.time,
        quota: QuotaView | None = None,
        max_used_percent: float | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}")
        self.provider = provider
        self.strategy = strategy
        self.policy = policy or CooldownPolicy()
        self._cooldowns = cooldowns
        self._on_cooldown = on_cooldown
        self._clock = clock
        self.quota = quota
        self.max_used_percent = max_used_percent
        self._last: dict[str, str] = {}  # model -> id of the credential used last
        self._credentials: list[Credential] = []
        self.set_credentials(credentials)

    @property
    def credentials(self) -> list[Credential]:
        return list(self._credentials)

    @property
    def empty(self) -> bool:
        """No credential at all (asked on every request: no copy of the list)."""
        return not self._credentials

    def set_credentials(self, credentials: Sequence[Credential]) -> None:
        """Replace the credential list (config reload). Cooldowns of kept ids stay in force."""
        ids = [c.id for c in credentials]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{self.provider}: duplicate credential ids")
        self._credentials = list(credentials)

    def _available(self, model: str, now: float) -> list[Credential]:
        cooling, quota = self._cooldowns.cooling_until, self.quota
        return [c for c in self._credentials if cooling(self.provider, c.id, model, now) is None
                and (quota is None or quota.blocked_until(self.provider, c.id, now) is None)]  # fmt: skip

    def _under_ceiling(self, available: list[Credential], now: float) -> list[Credential]:
        """Those at or below `max_used_percent`; all of them when none is (better a full one than none)."""
        if self.quota is None or self.max_used_percent is None or len(available) < 2:
            return available
        ceiling, used = self.max_used_percent, self.quota.used_percent
        under = [c for c in available if (used(self.provider, c.id, now) or 0.0) <= ceiling]
        return under or available

    def pick(self, model: str, exclude: Collection[str] = ()) -> Credential | None:
        """The credential to use for `model` now, or None when every one is cooling down.

        `exclude`: ids already tried by this request (their cooldown may not be recorded yet).
        """
        now = self._clock()
        available = [c for c in self._available(model, now) if c.id not in exclude]
        if not available:
            return None
        available = self._under_ceiling(available, now)
        top = max(c.priority for c in available)
        best = [c for c in available if c.priority == top]
        if self.strategy == "headroom" and self.quota is not None and len(best) > 1:
            room = {c.id: self.quota.headroom(self.provider, c.id, now) for c in best}
            most = max(room.values())
            best = [c for c in best if room[c.id] >= most - 1e-9]  # ties rotate, as round-robin does
        if self.strategy == "fill-first" or len(best) == 1:
            return best[0]
        # Rotate in declared order, starting after the last one used for this model, so a
        # credential dropping out (cooling down) does not make the rotation skip or repeat.
        order = {c.id: i for i, c in enumerate(self._credentials)}
        last = order.get(self._last.get(model, ""), -1)
        chosen = next((c for c in best if order[c.id] > last), best[0])
        self._last[model] = chosen.id
        return chosen

    def soonest_available(self, model: str) -> float | None:
        """Epoch when the first cooling credential frees up, when *all* are cooling; else None.

        The engine answers 429 with `Retry-After: ceil(soonest - now)`, or waits if that is short.
        """
        now = self._clock()
        untils = []
        for c in self._credentials:
            cooling = self._cooldowns.cooling_until(self.provider, c.id, model, now)
            blocked = self.quota.blocked_until(self.provider, c.id, now) if self.quota is not None else None
            if cooling is None and blocked is None:
                return None
            untils.append(max(u for u in (cooling, blocked) if u is not None))
        return min(untils) if untils else None

    def out_of_quota(self) -> bool:
        """Every credential has an exhausted quota window (so a wait is for a reset, not a cooldown)."""
        if self.quota is None or not self._credentials:
            return False
        now = self._clock()
        return all(self.quota.blocked_until(self.provider, c.id, now) is not None for c in self._credentials)

    async def report(
        self, credential: Credential | str, model: str, status: int | None, retry_after: float | None = None
    ) -> Cooldown | None:
        """Record the outcome of a request: 2xx/3xx clears, failures cool down; returns the new cooldown.

        status None means a timeout or connection failure; retry_after is in seconds (see
        `parse_retry_after`).
        """
        cred_id = credential.id if isinstance(credential, Credential) else credential
        if status is not None and 200 <= status < 400:
            await self._cooldowns.remove(self.provider, cred_id, model)
            return None
        previous = self._cooldowns.get(self.provider, cred_id, model)
        decision = self.policy.decide(status, retry_after, previous)
        if decision is None:
            return None
        reason, seconds, failures = decision
        cooldown = Cooldown(self.provider, cred_id, model, self._clock() + seconds, reason, status or 0, failures)
        await self._cooldowns.put(cooldown)
        if self._on_cooldown is not None:
            self._on_cooldown(cooldown)
        return cooldown

    def cooldowns(self, *, model: str | None = None) -> list[Cooldown]:
        """Active cooldowns of this provider (for /v0/auth/status and the TUI)."""
        return [
            c
            for c in self._cooldowns.list(now=self._clock())
            if c.provider == self.provider and (model is None or c.model == model)
        ]

    async def clear(self, credential: str | None = None, model: str | None = None) -> int:
        return await self._cooldowns.clear(self.provider, credential, model)
