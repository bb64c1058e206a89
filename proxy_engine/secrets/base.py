"""What every secret store shares: the interface, its error, and the rule for secret names.

Kept apart from `store.py` so the keyring store and the encrypted-file store both build on
it without importing each other.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

# Keyring backends cannot enumerate entries, so the store keeps its own list of names under this one.
INDEX_NAME = "__proxypal_index__"


class SecretStoreError(RuntimeError):
    """The secret store cannot be used. Messages never contain secret values."""


class SecretStore(ABC):
    """get/set/delete/list over named secrets. Names are not secret; values are."""

    #: Why this backend was chosen (e.g. "no usable OS keyring"), shown next to describe().
    notice: str = ""

    @abstractmethod
    def get(self, name: str) -> str | None: ...

    @abstractmethod
    def set(self, name: str, value: str) -> None: ...

    @abstractmethod
    def delete(self, name: str) -> bool:
        """Remove a secret; True if it existed."""

    @abstractmethod
    def list_names(self) -> list[str]: ...

    @abstractmethod
    def describe(self) -> str:
        """A one-line, secret-free description of where secrets live."""


def check_secret_name(name: str) -> None:
    """Names go into an index and file keys: no empty ones, no control characters, not the index's own."""
    if not name or name == INDEX_NAME or any(c in name for c in "\n\r\0"):
        raise ValueError(f"invalid secret name {name!r}")
