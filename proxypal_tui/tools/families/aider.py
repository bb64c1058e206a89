"""Aider: the openai-* settings in ~/.aider.conf.yml (YAML, often commented by hand)."""

from __future__ import annotations

from pathlib import Path

from proxypal_tui.tools.base import CodingTool
from proxypal_tui.tools.edit_yaml import YamlDocument
from proxypal_tui.tools.model import FileEdit, Target

NEW_FILE_HEADER = "# Aider settings. ProxyPal added the openai-* lines to use the local proxy.\n"


class Aider(CodingTool):
    name = "aider"
    title = "Aider"
    binaries = ("aider",)
    markers = (".aider.conf.yml",)
    secret_fields = ("openai-api-key",)

    def config(self, home: Path) -> Path:
        return home / ".aider.conf.yml"

    def files(self, home: Path) -> list[Path]:
        return [self.config(home)]

    def current_url(self, home: Path) -> str | None:
        text = self.read(self.config(home))
        if text is None:
            return None
        value = YamlDocument(text, "~/.aider.conf.yml").data.get("openai-api-base")
        return str(value) if value else None

    def current_key(self, home: Path) -> str | None:
        text = self.read(self.config(home))
        if text is None:
            return None
        value = YamlDocument(text, "~/.aider.conf.yml").data.get("openai-api-key")
        return str(value) if value else None

    def plan(self, home: Path, target: Target) -> list[FileEdit]:
        path = self.config(home)
        before = self.read(path)
        doc = YamlDocument(before if before is not None else NEW_FILE_HEADER, "~/.aider.conf.yml")
        doc.set_scalar("openai-api-base", target.openai_url)
        doc.set_scalar("openai-api-key", target.client_key)
        if target.models:
            # litellm's openai/ prefix sends the bare name to the OpenAI-compatible base URL.
            doc.set_scalar("model", f"openai/{target.model_names[0]}")
        return [FileEdit(path, before, doc.text)]
