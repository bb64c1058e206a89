"""Provider logins: secret store, OAuth flows, token refresh (pools and cooldowns are in `credentials`).

Engine-facing API (everything else is an implementation detail):
- `open_credential_store()`, `resolve_secret_ref("keyring:NAME" | "env:VAR")`
- `TokenRefresher` (access tokens / upstream headers for OAuth logins, refresh ahead of expiry)
- `oauth_credentials(store, provider)` to turn stored logins into pool credentials
- `cli.add_auth_subcommands(subparsers)` for `login`, `logout`, `auth ...`
"""

from __future__ import annotations

from proxy_engine.auth.oauth import AuthError, LoginDenied, LoginExpired, LoginTimeout
from proxy_engine.auth.providers import UpstreamAuth, provider_auth
from proxy_engine.auth.refresher import AuthEvent, TokenRefresher
from proxy_engine.auth.store import (
    CredentialStore,
    SecretStoreError,
    open_credential_store,
    resolve_secret_ref,
)
from proxy_engine.auth.tokens import TokenSet, list_token_ids, load_tokens, token_name
from proxy_engine.credentials.pool import Credential
from proxy_engine.kind_facts import LOGIN_CREDENTIAL_TYPES


def oauth_credentials(store: CredentialStore, provider: str, *, priority: int = 0) -> list[Credential]:
    """Pool credentials for every stored login of `provider` (blocking: call via asyncio.to_thread)."""
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
