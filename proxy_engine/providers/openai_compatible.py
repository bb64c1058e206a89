"""Any server that speaks OpenAI's API at a configured base_url (vLLM, Ollama, LiteLLM, gateways).

Without keys or logins it gets one anonymous credential (a local server that needs no auth).
"""

from __future__ import annotations

from proxy_engine.providers.kind import ProviderKind


class OpenAICompatibleKind(ProviderKind):
    name = "openai_compatible"
    dialects = ("openai_chat", "openai_completions", "openai_responses")
    accepted_betas = None  # set `dialects: [anthropic]` and the operator chose a Messages server: flags go as sent
