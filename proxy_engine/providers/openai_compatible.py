"""Any server that speaks OpenAI's API at a configured base_url (vLLM, Ollama, LiteLLM, gateways).

Without keys or logins it gets one anonymous credential (a local server that needs no auth).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from proxy_engine.providers.kind import OPENAI_EMBEDDINGS, ProviderKind

if TYPE_CHECKING:
    from proxy_engine.providers.kind import ProviderView


class OpenAICompatibleKind(ProviderKind):
    name = "openai_compatible"
    dialects = ("openai_chat", "openai_completions", "openai_responses")
    keyless_cost_class = "free"  # a local server with no key

    def embed_dialect(self, p: ProviderView, model: str) -> str | None:
        """OpenAI-compatible servers serve `POST {base_url}/embeddings`."""
        return OPENAI_EMBEDDINGS

    accepted_betas = None  # set `dialects: [anthropic]` and the operator chose a Messages server: flags go as sent
