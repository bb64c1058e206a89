"""GitHub Copilot's chat API, through a Copilot login (its session token and editor headers)."""

from __future__ import annotations

from proxy_engine.providers.kind import ProviderKind


class CopilotKind(ProviderKind):
    name = "copilot"
    accepted_betas = frozenset[str]()  # Messages betas mean nothing to it: none is sent
    dialects = ("openai_chat",)
    login_cost_class = "subscription"  # a Copilot plan
