"""The credential store: keyring backend, backend choice, secret references."""

from __future__ import annotations

from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from proxy_engine.paths import resolve_paths
from proxy_engine.secrets.encrypted_file import EncryptedFileStore
from proxy_engine.secrets.refs import resolve_secret_ref
from proxy_engine.secrets.store import (
    SERVICE,
    KeyringStore,
    SecretStoreError,
    keyring_unusable_reason,
    open_secret_store,
)
from tests.secrets.memkeyring import MemoryKeyring

SECRET = "sk-test-keyring-0c9f2e7d1b"


class BrokenKeyring(MemoryKeyring):
    """A backend that exists but cannot be used (a locked or misconfigured keyring)."""

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("locked")


def test_keyring_store_round_trip_lists_names_and_keeps_values_under_proxypal(
    mem_keyring: MemoryKeyring,
) -> None:
    store = KeyringStore()
    store.set("anthropic", SECRET)
    store.set("oauth:claude:ann", '{"access_token": "x"}')
    assert store.get("anthropic") == SECRET
    assert store.list_names() == ["anthropic", "oauth:claude:ann"]
    assert mem_keyring.values[(SERVICE, "anthropic")] == SECRET
    assert store.delete("anthropic") is True
    assert store.delete("anthropic") is False
    assert store.get("anthropic") is None
    assert store.list_names() == ["oauth:claude:ann"]
    assert "OS keyring" in store.describe() and "MemoryKeyring" in store.describe()
    assert SECRET not in store.describe()


def test_keyring_store_rejects_the_index_name_and_newlines() -> None:
    store = KeyringStore()
    with pytest.raises(ValueError):
        store.set("__proxypal_index__", "x")
    with pytest.raises(ValueError):
        store.set("a\nb", "x")


def test_auto_uses_the_keyring_when_it_works() -> None:
    store = open_secret_store()
    assert isinstance(store, KeyringStore)
    assert store.notice == ""


def test_auto_falls_back_to_the_encrypted_file_without_a_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    keyring.set_keyring(fail.Keyring())
    monkeypatch.setenv("PROXYPAL_PASSPHRASE", "correct horse")
    store = open_secret_store()
    assert isinstance(store, EncryptedFileStore)
    assert "no OS keyring backend" in store.notice
    assert "encrypted file" in store.describe()
    store.set("openai", SECRET)
    assert open_secret_store().get("openai") == SECRET


def test_a_keyring_that_fails_a_read_counts_as_unusable(monkeypatch: pytest.MonkeyPatch) -> None:
    keyring.set_keyring(BrokenKeyring())
    assert "failed a test read (KeyringLocked)" in (keyring_unusable_reason() or "")
    monkeypatch.setenv("PROXYPAL_PASSPHRASE", "pw")
    assert isinstance(open_secret_store(), EncryptedFileStore)


def test_existing_secrets_file_stays_in_use_when_a_keyring_appears(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXYPAL_PASSPHRASE", "pw")
    file_store = open_secret_store(backend="file")
    file_store.set("gemini", SECRET)
    store = open_secret_store()  # the in-memory keyring is usable, but the file already holds secrets
    assert isinstance(store, EncryptedFileStore)
    assert store.get("gemini") == SECRET
    assert "existing encrypted secrets file" in store.notice


def test_backend_env_forces_a_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXYPAL_SECRET_BACKEND", "keyring")
    keyring.set_keyring(fail.Keyring())
    with pytest.raises(SecretStoreError, match="keyring backend requested"):
        open_secret_store()
    monkeypatch.setenv("PROXYPAL_SECRET_BACKEND", "nonsense")
    with pytest.raises(SecretStoreError, match="must be auto, keyring or file"):
        open_secret_store()


def test_resolve_secret_ref_reads_keyring_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_secret_store()
    store.set("work", SECRET)
    monkeypatch.setenv("WORK_KEY", "env-value-123")
    assert resolve_secret_ref("keyring:work", store) == SECRET
    assert resolve_secret_ref("keyring:work") == SECRET  # opens the default store itself
    assert resolve_secret_ref("env:WORK_KEY") == "env-value-123"
    assert resolve_secret_ref("keyring:missing", store) is None
    assert resolve_secret_ref("env:NOT_SET_ANYWHERE_42") is None
    for bad in ("plain-secret", "vault:x", "keyring:"):
        with pytest.raises(ValueError) as err:
            resolve_secret_ref(bad, store)
        assert SECRET not in str(err.value)


def test_file_store_lives_under_the_data_dir(pp_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXYPAL_PASSPHRASE", "pw")
    store = open_secret_store(backend="file")
    store.set("x", "y")
    assert isinstance(store, EncryptedFileStore)
    assert store.path == resolve_paths().data_dir / "secrets" / "secrets.enc"
    assert store.path.is_relative_to(pp_home)
