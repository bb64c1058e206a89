"""Editors whose model settings live in app state we cannot merge into safely: copyable instructions."""

from __future__ import annotations

import json

from proxypal_tui.tools.base import CodingTool
from proxypal_tui.tools.model import Target


def _models_line(target: Target) -> str:
    if not target.models:
        return "  Model: any model name the proxy serves (add friendly names under `models:` in ProxyPal)"
    return "  Models: " + ", ".join(target.model_names)


class Cursor(CodingTool):
    name = "cursor"
    title = "Cursor"
    binaries = ("cursor", "cursor-agent")
    markers = (".cursor", ".config/Cursor")
    manual = True

    def instructions(self, target: Target, key_label: str = "") -> str:
        return "\n".join(
            [
                "Cursor → Settings → Models:",
                f"  OpenAI API Key: {target.client_key}",
                f"  Override OpenAI Base URL: on, {target.openai_url}",
                _models_line(target) + "  (add each with “+ Add model”, then Verify)",
                "Cursor may call the base URL from its own servers: if Verify cannot reach 127.0.0.1,",
                "expose the proxy through a tunnel and turn on client keys (`clients:`) first.",
            ]
        )


class Cline(CodingTool):
    name = "cline"
    title = "Cline / Roo Code"
    markers = (
        ".vscode/extensions/saoudrizwan.claude-dev-*",
        ".vscode/extensions/rooveterinaryinc.roo-cline-*",
        ".cursor/extensions/saoudrizwan.claude-dev-*",
        ".cursor/extensions/rooveterinaryinc.roo-cline-*",
    )
    manual = True

    def instructions(self, target: Target, key_label: str = "") -> str:
        return "\n".join(
            [
                "Cline or Roo Code → settings (gear) → API Provider: OpenAI Compatible",
                f"  Base URL: {target.openai_url}",
                f"  API Key: {target.client_key}",
                _models_line(target).replace("Models:", "Model ID (one of):"),
            ]
        )


class Copilot(CodingTool):
    name = "copilot"
    title = "GitHub Copilot (VS Code)"
    markers = (
        ".vscode/extensions/github.copilot-chat-*",
        ".vscode-insiders/extensions/github.copilot-chat-*",
    )
    manual = True

    def instructions(self, target: Target, key_label: str = "") -> str:
        models = [
            {
                "id": name,
                "name": f"ProxyPal {name}",
                "url": f"{target.openai_url}/chat/completions",
                "toolCalling": True,
                "vision": False,
            }
            for name in (target.model_names or ["<model name>"])
        ]
        snippet = [{"name": "ProxyPal", "vendor": "customoai", "apiKey": target.client_key, "models": models}]
        return "\n".join(
            [
                "VS Code → Command Palette → “Chat: Manage Language Models” → add an",
                "“OpenAI Compatible” provider, or “Chat: Open Language Models (JSON)” and add:",
                json.dumps(snippet, indent=2),
                "Inline completions keep using GitHub's service; chat and agent mode use the proxy.",
            ]
        )
