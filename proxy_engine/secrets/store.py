"""One place for every secret: the OS keyring, or an encrypted file when there is none.

API keys, OAuth tokens and service-account keys all go through a `SecretStore`.
The engine's config only *references* secrets (`keyring:NAME`, `env:VAR`);
`resolve_secret_ref` turns such a reference into the value through the store.

The store API is synchronous (keyring backends are); async callers wrap it in
`asyncio.to_thread` so a slow D-Bus round trip never blocks the event loop.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import keyring
import keyring.backend
import keyring.errors
from keyring.backends import chainer, fail

from proxy_engine.paths import Paths, resolve_paths
from proxy_engine.secrets.base import INDEX_NAME as _INDEX
from proxy_engine.secrets.base import SecretStore, SecretStoreError
from proxy_engine.secrets.base import check_secret_name as _check_name

SERVICE = "proxypal"

BACKEND_ENV = "PROXYPAL_SECRET_BACKEND"  # "keyring" | "file" | "auto" (default)


class KeyringStore(SecretStore):
    """Secrets in the OS keyring under service `proxypal`, one entry per name."""

    def __init__(self, backend: keyring.backend.KeyringBackend | None = None, service: str = SERVICE) -> None:
        self._backend = backend if backend is not None else keyring.get_keyring()
        self._service = service

    @property
    def backend(self) -> keyring.backend.KeyringBackend:
        return self._backend

    def _call(self, what: str, fn: Callable[[], object]) -> object:
        try:
            return fn()
        except keyring.errors.KeyringError as exc:
            # Backend messages describe the backend, not the value; keep only the class name to be safe.
            raise SecretStoreError(f"OS keyring failed to {what}: {type(exc).__name__}") from None

    def _index(self) -> list[str]:
        raw = self._call("read the index", lambda: self._backend.get_password(self._service, _INDEX))
        if not raw:
            return []
        try:
            names = json.loads(str(raw))
        except ValueError:
            return []
        return sorted({n for n in names if isinstance(n, str)})

    def _write_index(self, names: list[str]) -> None:
        data = json.dumps(sorted(set(names)))
        self._call("write the index", lambda: self._backend.set_password(self._service, _INDEX, data))

    def get(self, name: str) -> str | None:
        _check_name(name)
        value = self._call("read a secret", lambda: self._backend.get_password(self._service, name))
        return None if value is None else str(value)

    def set(self, name: str, value: str) -> None:
        _check_name(name)
        self._call("store a secret", lambda: self._backend.set_password(self._service, name, value))
        names = self._index()
        if name not in names:
            self._write_index([*names, name])

    def delete(self, name: str) -> bool:
        _check_name(name)
        existed = self.get(name) is not None
        if existed:
            try:
                self._backend.delete_password(self._service, name)
            except keyring.errors.PasswordDeleteError:
                existed = False
            except keyring.errors.KeyringError as exc:
                raise SecretStoreError(f"OS keyring failed to delete a secret: {type(exc).__name__}") from None
        names = self._index()
        if name in names:
            self._write_index([n for n in names if n != name])
        return existed

    def list_names(self) -> list[str]:
        return self._index()

    def describe(self) -> str:
        kind = type(self._backend)
        return f"OS keyring ({kind.__module__}.{kind.__name__}), service '{self._service}'"


def keyring_unusable_reason(backend: keyring.backend.KeyringBackend | None = None) -> str | None:
    """Why the keyring can't hold our secrets, or None if it looks usable.

    Headless boxes usually get `fail.Keyring` or a chainer with nothing to chain; a
    locked or broken backend shows up as an error on a harmless read.
    """
    kr = backend if backend is not None else keyring.get_keyring()
    if isinstance(kr, fail.Keyring):
        return "no OS keyring backend is available"
    if isinstance(kr, chainer.ChainerBackend) and not kr.backends:
        return "the OS keyring has no backends to use"
    if type(kr).__module__.startswith("keyring.backends.null"):
        return "the OS keyring is the null backend (it keeps nothing)"
    try:
        kr.get_password(SERVICE, _INDEX)
    except Exception as exc:  # any failure on a read means "not usable": report it and fall back
        return f"the OS keyring failed a test read ({type(exc).__name__})"
    return None


def open_secret_store(
    paths: Paths | None = None,
    *,
    backend: str | None = None,
    passphrase: Callable[[], str] | None = None,
) -> SecretStore:
    """Open the store the engine and CLI share.

    backend: "keyring", "file" or "auto" (default; `PROXYPAL_SECRET_BACKEND` overrides).
    Auto picks the encrypted file if it already exists (secrets never silently "vanish"
    when a keyring appears later), else the OS keyring when usable, else the file.
    passphrase: called only if the file store needs a passphrase and
    `PROXYPAL_PASSPHRASE` is unset (the CLI passes a getpass prompt).
    """
    from proxy_engine.secrets.encrypted_file import EncryptedFileStore

    paths = paths or resolve_paths()
    choice = (backend or os.environ.get(BACKEND_ENV) or "auto").strip().lower()
    if choice not in {"auto", "keyring", "file"}:
        raise SecretStoreError(f"{BACKEND_ENV} must be auto, keyring or file, not {choice!r}")
    file_dir = paths.data_dir / "secrets"
    if choice == "keyring":
        reason = keyring_unusable_reason()
        if reason:
            raise SecretStoreError(f"keyring backend requested but {reason}")
        return KeyringStore()
    if choice == "file":
        store = EncryptedFileStore(file_dir, passphrase=passphrase)
        store.notice = f"encrypted file chosen by {BACKEND_ENV}=file"
        return store
    if EncryptedFileStore.exists(file_dir):
        store = EncryptedFileStore(file_dir, passphrase=passphrase)
        store.notice = "using the existing encrypted secrets file"
        return store
    reason = keyring_unusable_reason()
    if reason is None:
        return KeyringStore()
    store = EncryptedFileStore(file_dir, passphrase=passphrase)
    store.notice = f"{reason}; secrets are kept in an encrypted file instead"
    return store
