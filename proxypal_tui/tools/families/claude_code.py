"""Claude Code: the `env` block of ~/.claude/settings.json (read by Claude Code at start-up)."""

from __future__ import annotations

from pathlib import Path

from proxypal_tui.tools.base import CodingTool, pick_by_hint
from proxypal_tui.tools.edit_json import JsonDocument
from proxypal_tui.tools.model import FileEdit, Target

TIERS = {
    "opus": "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "sonnet": "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "haiku": "ANTHROPIC_DEFAULT_HAIKU_MODEL",
}


def model_env(models: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Map the user's friendly names onto Claude Code's opus/sonnet/haiku slots.

    A name is used for a slot when it (or one of its upstream models) mentions that
    tier. When none does, ANTHROPIC_MODEL selects the first friendly name instead, so
    Claude Code asks for a model the proxy knows.
    """
    env = {var: name for tier, var in TIERS.items() if (name := pick_by_hint(models, tier))}
    if models and not env:
        env["ANTHROPIC_MODEL"] = next(iter(models))
    return env


class ClaudeCode(CodingTool):
    name = "claude-code"
    title = "Claude Code"
    binaries = ("claude",)
    markers = (".claude", ".claude.json")
    secret_fields = ("ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY")

    def settings(self, home: Path) -> Path:
        return home / ".claude" / "settings.json"

    def files(self, home: Path) -> list[Path]:
        return [self.settings(home)]

    def current_url(self, home: Path) -> str | None:
        text = self.read(self.settings(home))
        if text is None:
            return None
        return JsonDocument(text, "~/.claude/settings.json").get("env", "ANTHROPIC_BASE_URL")

    def current_key(self, home: Path) -> str | None:
        text = self.read(self.settings(home))
        if text is None:
            return None
        doc = JsonDocument(text, "~/.claude/settings.json")
        return doc.get("env", "ANTHROPIC_AUTH_TOKEN") or doc.get("env", "ANTHROPIC_API_KEY")

    def plan(self, home: Path, target: Target) -> list[FileEdit]:
        path = self.settings(home)
        before = self.read(path)
        doc = JsonDocument(before or "", "~/.claude/settings.json")
        values = {"ANTHROPIC_BASE_URL": target.root_url, "ANTHROPIC_AUTH_TOKEN": target.client_key}
        values.update(model_env(target.models))
        for var, value in values.items():
            doc.set(("env", var), value)
        return [FileEdit(path, before, doc.text)]

    def notes(self, home: Path, target: Target) -> list[str]:
        notes = ["Restart Claude Code (or open a new session) to pick up the new settings."]
        text = self.read(self.settings(home))
        if text and JsonDocument(text).get("env", "ANTHROPIC_API_KEY"):
            notes.append("settings.json also sets ANTHROPIC_API_KEY; Claude Code sends it along to the proxy.")
        return notes
