"""OpenAI's own API: Chat Completions, Responses and legacy Completions with an API key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from proxy_engine.providers.kind import OPENAI_EMBEDDINGS, ProviderKind

if TYPE_CHECKING:
    from proxy_engine.providers.kind import ProviderView


class OpenAIKind(ProviderKind):
    name = "openai"
    accepted_betas = frozenset[str]()  # Messages betas mean nothing to it: none is sent
    base_url = "https://api.openai.com/v1"
    keys_prompt_cache = True
    dialects = ("openai_chat", "openai_responses", "openai_completions")
    prefixes = ("gpt-", "o1", "o3", "o4", "chatgpt", "codex", "text-", "davinci", "babbage", "computer-use")
    amp_segment = "openai"
    price_provider = "openai"
    compacts = True
    responses_socket = True

    def count_dialect(self, p: ProviderView, client_dialect: str, model: str) -> str | None:
        """OpenAI counts input tokens for Responses requests: `POST /v1/responses/input_tokens`."""
        return "openai_responses"

    def embed_dialect(self, p: ProviderView, model: str) -> str | None:
        """OpenAI's `POST /v1/embeddings`."""
        return OPENAI_EMBEDDINGS
