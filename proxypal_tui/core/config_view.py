"""The config file as the TUI sees it: read and checked in this one place.

The app re-reads it after a save, a reload or a login; the Config screen reads its text and
checks an edit here; adding a key reference reads it here too; the supervisor finds the
engine's address here (`listen_settings`, lenient: even a broken file names a port). The view
keeps what the screens need from the last valid version (budgets, providers, address), so a
broken file on disk leaves the last good view while the engine keeps serving the old config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from proxy_engine.config import (
    LOGIN_ONLY_KINDS,
    Config,
    ConfigError,
    candidate_pairs,
    parse_config_text,
    provider_kind,
)

KEYLESS_KINDS = frozenset({*LOGIN_ONLY_KINDS, "bedrock"})  # credentials from logins or AWS, never a key
DEFAULT_LISTEN = "127.0.0.1:8317"


class ConfigView:
    """The last valid config's budgets, providers and listen address; `version` counts valid reads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.version = 0
        self.budgets: dict[str, Any] = {}
        self.provider_kinds: dict[str, str] = {}
        self.listen = DEFAULT_LISTEN
        self.client_keys = False
        self.model_names: list[str] = []  # friendly names, then provider/model pairs: the replay picker's list

    def read_text(self) -> str:
        """The file as it is on disk now; OSError when it cannot be read."""
        return self.path.read_text(encoding="utf-8")

    def check(self, text: str) -> Config:
        """Validate text with the engine's own schema; ConfigError lists the problems."""
        return parse_config_text(text, str(self.path))

    def reload(self) -> None:
        """Read and check the file; an unreadable or invalid one keeps the previous view."""
        try:
            cfg = self.check(self.read_text())
        except (OSError, ConfigError):
            return
        self.budgets = cfg.budgets.model_dump()
        self.provider_kinds = {name: provider_kind(name, p) for name, p in cfg.providers.items()}
        self.listen = f"{cfg.host}:{cfg.port}"
        self.client_keys = bool(cfg.clients)
        pairs = dict.fromkeys(f"{p}/{m}" for cands in cfg.models.values() for p, m in candidate_pairs(cands))
        self.model_names = [*cfg.models, *pairs]
        self.version += 1

    @property
    def client_keys_label(self) -> str:
        """What a tool must send: with `clients:` every call needs one of their keys; without, none (loopback only)."""
        return "required" if self.client_keys else "off (loopback only)"

    @property
    def key_providers(self) -> list[str]:
        """Configured providers that take an API key (not the login-only kinds), sorted."""
        return sorted(n for n, kind in self.provider_kinds.items() if kind not in KEYLESS_KINDS)


def listen_settings(path: Path) -> tuple[str, int, Path | None]:
    """Host, port and events-socket override, read leniently: the supervisor must find an engine
    (or start one) even when the file has a mistake the schema rejects, or cannot be read."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    host = str(data.get("host") or "127.0.0.1")
    port = data.get("port", 8317)
    port = port if isinstance(port, int) else 8317
    events = data.get("events") if isinstance(data.get("events"), dict) else {}
    sock = events.get("socket") if events else None
    return host, port, Path(sock).expanduser() if sock else None
