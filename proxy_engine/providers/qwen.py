"""Alibaba's DashScope (OpenAI-compatible mode), with an API key or a Qwen login."""

from __future__ import annotations

from proxy_engine.providers.kind import ProviderKind


class QwenKind(ProviderKind):
    name = "qwen"
    accepted_betas = frozenset[str]()  # Messages betas mean nothing to it: none is sent
    base_url = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
    dialects = ("openai_chat",)
    prefixes = ("qwen",)
