"""Gemini CLI: ~/.gemini/.env (base URL and key) plus the auth type in ~/.gemini/settings.json.

Without `security.auth.selectedType = "gemini-api-key"` the CLI stops with
"Invalid auth method selected" instead of using GEMINI_API_KEY.
"""

from __future__ import annotations

from pathlib import Path

from proxypal_tui.tools.base import CodingTool, pick_by_hint
from proxypal_tui.tools.edit_env import read_env, set_env
from proxypal_tui.tools.edit_json import JsonDocument
from proxypal_tui.tools.model import FileEdit, Target

AUTH_TYPE = "gemini-api-key"


class GeminiCli(CodingTool):
    name = "gemini-cli"
    title = "Gemini CLI"
    binaries = ("gemini",)
    markers = (".gemini",)
    secret_fields = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

    def env_file(self, home: Path) -> Path:
        return home / ".gemini" / ".env"

    def settings(self, home: Path) -> Path:
        return home / ".gemini" / "settings.json"

    def files(self, home: Path) -> list[Path]:
        return [self.env_file(home), self.settings(home)]

    def current_url(self, home: Path) -> str | None:
        text = self.read(self.env_file(home))
        return read_env(text).get("GOOGLE_GEMINI_BASE_URL") if text else None

    def current_key(self, home: Path) -> str | None:
        text = self.read(self.env_file(home))
        return read_env(text).get("GEMINI_API_KEY") if text else None

    def plan(self, home: Path, target: Target) -> list[FileEdit]:
        env_path, settings_path = self.env_file(home), self.settings(home)
        env_before = self.read(env_path)
        env_after = set_env(
            env_before or "", {"GOOGLE_GEMINI_BASE_URL": target.root_url, "GEMINI_API_KEY": target.client_key}
        )
        before = self.read(settings_path)
        doc = JsonDocument(before or "", "~/.gemini/settings.json")
        doc.set(("security", "auth", "selectedType"), AUTH_TYPE)
        if "selectedAuthType" in doc.data:  # settings written by older releases keep the flat key
            doc.set(("selectedAuthType",), AUTH_TYPE)
        model = pick_by_hint(target.models, "gemini")
        if model:
            doc.set(("model", "name"), model)
        return [FileEdit(env_path, env_before, env_after), FileEdit(settings_path, before, doc.text, False)]
