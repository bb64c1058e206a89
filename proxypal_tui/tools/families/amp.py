"""Amp: `amp.url` in ~/.config/amp/settings.json sends Amp's model and service calls to the proxy."""

from __future__ import annotations

from pathlib import Path

from proxypal_tui.tools.base import CodingTool
from proxypal_tui.tools.edit_json import JsonDocument
from proxypal_tui.tools.model import FileEdit, Target


class Amp(CodingTool):
    name = "amp"
    title = "Amp"
    binaries = ("amp",)
    markers = (".config/amp",)

    def settings(self, home: Path) -> Path:
        return home / ".config" / "amp" / "settings.json"

    def files(self, home: Path) -> list[Path]:
        return [self.settings(home)]

    def current_url(self, home: Path) -> str | None:
        text = self.read(self.settings(home))
        return JsonDocument(text, "Amp settings").get("amp.url") if text else None

    def plan(self, home: Path, target: Target) -> list[FileEdit]:
        path = self.settings(home)
        before = self.read(path)
        doc = JsonDocument(before or "", "Amp settings")
        doc.set(("amp.url",), target.root_url)
        return [FileEdit(path, before, doc.text, holds_secret=False)]

    def notes(self, home: Path, target: Target) -> list[str]:
        return [
            "Amp keeps its own login (`amp login`); its service calls reach ampcode.com through the proxy's "
            "Amp routes when an Amp upstream is configured in ProxyPal."
        ]
