"""The config as the request path uses it: secrets resolved, providers and router built.

Built off the event loop (resolving `keyring:` may block) and swapped in whole, so
an in-flight request keeps the runtime it started with.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass

from proxy_engine.config import Config, ConfigIssue, LoadedConfig, is_loopback
from proxy_engine.logs import REDACTOR
from proxy_engine.paths import resolve_paths
from proxy_engine.providers import Provider, build_provider
from proxy_engine.routing import Router
from proxy_engine.usage.prices import PriceBook

log = logging.getLogger("proxy_engine.runtime")


def open_bind_issue(runtime: Runtime, bound_host: str) -> ConfigIssue | None:
    """A config that would leave a non-loopback listener without a usable client key is refused."""
    if is_loopback(bound_host) or runtime.client_keys:
        return None
    loaded = runtime.loaded
    why = "has no `clients:`" if not runtime.config.clients else "has no client key that can be read"
    return ConfigIssue(str(loaded.path or "<config>"), _line_of_key(loaded.text, "clients"),
                       f"clients: the engine listens on {bound_host}, which is not loopback, and this config {why}; "
                       "it would let anyone on the network use the proxy")  # fmt: skip


def _line_of_key(text: str, key: str) -> int | None:
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith(key + ":"):
            return n
    return None


def resolve_ref(ref: str | None) -> str | None:
    if not ref:
        return None
    from proxy_engine.secrets.refs import resolve_secret_ref

    value = resolve_secret_ref(ref)
    scheme, _, name = ref.partition(":")
    if value is None and scheme == "keyring":
        # Where no keyring exists, `proxypal-tui tools` keeps a tool's client key in a 0600 file.
        fallback = resolve_paths().data_dir / "client-keys" / name
        if fallback.is_file():
            value = fallback.read_text(encoding="utf-8").strip() or None
    return value


@dataclass(frozen=True)
class Runtime:
    loaded: LoadedConfig
    providers: dict[str, Provider]
    router: Router
    prices: PriceBook
    client_keys: tuple[tuple[str, bytes], ...]
    keys_required: bool
    max_body: int

    @property
    def config(self) -> Config:
        return self.loaded.config

    def client_for(self, key: str | None) -> str | None:
        """The client name for a presented key; constant-time over every configured key."""
        if not self.keys_required:
            return "local"
        presented = (key or "").encode("utf-8", "surrogateescape")  # a header may carry any bytes
        match = None
        for name, secret in self.client_keys:
            if hmac.compare_digest(presented, secret) and match is None:
                match = name
        return match


def build_runtime(loaded: LoadedConfig, bound_host: str) -> Runtime:
    """bound_host: the address the engine actually listens on (`--host` wins over the file, and a reload
    cannot move the socket), so key enforcement follows it rather than the file's `host`."""
    cfg = loaded.config
    providers = {}
    for name, pc in cfg.providers.items():
        secrets, unreadable = {}, []
        for cred in pc.key_credentials():
            value = resolve_ref(cred.key)
            if value:
                REDACTOR.add(value)
                secrets[cred.cred_id] = value
            else:
                unreadable.append(cred.key)
                log.error("provider %r: its key %s cannot be read; that key is left out", name, cred.key)
        providers[name] = build_provider(name, pc, secrets, tuple(unreadable))
    keys = []
    for client in cfg.clients:
        secret = resolve_ref(client.key)
        if secret:
            REDACTOR.add(secret)
            keys.append((client.name, secret.encode()))
        else:
            log.error("client %r: its key %s cannot be read; that client is refused", client.name, client.key)
    return Runtime(
        loaded=loaded,
        providers=providers,
        router=Router(cfg, providers),
        prices=PriceBook(cfg.prices),
        client_keys=tuple(keys),
        keys_required=bool(cfg.clients) or not is_loopback(bound_host),
        max_body=int(cfg.max_body_mb * 1024 * 1024),
    )
