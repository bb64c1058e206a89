"""API keys in the OS keyring (service "proxypal"), referenced from the config as keyring:NAME.

The key itself is only ever handed to keyring; it is never logged, echoed or written
to the config. Where no keyring backend works (a headless box), say so plainly.
"""

from __future__ import annotations

from dataclasses import dataclass

import keyring
import keyring.backend
import keyring.errors

SERVICE = "proxypal"


@dataclass(frozen=True)
class KeyringStatus:
    usable: bool
    backend: str
    message: str


def keyring_status() -> KeyringStatus:
    """Whether `keyring` has a backend that can store secrets here."""
    try:
        kr = keyring.get_keyring()
    except keyring.errors.KeyringError as e:
        return KeyringStatus(False, "none", f"no OS keyring is usable here ({e})")
    name = f"{type(kr).__module__}.{type(kr).__name__}"
    try:
        priority = float(kr.priority)
    except Exception as e:  # backends signal "not usable here" by raising from .priority
        return KeyringStatus(False, name, f"the keyring backend {name} is not usable here ({e})")
    if priority <= 0 or type(kr).__module__.startswith("keyring.backends.fail"):
        return KeyringStatus(
            False,
            name,
            "no OS keyring is available on this machine (no Secret Service, Keychain or Credential Locker); "
            "API keys cannot be stored yet. Use `api_key: env:VAR` in the config meanwhile.",
        )
    return KeyringStatus(True, name, f"keys are stored in the OS keyring ({name})")


class SecretStoreError(Exception):
    pass


def store_api_key(name: str, secret: str) -> str:
    """Store and return the config reference (`keyring:NAME`)."""
    if not secret.strip():
        raise SecretStoreError("the key is empty")
    try:
        keyring.set_password(SERVICE, name, secret.strip())
    except keyring.errors.KeyringError as e:
        raise SecretStoreError(f"the OS keyring refused the key: {e.__class__.__name__}") from None
    return f"keyring:{name}"


def has_api_key(name: str) -> bool:
    try:
        return keyring.get_password(SERVICE, name) is not None
    except keyring.errors.KeyringError:
        return False
