"""Continue: one `provider: openai` model per friendly name in ~/.continue/config.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from proxypal_tui.tools.base import CodingTool
from proxypal_tui.tools.edit_yaml import Item, YamlDocument
from proxypal_tui.tools.model import FileEdit, Target

PREFIX = "ProxyPal "
NEW_FILE = "name: Local Config\nversion: 1.0.0\nschema: v1\n"


def is_ours(item: Any) -> bool:
    return isinstance(item, dict) and str(item.get("name", "")).startswith(PREFIX)


class ContinueDev(CodingTool):
    name = "continue"
    title = "Continue"
    markers = (".continue", ".vscode/extensions/continue.continue-*")
    install_markers = (".vscode/extensions/continue.continue-*",)  # an extension, no binary
    secret_fields = ("apiKey",)
    needs_models = True

    def config(self, home: Path) -> Path:
        return home / ".continue" / "config.yaml"

    def files(self, home: Path) -> list[Path]:
        return [self.config(home)]

    def current_url(self, home: Path) -> str | None:
        text = self.read(self.config(home))
        if text is None:
            return None
        models = YamlDocument(text, "~/.continue/config.yaml").data.get("models") or []
        bases = [str(m["apiBase"]) for m in models if isinstance(m, dict) and m.get("apiBase")]
        ours = [str(m.get("apiBase")) for m in models if is_ours(m) and m.get("apiBase")]
        return (ours or bases or [None])[0]

    def plan(self, home: Path, target: Target) -> list[FileEdit]:
        self.require_models(target)
        path = self.config(home)
        before = self.read(path)
        doc = YamlDocument(before if before is not None else NEW_FILE, "~/.continue/config.yaml")
        items: list[Item] = [
            {
                "name": f"{PREFIX}{name}",
                "provider": "openai",
                "model": name,
                "apiBase": target.openai_url,
                "apiKey": target.client_key,
                "roles": ["chat", "edit", "apply"],
            }
            for name in target.model_names
        ]
        doc.replace_items("models", is_ours, items)
        return [FileEdit(path, before, doc.text)]
