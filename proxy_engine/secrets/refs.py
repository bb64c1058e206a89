"""Config references to secrets (`keyring:NAME`, `env:VAR`) turned into values.

Apart from `store.py` so that resolving `env:` references (all an API-key proxy may have) never loads
keyring and its backends: the store is imported only for a `keyring:` reference.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from proxy_engine.secrets.base import SecretStore


def resolve_secret_ref(ref: str, store: SecretStore | None = None) -> str | None:
    """Turn a config reference into its value: "keyring:NAME" via the store, "env:VAR" via the environment.

    Returns None when the secret is missing. The store is opened lazily (only for keyring refs).
    """
    kind, sep, name = ref.partition(":")
    if not sep or not name:
        raise ValueError("secret reference must look like keyring:NAME or env:VAR")
    kind = kind.strip().lower()
    name = name.strip()
    if kind == "env":
        value = os.environ.get(name)
        return value if value else None
    if kind == "keyring":
        if store is None:
            from proxy_engine.secrets.store import open_secret_store

            store = open_secret_store()
        return store.get(name)
    raise ValueError(f"unknown secret reference kind {kind!r} (use keyring: or env:)")
