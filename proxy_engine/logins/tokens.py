"""OAuth token sets and how they are kept in the secret store.

A login produces a `TokenSet`; it is stored as JSON under `oauth:<provider>:<credential id>`.
`refresh_token` holds whatever long-lived secret mints new access tokens: an OAuth refresh
token, the GitHub token behind a Copilot session, or a service-account key (Vertex).
Secret fields are excluded from repr() so a TokenSet in a log line or traceback leaks nothing.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from proxy_engine.secrets.store import SecretStore

OAUTH_PREFIX = "oauth:"
#: Refresh this long before expiry; also the window in which a token reads as "expiring".
DEFAULT_LEAD_SECONDS = 300.0


@dataclass
class TokenSet:
    provider: str
    credential: str  # credential id inside the provider (a slug of the account label)
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None  # epoch seconds; None = does not expire
    account: str = ""  # human label (email, GitHub login...), not secret
    token_type: str = "Bearer"
    scope: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # non-secret provider data (project id, base url...)
    error: str | None = None  # last refresh failure, kept so `auth status` can report it
    updated_at: float = field(default_factory=time.time)

    def state(self, now: float | None = None, lead: float = DEFAULT_LEAD_SECONDS) -> str:
        """valid | expiring | expired | error, as used by the `auth.changed` event."""
        if self.error:
            return "error"
        if self.expires_at is None:
            return "valid"
        now = time.time() if now is None else now
        if now >= self.expires_at:
            return "expired"
        if now >= self.expires_at - lead:
            return "expiring"
        return "valid"

    def secrets(self) -> list[str]:
        """Secret values in this set (for redaction)."""
        return [s for s in (self.access_token, self.refresh_token) if s]

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TokenSet:
        data = json.loads(text)
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def credential_slug(label: str) -> str:
    """A stable credential id from an account label ("Ann@Example.com" -> "ann@example.com")."""
    slug = re.sub(r"[^a-z0-9@._+-]+", "-", label.strip().lower()).strip("-")
    return slug[:64] or "default"


def token_name(provider: str, credential: str) -> str:
    return f"{OAUTH_PREFIX}{provider}:{credential}"


def parse_token_name(name: str) -> tuple[str, str] | None:
    if not name.startswith(OAUTH_PREFIX):
        return None
    provider, sep, credential = name[len(OAUTH_PREFIX) :].partition(":")
    return (provider, credential) if sep and provider and credential else None


def save_tokens(store: SecretStore, tokens: TokenSet) -> str:
    name = token_name(tokens.provider, tokens.credential)
    tokens.updated_at = time.time()
    store.set(name, tokens.to_json())
    return name


def load_tokens(store: SecretStore, provider: str, credential: str) -> TokenSet | None:
    raw = store.get(token_name(provider, credential))
    if raw is None:
        return None
    try:
        return TokenSet.from_json(raw)
    except (ValueError, TypeError):
        return None


def list_token_ids(store: SecretStore, provider: str | None = None) -> list[tuple[str, str]]:
    """(provider, credential) pairs of stored OAuth logins, optionally for one provider."""
    out = []
    for name in store.list_names():
        parsed = parse_token_name(name)
        if parsed and (provider is None or parsed[0] == provider):
            out.append(parsed)
    return sorted(out)


def delete_tokens(store: SecretStore, provider: str, credential: str | None = None) -> list[str]:
    """Delete one login or all of a provider's; returns the credential ids removed."""
    removed = []
    for prov, cred in list_token_ids(store, provider):
        if credential is None or cred == credential:
            store.delete(token_name(prov, cred))
            removed.append(cred)
    return removed


def redact(text: str, secrets: list[str] | tuple[str, ...]) -> str:
    """Replace every known secret value in `text` (error bodies can echo request fields)."""
    for s in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(s, "[redacted]")
    return text
