"""GitHub Copilot's chat API, through a Copilot login (its session token and editor headers)."""

from __future__ import annotations

from proxy_engine.providers.kind import ProviderKind


class CopilotKind(ProviderKind):
    name = "copilot"
    dialects = ("openai_chat",)
    login_cost_class = "subscription"  # a Copilot plan
