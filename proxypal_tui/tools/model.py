"""Plain data shared by the tool registry, the file writer, the CLI and the screen."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

# Value written for tools when the proxy does not check client keys (loopback, no `clients:`).
PLACEHOLDER_KEY = "proxypal"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "0.0.0.0")


class ToolError(Exception):
    """A problem the user must fix (unreadable file, nothing to undo, ...); the message says how."""


class ToolStatus(enum.Enum):
    NOT_INSTALLED = "not installed"
    INSTALLED = "installed"  # its binary is on PATH
    CONFIG_ONLY = "config only"  # its files are there but no binary: maybe removed, maybe elsewhere
    POINTED_HERE = "pointed at this proxy"
    POINTED_ELSEWHERE = "pointed elsewhere"
    MANUAL = "manual setup"


@dataclass(frozen=True)
class Target:
    """Where a tool should send its requests and with which key."""

    port: int
    client_key: str
    models: dict[str, tuple[str, ...]] = field(default_factory=dict)  # friendly name -> upstream models
    host: str = "127.0.0.1"
    keys_enforced: bool = False

    @property
    def root_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def openai_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def model_names(self) -> list[str]:
        return list(self.models)

    def points_here(self, url: str | None) -> bool:
        """True when url addresses this proxy (any loopback spelling of the host, same port)."""
        if not url:
            return False
        try:
            parts = urlsplit(url.strip())
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return False
        hosts = {self.host, *LOOPBACK_NAMES} if self.host in LOOPBACK_NAMES else {self.host}
        return parts.hostname in hosts and port == self.port


@dataclass(frozen=True)
class FileEdit:
    """The full new text for one file; before is None when the file does not exist yet."""

    path: Path
    before: str | None
    after: str
    holds_secret: bool = True

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class ToolState:
    name: str
    title: str
    status: ToolStatus
    detail: str
    files: tuple[Path, ...]


@dataclass
class ApplyResult:
    tool: str
    diff: str
    changed: list[Path]
    notes: list[str]
    dry_run: bool
    backup_dir: Path | None = None


@dataclass
class UndoResult:
    tool: str
    diff: str
    restored: list[Path]
    removed: list[Path]
    notes: list[str] = field(default_factory=list)
