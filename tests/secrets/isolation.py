"""A private PROXYPAL_HOME and an in-memory keyring for every test that touches secrets.

Shared by the conftests of tests/secrets and tests/logins (each imports both fixtures).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from tests.secrets.memkeyring import MemoryKeyring


@pytest.fixture(autouse=True)
def pp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "pphome"
    monkeypatch.setenv("PROXYPAL_HOME", str(home))
    for var in (
        "PROXYPAL_CONFIG",
        "PROXYPAL_PASSPHRASE",
        "PROXYPAL_SECRET_BACKEND",
        "PROXYPAL_AUTH_ENDPOINTS",
    ):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture(autouse=True)
def mem_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    """Every test gets a fresh in-memory keyring; the real one is never reached (not even probed:
    if keyring has not chosen a backend yet, it is told to pick the failing one)."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)
