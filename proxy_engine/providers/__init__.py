"""Upstream providers: where each lives, how it authenticates, and which wire formats it speaks.

A `Provider` is built from config once per runtime. Per attempt, the engine's credential
manager turns one of its credentials into an `UpstreamCall` (base URL, auth headers), and the
`Provider`'s wire methods (`upstream_url`, `edits_body`, `finalize_body`, `sign_headers`, today
delegating to `wire.py`) build the URL, the last body touches and the signature each kind needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp
import yarl

from proxy_engine.auth.pool import Credential
from proxy_engine.config import ProviderConfig, provider_kind
from proxy_engine.providers.kinds import KINDS, kind_spec

__all__ = ["KINDS", "Provider", "UpstreamCall", "build_provider", "key_headers"]


@dataclass(frozen=True)
class UpstreamCall:
    """One attempt's credential, made concrete: where to send it and with which (secret) headers."""

    credential: Credential
    base_url: str
    headers: dict[str, str] = field(repr=False)
    extra: dict[str, Any] = field(default_factory=dict)  # project id, region, AWS credentials...


@dataclass(frozen=True)
class Provider:
    name: str
    kind: str
    base_url: str  # configured or the kind's default; "" = the login's own API base
    dialects: tuple[str, ...]
    models: tuple[str, ...]
    login: str | None = None  # stored logins of this name are credentials too
    key_credentials: tuple[Credential, ...] = ()
    secrets: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    unreadable: tuple[str, ...] = ()  # key references that could not be read
    strategy: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)
    timeout: aiohttp.ClientTimeout = field(default_factory=aiohttp.ClientTimeout)
    settings: ProviderConfig = field(default_factory=ProviderConfig)
    base_configured: bool = False

    def serves(self, model: str) -> bool:
        if self.models:
            return model in self.models
        return model.lower().startswith(kind_spec(self.kind).prefixes)

    def upstream_dialect(self, client_dialect: str, model: str = "") -> str:
        if self.kind == "vertex":
            return "anthropic" if model.lower().startswith("claude") else "gemini"
        return client_dialect if client_dialect in self.dialects else self.dialects[0]

    # Wire behaviour, one call per concern; the request path calls these and never branches on a kind.

    def upstream_url(
        self, call: UpstreamCall, dialect: str, model: str, *, stream: bool, action: str | None
    ) -> str | yarl.URL:
        """Where this attempt goes; an encoded `yarl.URL` where the URL is signed exactly as sent."""
        from proxy_engine.providers import wire

        url = wire.upstream_url(self, call, dialect, model, stream=stream, action=action)
        return yarl.URL(url, encoded=True) if self.kind == "bedrock" else url

    def edits_body(self, call: UpstreamCall, dialect: str) -> bool:
        """Must a same-dialect (pass-through) body be rewritten for this upstream?"""
        from proxy_engine.providers import wire

        return wire.edits_body(self, call, dialect)

    def finalize_body(
        self, call: UpstreamCall, dialect: str, body: dict[str, Any], *, model: str, action: str | None
    ) -> dict[str, Any]:
        """The last touches this upstream needs, on a body already in its dialect."""
        from proxy_engine.providers import wire

        return wire.finalize_body(self, call, dialect, body, model=model, action=action)

    def sign_headers(
        self, call: UpstreamCall, url: str | yarl.URL, headers: dict[str, str], body: bytes
    ) -> dict[str, str]:
        """Headers that depend on the final URL and body (request signing)."""
        from proxy_engine.providers import wire

        return wire.sign_headers(self, call, str(url), headers, body)

    @property
    def keyless(self) -> bool:
        """Neither keys nor logins: a local server that needs no auth (one anonymous credential)."""
        return not self.key_credentials and not self.unreadable and self.login is None


def key_headers(kind: str, dialect: str, secret: str) -> dict[str, str]:
    """An API key as the upstream expects it."""
    style = kind_spec(kind).key_header
    if kind == "vertex" or style == "none":
        return {}
    if style == "api-key":
        return {"api-key": secret}
    if dialect == "anthropic":
        return {"x-api-key": secret}
    if dialect == "gemini":
        return {"x-goog-api-key": secret}
    return {"Authorization": "Bearer " + secret}


def build_provider(
    name: str, cfg: ProviderConfig, secrets: dict[str, str], unreadable: tuple[str, ...] = ()
) -> Provider:
    """`secrets` maps credential ids (see `ProviderConfig.key_credentials`) to resolved keys."""
    kind = provider_kind(name, cfg)
    spec = KINDS[kind]
    dialects = tuple(cfg.dialects) if cfg.dialects else spec.dialects
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=cfg.connect_timeout_s, sock_read=cfg.idle_s)
    creds = tuple(
        Credential(id=c.cred_id, priority=c.priority, kind="api_key", ref=c.key, label=c.cred_id)
        for c in cfg.key_credentials()
        if c.cred_id in secrets
    )
    login = spec.login if (spec.login_only or cfg.auth == "oauth") else None
    return Provider(
        name=name,
        kind=kind,
        base_url=(cfg.base_url or spec.base_url).rstrip("/"),
        dialects=dialects,
        models=tuple(cfg.models),
        login=login,
        key_credentials=creds,
        secrets=dict(secrets),
        unreadable=unreadable,
        strategy=cfg.strategy,
        extra_headers=dict(cfg.headers),
        timeout=timeout,
        settings=cfg,
        base_configured=cfg.base_url is not None,
    )
