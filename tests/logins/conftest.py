"""Fixtures for the login tests: a private PROXYPAL_HOME, an in-memory keyring, a live authorization server."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.logins.oauth_server import FakeIdP
from tests.secrets.isolation import mem_keyring, pp_home  # noqa: F401 (autouse fixtures)


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
