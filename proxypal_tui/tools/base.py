"""What every coding tool knows about itself: where it lives, what it points at, how to point it here."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import ClassVar

from proxypal_tui.tools.backups import read_text
from proxypal_tui.tools.diffs import display_path
from proxypal_tui.tools.model import FileEdit, Target, ToolError, ToolState, ToolStatus


class CodingTool:
    """One tool family. Subclasses read and plan edits of the tool's own files under a given HOME."""

    name: ClassVar[str]
    title: ClassVar[str]
    binaries: ClassVar[tuple[str, ...]] = ()
    # Home-relative paths (globs allowed) whose presence shows the tool is installed.
    markers: ClassVar[tuple[str, ...]] = ()
    # Home-relative globs that prove an install as a binary would (an editor extension's folder).
    install_markers: ClassVar[tuple[str, ...]] = ()
    # Field names whose values are secrets, masked in diffs.
    secret_fields: ClassVar[tuple[str, ...]] = ()
    # Instruction-only tools: no file can be written safely, the user pastes settings.
    manual: ClassVar[bool] = False
    needs_models: ClassVar[bool] = False

    def files(self, home: Path) -> list[Path]:
        return []

    def installed(self, home: Path, search_path: str | None = None) -> bool:
        """Found at all: its binary on PATH or its files under home."""
        return self.on_path(search_path, home) or self.has_files(home)

    def on_path(self, search_path: str | None = None, home: Path | None = None) -> bool:
        if any(shutil.which(b, path=search_path) for b in self.binaries):
            return True
        return home is not None and any(next(home.glob(m), None) is not None for m in self.install_markers)

    def has_files(self, home: Path) -> bool:
        return any(next(home.glob(m), None) is not None for m in self.markers)

    def found_as(self, home: Path, search_path: str | None = None) -> ToolStatus:
        """INSTALLED only when the binary is on PATH; its files alone are CONFIG_ONLY."""
        if self.on_path(search_path, home):
            return ToolStatus.INSTALLED
        return ToolStatus.CONFIG_ONLY if self.has_files(home) else ToolStatus.NOT_INSTALLED

    def current_url(self, home: Path) -> str | None:
        """The base URL the tool's own files point it at, or None when they set none."""
        return None

    def current_key(self, home: Path) -> str | None:
        """The key the tool's own files send to the proxy (for `doctor`), or None when they hold none we read."""
        return None

    def plan(self, home: Path, target: Target) -> list[FileEdit]:
        """The full new text of every file to write (unchanged files included)."""
        return []

    def notes(self, home: Path, target: Target) -> list[str]:
        return []

    def instructions(self, target: Target, key_label: str = "") -> str:
        return ""

    def state(self, home: Path, port: int, host: str = "127.0.0.1", search_path: str | None = None) -> ToolState:
        """Status read from the tool's files (never from this process's environment)."""
        files = tuple(self.files(home))
        probe = Target(port=port, client_key="", host=host)
        if self.manual:
            found = self.installed(home, search_path)
            status = ToolStatus.MANUAL if found else ToolStatus.NOT_INSTALLED
            return ToolState(self.name, self.title, status, "manual: apply shows the steps", files)
        try:
            url = self.current_url(home)
        except ToolError as e:
            return ToolState(self.name, self.title, ToolStatus.INSTALLED, str(e), files)
        where = ", ".join(display_path(f, home) for f in files)
        if url and probe.points_here(url):
            return ToolState(self.name, self.title, ToolStatus.POINTED_HERE, url, files)
        if url:
            return ToolState(self.name, self.title, ToolStatus.POINTED_ELSEWHERE, url, files)
        return ToolState(self.name, self.title, self.found_as(home, search_path), where, files)

    # helpers for subclasses
    @staticmethod
    def read(path: Path) -> str | None:
        return read_text(path)

    def require_models(self, target: Target) -> None:
        if self.needs_models and not target.models:
            raise ToolError(
                f"{self.title} needs at least one model name: add one under `models:` in the ProxyPal config "
                "(for example `Smart: {anthropic: claude-sonnet-4-5}`), then apply again"
            )


def pick_by_hint(models: dict[str, tuple[str, ...]], hint: str) -> str | None:
    """The first friendly name whose own name or upstream models mention hint (e.g. 'opus')."""
    for friendly, upstream in models.items():
        if hint in friendly.lower() or any(hint in m.lower() for m in upstream):
            return friendly
    return None
