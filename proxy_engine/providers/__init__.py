"""Upstream providers: where each lives, how it authenticates, and which wire formats it speaks.

A `Provider` is one configured upstream, built from config once per runtime. Everything that
differs by kind (URL, key headers, body touches, signing, credentials) is its `ProviderKind`'s
(`providers/kind.py`, one module per kind, `registry.py`); the request path calls the methods
here and never asks which kind a provider is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp
import yarl

from proxy_engine.config import ProviderConfig, provider_kind
from proxy_engine.credentials.call import UpstreamCall
from proxy_engine.credentials.pool import Credential
from proxy_engine.providers.kind import ProbeRequest, ProviderKind
from proxy_engine.providers.registry import KIND_REGISTRY, kind_of

__all__ = ["KIND_REGISTRY", "Provider", "ProviderKind", "UpstreamCall", "build_provider", "kind_of"]


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

    @property
    def kind_rules(self) -> ProviderKind:
        """This provider's kind: everything about it that differs by kind."""
        return kind_of(self.kind)

    @property
    def keyless(self) -> bool:
        """Neither keys nor logins: a local server that needs no auth (one anonymous credential)."""
        return not self.key_credentials and not self.unreadable and self.login is None

    @property
    def cost_class(self) -> str:
        """subscription, free or paid (see `ProviderKind.cost_class`)."""
        return self.kind_rules.cost_class(self)

    def serves(self, model: str) -> bool:
        if self.models:
            return model in self.models
        return self.kind_rules.serves(model)

    def upstream_dialect(self, client_dialect: str, model: str = "") -> str:
        return self.kind_rules.upstream_dialect(self, client_dialect, model)

    def count_dialect(self, client_dialect: str, model: str = "") -> str | None:
        """The dialect the upstream counts tokens in (its own counter); None when it has none."""
        return self.kind_rules.count_dialect(self, client_dialect, model)

    def embed_dialect(self, model: str = "") -> str | None:
        """The dialect of the upstream's embeddings API; None when it has none."""
        return self.kind_rules.embed_dialect(self, model)

    def default_base(self) -> str:
        """Where it goes when config sets no base_url (a region's endpoint for the cloud kinds)."""
        return self.kind_rules.default_base(self)

    def key_call(self, cred: Credential, dialect: str) -> UpstreamCall:
        """An API key credential as headers, the way this kind sends keys."""
        return UpstreamCall(cred, self.base_url, self.kind_rules.key_headers(dialect, self.secrets[cred.id]))

    def upstream_url(
        self, call: UpstreamCall, dialect: str, model: str, *, stream: bool, action: str | None = None
    ) -> str | yarl.URL:
        """The URL to call; a `yarl.URL` taken as encoded when it was signed exactly as sent (Bedrock)."""
        url = self.kind_rules.upstream_url(self, call, dialect, model, stream=stream, action=action)
        return yarl.URL(url, encoded=True) if self.kind_rules.signs_url else url

    def edits_body(self, call: UpstreamCall, dialect: str) -> bool:
        """Must a same-dialect (pass-through) body be rewritten for this upstream?"""
        return self.kind_rules.edits_body(self, call, dialect)

    def finalize_body(
        self, call: UpstreamCall, dialect: str, body: dict[str, Any], *, model: str = "", action: str | None = None
    ) -> dict[str, Any]:
        """The kind's last touches, on the body already in the upstream's dialect."""
        return self.kind_rules.finalize_body(self, call, dialect, body, model=model, action=action)

    def carry_betas(self, body: dict[str, Any], flags: list[str], model: str) -> dict[str, Any]:
        """Client betas this upstream takes in the body (Bedrock's `anthropic_beta`), on a translated call."""
        return self.kind_rules.carry_betas(body, flags, model)
    def probe(self, call: UpstreamCall) -> ProbeRequest | None:
        """A cheap authenticated GET that proves the credential works (`proxypal-engine doctor`)."""
        return self.kind_rules.probe(self, call)

    def sign_headers(
        self, call: UpstreamCall, url: str | yarl.URL, headers: dict[str, str], body: bytes
    ) -> dict[str, str]:
        """Headers that depend on the final URL and body (AWS SigV4 for Bedrock)."""
        return self.kind_rules.sign_headers(self, call, str(url), headers, body)


def build_provider(
    name: str, cfg: ProviderConfig, secrets: dict[str, str], unreadable: tuple[str, ...] = ()
) -> Provider:
    """`secrets` maps credential ids (see `ProviderConfig.key_credentials`) to resolved keys."""
    kind = kind_of(provider_kind(name, cfg))
    dialects = tuple(cfg.dialects) if cfg.dialects else kind.dialects
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=cfg.connect_timeout_s, sock_read=cfg.idle_s)
    creds = tuple(
        Credential(id=c.cred_id, priority=c.priority, kind="api_key", ref=c.key, label=c.cred_id)
        for c in cfg.key_credentials()
        if c.cred_id in secrets
    )
    login = kind.login if (kind.login_only or cfg.auth == "oauth") else None
    return Provider(
        name=name,
        kind=kind.name,
        base_url=(cfg.base_url or kind.base_url).rstrip("/"),
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
