"""Does the secret store open, and can every `keyring:`/`env:` reference the config names be read?"""

from __future__ import annotations

from proxy_engine.config import Config
from proxy_engine.doctor.findings import FAIL, NOTE, OK, Finding
from proxy_engine.paths import Paths
from proxy_engine.secrets.base import SecretStore, SecretStoreError
from proxy_engine.secrets.encrypted_file import PASSPHRASE_ENV, PassphraseRequired, WrongPassphrase
from proxy_engine.secrets.refs import resolve_secret_ref
from proxy_engine.secrets.store import open_secret_store


def _fix_for(error: SecretStoreError) -> str:
    if isinstance(error, PassphraseRequired):
        return f"set {PASSPHRASE_ENV} where the engine runs, or opt into a key file: `proxypal-engine auth keyfile`"
    if isinstance(error, WrongPassphrase):
        return f"{PASSPHRASE_ENV} is not the passphrase this file was made with: set the right one"
    return (
        "move the damaged secrets file aside, then store the keys again (`proxypal-engine login PROVIDER "
        "--api-key-stdin`) and log in again"
    )


def open_store(paths: Paths) -> tuple[SecretStore | None, list[Finding]]:
    """The store (None when it cannot be opened and read) and what was found; a read proves it unlocks."""
    try:
        store = open_secret_store(paths)
        names = store.list_names()
    except SecretStoreError as e:
        return None, [Finding("secrets", "secret store", FAIL, f"cannot be opened: {e}", _fix_for(e))]
    detail = f"{store.describe()}: {len(names)} secret(s)"
    found = [Finding("secrets", "secret store", OK, detail)]
    if store.notice:
        found.append(Finding("secrets", "secret store", NOTE, store.notice))
    return store, found


def read_ref(ref: str, store: SecretStore | None, paths: Paths) -> str | None:
    """A reference's value, or None when it is missing or its store cannot be opened."""
    scheme, _, name = ref.partition(":")
    if scheme == "keyring" and store is None:
        return None
    try:
        value = resolve_secret_ref(ref, store)
    except (SecretStoreError, ValueError):
        return None
    if value is None and scheme == "keyring":
        # Where no keyring exists, `proxypal-tui tools` keeps a tool's client key in a 0600 file.
        fallback = paths.data_dir / "client-keys" / name
        if fallback.is_file():
            value = fallback.read_text(encoding="utf-8").strip() or None
    return value


def client_key_findings(cfg: Config, store: SecretStore | None, paths: Paths) -> list[Finding]:
    """Each client key the proxy checks must be readable, or that client is refused."""
    found = []
    for client in cfg.clients:
        if read_ref(client.key, store, paths):
            found.append(Finding("secrets", f"client {client.name}", OK, f"key {client.key} readable"))
        else:
            found.append(
                Finding(
                    "secrets",
                    f"client {client.name}",
                    FAIL,
                    f"its key {client.key} cannot be read, so the proxy refuses this client",
                    "point a tool at the proxy again from the Tools screen (it creates the key), "
                    "or store it under that name",
                )
            )
    return found
