"""OpenAI's own API: Chat Completions, Responses and legacy Completions with an API key."""

from __future__ import annotations

from proxy_engine.providers.kind import ProviderKind


class OpenAIKind(ProviderKind):
    name = "openai"
    base_url = "https://api.openai.com/v1"
    keys_prompt_cache = True
    dialects = ("openai_chat", "openai_responses", "openai_completions")
    prefixes = ("gpt-", "o1", "o3", "o4", "chatgpt", "codex", "text-", "davinci", "babbage", "computer-use")
    amp_segment = "openai"
    price_provider = "openai"
