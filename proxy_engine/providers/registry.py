"""Every provider kind, by name: the one place that lists them (config's names must match; a test checks)."""

from __future__ import annotations

from proxy_engine.providers.anthropic import AnthropicKind
from proxy_engine.providers.azure_openai import AzureOpenAIKind
from proxy_engine.providers.bedrock import BedrockKind
from proxy_engine.providers.codex import CodexKind
from proxy_engine.providers.copilot import CopilotKind
from proxy_engine.providers.gemini import GeminiKind
from proxy_engine.providers.gemini_cli import GeminiCLIKind
from proxy_engine.providers.kind import ProviderKind
from proxy_engine.providers.openai import OpenAIKind
from proxy_engine.providers.openai_compatible import OpenAICompatibleKind
from proxy_engine.providers.qwen import QwenKind
from proxy_engine.providers.vertex import VertexKind

KIND_REGISTRY: dict[str, ProviderKind] = {
    k.name: k
    for k in (
        AnthropicKind(), OpenAIKind(), GeminiKind(), OpenAICompatibleKind(), AzureOpenAIKind(), QwenKind(),
        CodexKind(), GeminiCLIKind(), CopilotKind(), VertexKind(), BedrockKind(),
    )
}  # fmt: skip


def kind_of(name: str) -> ProviderKind:
    return KIND_REGISTRY[name]


def price_provider(kind: str) -> str | None:
    """The genai-prices provider id for a kind, if prices are known for it."""
    k = KIND_REGISTRY.get(kind)
    return k.price_provider if k else None
