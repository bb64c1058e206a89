"""Fixtures for the TUI tests: a private PROXYPAL_HOME, a scripted engine, a file keyring, app builders."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from proxy_engine.paths import Paths, resolve_paths
from proxypal_tui.app import ProxyPalApp
from proxypal_tui.core.engine_state import Backoff, EngineState
from proxypal_tui.core.settings import TuiSettings
from proxypal_tui.options import AppOptions
from tests.tui.feed_script import CONFIG_TEXT, FIXED_NOW, SNAP_PORT, demo_script
from tests.tui.standin import Script, ScriptedEngine, StandinThread

REPO = Path(__file__).resolve().parents[2]
SNAP_HOME = Path("/tmp/proxypal-tui-snap")  # fixed: paths show on screen, snapshots must not vary


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    monkeypatch.setenv("PROXYPAL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PROXYPAL_CONFIG", raising=False)
    paths = resolve_paths()
    paths.ensure()
    return paths


@pytest.fixture
def snap_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Paths]:
    shutil.rmtree(SNAP_HOME, ignore_errors=True)
    monkeypatch.setenv("PROXYPAL_HOME", str(SNAP_HOME))
    monkeypatch.delenv("PROXYPAL_CONFIG", raising=False)
    paths = resolve_paths()
    paths.ensure()
    yield paths
    shutil.rmtree(SNAP_HOME, ignore_errors=True)


@pytest.fixture
def file_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real keyring backend (a JSON file) selected the way users select one: PYTHON_KEYRING_BACKEND."""
    import keyring
    import keyring.core

    store = tmp_path / "keyring.json"
    monkeypatch.setenv("PROXYPAL_TEST_KEYRING_FILE", str(store))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.tui.file_keyring.FileKeyring")
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.core.load_keyring("tests.tui.file_keyring.FileKeyring"))
    yield store
    keyring.set_keyring(previous)


def app_options(paths: Paths, **overrides: Any) -> AppOptions:
    base: dict[str, Any] = dict(
        config_path=paths.config_file,
        paths=paths,
        settings=TuiSettings(),
        theme_dirs=[REPO / "themes"],
        watch_themes=False,
        sample_engine=False,
        backoff=Backoff(base=0.05, factor=2.0, cap=0.2, max_crashes=3, stable_after=60.0),
        reload_wait=2.0,
    )
    base.update(overrides)
    return AppOptions(**base)


def scripted(paths: Paths, script: Script | None = None, port: int = 0, config: str | None = None) -> StandinThread:
    """Start a scripted engine and write a config that points at it."""
    thread = StandinThread(ScriptedEngine(paths, port, script or demo_script()))
    engine = thread.start()
    text = (config or CONFIG_TEXT).replace(f"port: {SNAP_PORT}", f"port: {engine.port}")
    paths.config_file.write_text(text)
    os.chmod(paths.config_file, 0o600)
    return thread


@pytest.fixture
def standin(home: Paths) -> Iterator[StandinThread]:
    thread = scripted(home)
    yield thread
    thread.stop()


async def wait_for(predicate: Callable[[], bool], pilot: Any = None, within: float = 10.0) -> None:
    """Poll (with short pauses) until `predicate()` holds; fail with a clear message otherwise."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        if pilot is not None:
            await pilot.pause(0.02)
        else:
            await asyncio.sleep(0.02)


async def until_ready(app: ProxyPalApp, pilot: Any, within: float = 10.0) -> None:
    await wait_for(lambda: app.engine_status.state is EngineState.READY, pilot, within)


__all__ = ["FIXED_NOW", "app_options", "scripted", "until_ready", "wait_for"]
