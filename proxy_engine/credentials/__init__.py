"""The engine's credentials: pools per provider, cooldowns, and the broker the request path asks.

`pool` and `cooldowns` are the request-path data (which credential next, which ones rest);
`broker.CredentialBroker` keeps one pool per provider in step with config and logins. The
broker is imported from its module so this package stays light for `auth` and `providers`.
"""

from __future__ import annotations

from proxy_engine.credentials.call import UpstreamCall
from proxy_engine.credentials.cooldowns import Cooldown, CooldownStore
from proxy_engine.credentials.pool import ANONYMOUS, CooldownPolicy, Credential, CredentialPool, parse_retry_after

__all__ = [
    "ANONYMOUS",
    "Cooldown",
    "CooldownPolicy",
    "CooldownStore",
    "Credential",
    "CredentialPool",
    "UpstreamCall",
    "parse_retry_after",
]
