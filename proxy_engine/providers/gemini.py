"""Google's Gemini API (generativelanguage.googleapis.com) with an API key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from proxy_engine.providers.kind import ProviderKind

if TYPE_CHECKING:
    from proxy_engine.providers.kind import ProviderView


class GeminiKind(ProviderKind):
    name = "gemini"
    accepted_betas = frozenset[str]()  # Messages betas mean nothing to it: none is sent
    base_url = "https://generativelanguage.googleapis.com"
    dialects = ("gemini",)
    prefixes = ("gemini", "gemma", "learnlm")
    amp_segment = "gemini"
    price_provider = "google"

    def embed_dialect(self, p: ProviderView, model: str) -> str | None:
        """`models/{m}:embedContent` and `:batchEmbedContents`."""
        return "gemini"
