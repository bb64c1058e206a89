"""Asks the engine running with this config (if any) through `/v0`: its status and its credentials' state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp

from proxy_engine.config import Config
from proxy_engine.paths import Paths

ASK_TIMEOUT_S = 5.0


def dial_address(cfg: Config) -> str:
    """Where a local client reaches the configured listener (a wildcard bind is reached on loopback)."""
    host = "127.0.0.1" if cfg.host in ("0.0.0.0", "", "localhost") else cfg.host
    host = "::1" if host == "::" else host
    return f"[{host}]:{cfg.port}" if ":" in host else f"{host}:{cfg.port}"


@dataclass
class EngineView:
    """What the running engine said; `answered` False when nothing (or not this engine) answered."""

    answered: bool = False
    refused_key: bool = False  # something answered /v0 but not to this home's management key
    status: dict[str, Any] = field(default_factory=dict)
    auth: dict[str, Any] = field(default_factory=dict)


async def ask_engine(cfg: Config, paths: Paths) -> EngineView:
    try:
        key = paths.management_key_file.read_text(encoding="utf-8").strip()
    except OSError:
        key = ""
    base = f"http://{dial_address(cfg)}"
    headers = {"Authorization": f"Bearer {key}"}
    view = EngineView()
    timeout = aiohttp.ClientTimeout(total=ASK_TIMEOUT_S)
    # trust_env=False: a loopback call never goes through HTTP(S)_PROXY, which would get the management key.
    async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session:
        try:
            async with session.get(base + "/v0/status", headers=headers, allow_redirects=False) as r:
                if r.status == 401:
                    view.refused_key = True
                    return view
                if r.status != 200:
                    return view
                view.status = await r.json(content_type=None)
            async with session.get(base + "/v0/auth/status", headers=headers, allow_redirects=False) as r:
                if r.status == 200:
                    view.auth = await r.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return view
    view.answered = isinstance(view.status, dict) and "pid" in view.status
    return view
