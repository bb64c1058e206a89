"""Provider logins: secret store, OAuth flows, token refresh (pools and cooldowns are in `credentials`).

Engine-facing API (everything else is an implementation detail):
- `open_credential_store()`, `resolve_secret_ref("keyring:NAME" | "env:VAR")`
- `TokenRefresher` (access tokens / upstream headers for OAuth logins, refresh ahead of expiry)
- `oauth_credentials(store, provider)` to turn stored logins into pool credentials
- `cli.add_auth_subcommands(subparsers)` for `login`, `logout`, `auth ...`
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from proxy_engine.auth.errors import AuthError
    from proxy_engine.auth.oauth import LoginDenied, LoginExpired, LoginTimeout
    from proxy_engine.auth.providers import UpstreamAuth, provider_auth
    from proxy_engine.auth.refresher import AuthEvent, TokenRefresher
    from proxy_engine.auth.store import (
        CredentialStore,
        SecretStoreError,
        open_credential_store,
        resolve_secret_ref,
    )
    from proxy_engine.auth.tokens import TokenSet
    from proxy_engine.credentials.pool import Credential

# Imported on first use (PEP 562): a proxy with API keys only never needs the OAuth flows (httpx, authlib,
# joserfc), and loading them cost a third of the engine's start-up time and several MiB of memory.
_LAZY = {
    "AuthError": "proxy_engine.auth.errors",
    "LoginDenied": "proxy_engine.auth.oauth",
    "LoginExpired": "proxy_engine.auth.oauth",
    "LoginTimeout": "proxy_engine.auth.oauth",
    "UpstreamAuth": "proxy_engine.auth.providers",
    "provider_auth": "proxy_engine.auth.providers",
    "AuthEvent": "proxy_engine.auth.refresher",
    "TokenRefresher": "proxy_engine.auth.refresher",
    "CredentialStore": "proxy_engine.auth.store",
    "SecretStoreError": "proxy_engine.auth.store",
    "open_credential_store": "proxy_engine.auth.store",
    "resolve_secret_ref": "proxy_engine.auth.store",
    "TokenSet": "proxy_engine.auth.tokens",
    "Credential": "proxy_engine.credentials.pool",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def oauth_credentials(store: CredentialStore, provider: str, *, priority: int = 0) -> list[Credential]:
    """Pool credentials for every stored login of `provider` (blocking: call via asyncio.to_thread)."""
    from proxy_engine.auth.tokens import list_token_ids, load_tokens, token_name
    from proxy_engine.credentials.pool import Credential
    from proxy_engine.kind_facts import LOGIN_CREDENTIAL_TYPES

    out = []
    for prov, cred in list_token_ids(store, provider):
        tokens = load_tokens(store, prov, cred)
        kind = LOGIN_CREDENTIAL_TYPES.get(prov, "oauth")
        label = tokens.account if tokens else cred
        out.append(Credential(id=cred, priority=priority, kind=kind, ref=token_name(prov, cred), label=label))
    return out


__all__ = [
    "AuthError",
    "AuthEvent",
    "Credential",
    "CredentialStore",
    "LoginDenied",
    "LoginExpired",
    "LoginTimeout",
    "SecretStoreError",
    "TokenRefresher",
    "TokenSet",
    "UpstreamAuth",
    "oauth_credentials",
    "open_credential_store",
    "provider_auth",
    "resolve_secret_ref",
]
