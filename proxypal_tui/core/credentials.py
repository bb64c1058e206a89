"""What the Providers screen draws: providers, their credentials, states and cooldowns (headless).

Loaded whole from `GET /v0/auth/status`, then kept current by `auth.changed` and
`credential.cooldown` events between loads. An event the board cannot place (a login it has
not seen yet) marks it stale, and the app reloads the status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proxy_engine.protocol import AuthChanged, CredentialCooldown


@dataclass(frozen=True)
class CooldownRow:
    model: str
    until: float
    reason: str = ""
    status: int | None = None

    def left(self, now: float) -> float:
        return max(0.0, self.until - now)


@dataclass
class CredentialRow:
    provider: str
    id: str
    type: str = ""
    state: str = "unknown"
    source: str = ""
    label: str = ""
    priority: int = 0
    message: str = ""
    expires_at: float | None = None
    cooldowns: dict[str, CooldownRow] = field(default_factory=dict)  # by model ("" = every model)

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.id}"

    def active_cooldowns(self, now: float) -> list[CooldownRow]:
        return sorted((c for c in self.cooldowns.values() if c.until > now), key=lambda c: (c.until, c.model))

    def shown_state(self, now: float) -> str:
        """The engine's state, or "cooling" while a cooldown the board knows of is running."""
        if self.state in ("valid", "cooling"):
            return "cooling" if self.active_cooldowns(now) else "valid"
        return self.state


@dataclass
class ProviderRow:
    name: str
    kind: str = ""
    base_url: str = ""
    strategy: str = ""
    login: str = ""  # the login this provider's OAuth credentials come from (claude, codex, ...)
    credentials: list[CredentialRow] = field(default_factory=list)


@dataclass(frozen=True)
class SecretStoreInfo:
    backend: str = ""
    notice: str = ""
    error: str = ""


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _cooldown(data: dict[str, Any]) -> CooldownRow | None:
    until = _float(data.get("until"))
    if until is None:
        return None
    status = data.get("status")
    return CooldownRow(
        str(data.get("model") or ""),
        until,
        str(data.get("reason") or ""),
        status if isinstance(status, int) else None,
    )


def _credential(provider: str, c: dict[str, Any]) -> CredentialRow:
    cred = CredentialRow(
        provider=provider,
        id=str(c.get("id", "")),
        type=str(c.get("type") or ""),
        state=str(c.get("state") or "unknown"),
        source=str(c.get("source") or ""),
        label=str(c.get("label") or ""),
        priority=c.get("priority") if isinstance(c.get("priority"), int) else 0,
        message=str(c.get("message") or ""),
        expires_at=_float(c.get("expires_at")),
    )
    for raw in c.get("cooldowns") or []:
        cd = _cooldown(raw) if isinstance(raw, dict) else None
        if cd is not None:
            cred.cooldowns[cd.model] = cd
    return cred


@dataclass
class CredentialBoard:
    providers: dict[str, ProviderRow] = field(default_factory=dict)
    store: SecretStoreInfo = field(default_factory=SecretStoreInfo)
    version: int = 0
    loads: int = 0  # answers loaded so far
    loaded: bool = False
    stale: bool = False  # an event named a credential the board does not know: reload the status

    def load(self, answer: dict[str, Any]) -> None:
        """Replace everything from a `/v0/auth/status` answer."""
        store = answer.get("store") if isinstance(answer.get("store"), dict) else {}
        self.store = SecretStoreInfo(
            str(store.get("backend") or ""), str(store.get("notice") or ""), str(store.get("error") or "")
        )
        rows: dict[str, ProviderRow] = {}
        for p in answer.get("providers") or []:
            if not isinstance(p, dict):
                continue
            name = str(p.get("name", ""))
            row = ProviderRow(
                name,
                str(p.get("kind") or ""),
                str(p.get("base_url") or ""),
                str(p.get("strategy") or ""),
                str(p.get("login") or ""),
            )
            row.credentials = [_credential(name, c) for c in p.get("credentials") or [] if isinstance(c, dict)]
            rows[name] = row
        self.providers = rows
        self.loaded = True
        self.loads += 1
        self.version += 1

    def credentials(self) -> list[CredentialRow]:
        return [c for row in sorted(self.providers.values(), key=lambda r: r.name) for c in row.credentials]

    def find(self, key: str) -> CredentialRow | None:
        return next((c for c in self.credentials() if c.key == key), None)

    def _matching(self, provider: str, cred_id: str) -> list[CredentialRow]:
        # Login events name the login (e.g. "claude"); the rows are config providers that use it.
        return [
            c
            for row in self.providers.values()
            if provider in (row.name, row.login)
            for c in row.credentials
            if c.id == cred_id
        ]

    def auth_changed(self, ev: AuthChanged) -> None:
        found = self._matching(ev.provider, ev.credential)
        for cred in found:
            cred.state = ev.state or cred.state
            cred.message = ev.message
        # The event says what changed, not everything (a clear does not list the models it
        # cleared): the app reloads the status soon after.
        self.stale = True
        self.version += 1

    def cooldown_started(self, ev: CredentialCooldown) -> None:
        found = self._matching(ev.provider, ev.credential)
        if not ev.until or not found:
            self.stale = True
            return
        cd = CooldownRow(ev.model, ev.until, ev.reason, ev.status)
        for cred in found:
            cred.cooldowns[cd.model] = cd
        self.version += 1

    def any_cooling(self, now: float) -> bool:
        return any(c.active_cooldowns(now) for c in self.credentials())
