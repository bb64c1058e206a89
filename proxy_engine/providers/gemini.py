"""Google's Gemini API (generativelanguage.googleapis.com) with an API key."""

from __future__ import annotations

from proxy_engine.providers.kind import ProviderKind


class GeminiKind(ProviderKind):
    name = "gemini"
    accepted_betas = frozenset[str]()  # Messages betas mean nothing to it: none is sent
    base_url = "https://generativelanguage.googleapis.com"
    dialects = ("gemini",)
    prefixes = ("gemini", "gemma", "learnlm")
    amp_segment = "gemini"
    price_provider = "google"
