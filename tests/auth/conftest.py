"""Fixtures for the auth tests: a private PROXYPAL_HOME, an in-memory keyring, a live authorization server."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import keyring
import pytest

from tests.auth.memkeyring import MemoryKeyring
from tests.auth.oauth_server import FakeIdP


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
def mem_keyring(monkeypatch: pytest.MonkeyPatch) -> MemoryKeyring:
    """Every test gets a fresh in-memory keyring; the real one is never reached (not even probed:
    if keyring has not chosen a backend yet, it is told to pick the failing one)."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
async def idp() -> FakeIdP:
    server = await FakeIdP().start()
    yield server
    await server.close()


@pytest.fixture
async def http() -> httpx.AsyncClient:
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield client


@pytest.fixture
def auth_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog
