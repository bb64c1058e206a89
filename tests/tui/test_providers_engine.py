"""The Providers screen against the real engine (a subprocess the app starts) and real logins.

Secrets go to the encrypted-file store (PROXYPAL_SECRET_BACKEND=file); OAuth endpoints point at the
local authorization server (tests/logins/oauth_server.py); the upstream that makes a credential cool
down is a fake OpenAI server answering 429 (tests/fakes). Every login runs `proxypal-engine login
--json` as a subprocess of the app, as it does for users.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from textual.widgets import DataTable, Input, Static

from proxy_engine.paths import Paths
from proxypal_tui.app import ProxyPalApp
from proxypal_tui.screens.add_key import AddKeyScreen
from proxypal_tui.screens.login import LoginScreen
from proxypal_tui.screens.providers import ProvidersScreen
from tests.fakes import FakeOpenAI, FakeServerThread
from tests.logins.oauth_server import FakeIdP
from tests.tui.conftest import app_options, until_ready, wait_for
from tests.tui.login_env import login_env, secrets_file_store

SECRET = "sk-tui-SECRET-4d3c2b1a0f9e"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def idp() -> AsyncIterator[FakeIdP]:
    server = await FakeIdP().start()
    yield server
    await server.close()


@pytest.fixture
def upstream() -> Iterator[FakeOpenAI]:
    with FakeServerThread(FakeOpenAI()) as fake:
        fake.script(status=429, retry_after=120, error_message="slow down")
        yield fake


def engine_app(paths: Paths, providers: str, idp: FakeIdP | None = None, **env: str) -> ProxyPalApp:
    paths.config_file.write_text(f"port: {free_port()}\nhost: 127.0.0.1\nproviders:\n{providers}")
    environment = login_env(paths.config_file.parent, idp) | env
    return ProxyPalApp(app_options(paths, engine_env=environment))


def rows(app: ProxyPalApp) -> dict[str, list[str]]:
    app.redraw_now()
    table = app.screen.query_one("#providers-table", DataTable)
    return {str(table.get_row_at(i)[0]) + "/" + str(table.get_row_at(i)[1]): [str(c) for c in table.get_row_at(i)]
            for i in range(table.row_count)}  # fmt: skip


async def test_device_login_and_a_masked_api_key_from_the_providers_screen(home: Paths, idp: FakeIdP) -> None:
    app = engine_app(home, "  copilot: {}\n", idp)
    screens: list[str] = []  # every picture taken along the way, to prove the key never shows
    async with app.run_test(size=(100, 32)) as pilot:
        await until_ready(app, pilot, within=60)
        await pilot.press("p")
        await wait_for(lambda: app.live.auth.loads > 0, pilot)
        assert isinstance(app.screen, ProvidersScreen)
        assert rows(app)["copilot/copilot"][3] == "missing"

        # Device code: o, Enter on the preselected "GitHub Copilot — device code".
        await pilot.press("o")
        dialog = app.screen
        assert isinstance(dialog, LoginScreen)
        await pilot.press("enter")
        await wait_for(lambda: bool(dialog.copy_text), pilot, within=30)
        info = str(dialog.query_one("#login-info", Static).render())
        assert dialog.copy_text in info and idp.base_url in info  # the code and where to type it
        idp.approve_device(dialog.copy_text)  # the user types the code on another device
        await wait_for(
            lambda: "✓ Logged in to copilot as ann-gh" in str(dialog.query_one("#login-info").render()),
            pilot,
            within=30,
        )
        await wait_for(lambda: app.live.auth.find("copilot/ann-gh") is not None, pilot, within=10)
        await pilot.press("escape")
        assert rows(app)["copilot/ann-gh"][2:4] == ["oauth", "valid"]

        # An API key through the masked input; the config gets the reference.
        await pilot.press("a")
        assert isinstance(app.screen, AddKeyScreen)
        assert app.screen.query_one("#add-key-secret", Input).password
        await pilot.press(*SECRET)
        screens.append(app.export_screenshot())
        await pilot.press("enter")
        screens.append(app.export_screenshot())
        await wait_for(lambda: isinstance(app.screen, ProvidersScreen), pilot, within=30)
        await wait_for(lambda: app.live.auth.find("anthropic/keyring:anthropic") is not None, pilot, within=15)
        await wait_for(lambda: app.live.auth.find("anthropic/keyring:anthropic").state == "valid", pilot, within=15)
        screens.append(app.export_screenshot())
        assert rows(app)["anthropic/keyring:anthropic"][2:4] == ["api_key", "valid"]
        await pilot.press("l")
        screens.append(app.export_screenshot())
        logs = [ln.message for ln in app.live.logs.tail(1000)]
        await pilot.press("q")

    assert await asyncio.to_thread(secrets_file_store(home.config_file.parent).get, "anthropic") == SECRET
    config = home.config_file.read_text()
    assert "api_key: keyring:anthropic" in config and SECRET not in config
    engine_log = (home.log_dir / "engine.log").read_text()
    for where in [*screens, *logs, engine_log]:
        assert SECRET not in where
    for secret in idp.issued:
        assert secret not in engine_log and all(secret not in s for s in screens)


async def test_a_cooldown_is_listed_live_and_cleared_with_x(home: Paths, upstream: FakeOpenAI) -> None:
    provider = f"  openai: {{kind: openai, base_url: {upstream.base_url}, api_key: env:OPENAI_API_KEY}}\n"
    app = engine_app(home, provider, None, OPENAI_API_KEY=upstream.api_key)
    async with app.run_test(size=(100, 32)) as pilot:
        await until_ready(app, pilot, within=60)
        await pilot.press("p")
        await wait_for(lambda: app.live.auth.loads > 0, pilot)
        key = "openai/env:OPENAI_API_KEY"
        assert rows(app)[key][3] == "valid"

        listen = app.engine_status.listen
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
        async with httpx.AsyncClient() as client:
            answer = await client.post(f"http://{listen}/v1/chat/completions", json=body, timeout=10)
        assert answer.status_code == 429
        await wait_for(lambda: bool(app.live.auth.find(key).cooldowns), pilot, within=10)  # the live event
        row = rows(app)[key]
        assert row[3] == "cooling" and row[4].startswith("gpt-4o ") and ("m" in row[4] or "s" in row[4])
        await pilot.pause()
        detail = str(app.screen.query_one("#credential-detail", Static).render())
        assert "cooldown gpt-4o:" in detail and "left" in detail

        await pilot.press("x")  # clear the highlighted (only) credential's cooldowns
        await wait_for(lambda: not app.live.auth.find(key).cooldowns, pilot, within=10)
        assert rows(app)[key][3:5] == ["valid", ""]
        status = await app.supervisor.api.auth_status()  # type: ignore[union-attr]
        openai = next(p for p in status["providers"] if p["name"] == "openai")
        assert openai["credentials"][0]["cooldowns"] == []
        await pilot.press("q")
