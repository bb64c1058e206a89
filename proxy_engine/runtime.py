"""The config as the request path uses it: secrets resolved, providers and router built.

Built off the event loop (resolving `keyring:` may block) and swapped in whole, so
an in-flight request keeps the runtime it started with.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass

from proxy_engine.config import Config, LoadedConfig
from proxy_engine.logs import REDACTOR
from proxy_engine.providers import Provider, build_provider
from proxy_engine.routing import Router
from proxy_engine.usage.prices import PriceBook


def resolve_ref(ref: str | None) -> str | None:
    if not ref:
        return None
    scheme, _, name = ref.partition(":")
    if scheme == "env":
        return os.environ.get(name) or None
    from proxy_engine.auth import resolve_secret_ref

    return resolve_secret_ref(ref)


@dataclass(frozen=True)
class Runtime:
    loaded: LoadedConfig
    providers: dict[str, Provider]
    router: Router
    prices: PriceBook
    client_keys: tuple[tuple[str, bytes], ...]
    max_body: int

    @property
    def config(self) -> Config:
        return self.loaded.config

    def client_for(self, key: str | None) -> str | None:
        """The client name for a presented key; constant-time over every configured key."""
        if not self.client_keys:
            return "local"
        presented = (key or "").encode()
        match = None
        for name, secret in self.client_keys:
            if hmac.compare_digest(presented, secret) and match is None:
                match = name
        return match


def build_runtime(loaded: LoadedConfig) -> Runtime:
    cfg = loaded.config
    providers = {}
    for name, pc in cfg.providers.items():
        key = resolve_ref(pc.api_key)
        REDACTOR.add(key)
        providers[name] = build_provider(name, pc, key)
    keys = []
    for client in cfg.clients:
        secret = resolve_ref(client.key)
        if secret:
            REDACTOR.add(secret)
            keys.append((client.name, secret.encode()))
    return Runtime(
        loaded=loaded,
        providers=providers,
        router=Router(cfg, providers),
        prices=PriceBook(cfg.prices),
        client_keys=tuple(keys),
        max_body=int(cfg.max_body_mb * 1024 * 1024),
    )
