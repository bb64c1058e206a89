"""Alibaba's DashScope (OpenAI-compatible mode), with an API key or a Qwen login."""

from __future__ import annotations

from typing import TYPE_CHECKING

from proxy_engine.providers.kind import OPENAI_EMBEDDINGS, ProviderKind

if TYPE_CHECKING:
    from proxy_engine.providers.kind import ProviderView


class QwenKind(ProviderKind):
    name = "qwen"
    accepted_betas = frozenset[str]()  # Messages betas mean nothing to it: none is sent
    base_url = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
    dialects = ("openai_chat",)
    login_cost_class = "free"  # Qwen OAuth: a free tier (ended 2026-04-15, QwenLM/qwen-code#3203), never per token
    prefixes = ("qwen",)

    def embed_dialect(self, p: ProviderView, model: str) -> str | None:
        """DashScope's compatible mode serves `POST /embeddings`."""
        return OPENAI_EMBEDDINGS
