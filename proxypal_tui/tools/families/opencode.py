"""opencode: a `proxypal` provider (OpenAI-compatible AI SDK package) in ~/.config/opencode/opencode.json."""

from __future__ import annotations

from pathlib import Path

from proxypal_tui.tools.base import CodingTool
from proxypal_tui.tools.edit_json import JsonDocument
from proxypal_tui.tools.model import FileEdit, Target

PROVIDER_ID = "proxypal"
NEW_FILE = '{\n  "$schema": "https://opencode.ai/config.json"\n}\n'


class Opencode(CodingTool):
    name = "opencode"
    title = "opencode"
    binaries = ("opencode",)
    markers = (".config/opencode",)
    secret_fields = ("apiKey",)
    needs_models = True

    def config(self, home: Path) -> Path:
        folder = home / ".config" / "opencode"
        jsonc = folder / "opencode.jsonc"
        json_file = folder / "opencode.json"
        return jsonc if jsonc.exists() and not json_file.exists() else json_file

    def files(self, home: Path) -> list[Path]:
        return [self.config(home)]

    def current_url(self, home: Path) -> str | None:
        text = self.read(self.config(home))
        if text is None:
            return None
        doc = JsonDocument(text, "opencode config")
        selected = str(doc.get("model") or "")
        provider = selected.split("/", 1)[0] if "/" in selected else PROVIDER_ID
        return doc.get("provider", provider, "options", "baseURL") or doc.get(
            "provider", PROVIDER_ID, "options", "baseURL"
        )

    def plan(self, home: Path, target: Target) -> list[FileEdit]:
        self.require_models(target)
        path = self.config(home)
        before = self.read(path)
        doc = JsonDocument(before if before is not None else NEW_FILE, "opencode config")
        base = ("provider", PROVIDER_ID)
        doc.set((*base, "npm"), "@ai-sdk/openai-compatible")
        doc.set((*base, "name"), "ProxyPal")
        doc.set((*base, "options", "baseURL"), target.openai_url)
        doc.set((*base, "options", "apiKey"), target.client_key)
        for name in target.model_names:
            if doc.get(*base, "models", name) is None:  # keep any options the user added to a model
                doc.set((*base, "models", name), {"name": name})
        doc.set(("model",), f"{PROVIDER_ID}/{target.model_names[0]}")
        return [FileEdit(path, before, doc.text)]
