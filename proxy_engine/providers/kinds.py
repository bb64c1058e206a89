"""What each provider kind is: default endpoint, wire formats, login, and the models it is known for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KindSpec:
    base_url: str  # "" = the login's own API base (OAuth kinds) or required in config
    dialects: tuple[str, ...]  # wire formats, preferred first
    login: str | None = None  # `proxypal-engine login NAME` that can supply credentials
    login_only: bool = False  # no API keys: credentials come from stored logins only
    key_header: str = "bearer"  # how an API key is sent: bearer | x-api-key | x-goog-api-key | api-key | none
    prefixes: tuple[str, ...] = ()  # bare model names this kind serves when `models:` is empty


KINDS: dict[str, KindSpec] = {
    "anthropic": KindSpec("https://api.anthropic.com", ("anthropic",), login="claude", key_header="x-api-key",
                          prefixes=("claude",)),
    "openai": KindSpec("https://api.openai.com/v1", ("openai_chat", "openai_responses", "openai_completions"),
                       prefixes=("gpt-", "o1", "o3", "o4", "chatgpt", "codex", "text-", "davinci", "babbage",
                                 "computer-use")),
    "gemini": KindSpec("https://generativelanguage.googleapis.com", ("gemini",), key_header="x-goog-api-key",
                       prefixes=("gemini", "gemma", "learnlm")),
    "openai_compatible": KindSpec("", ("openai_chat", "openai_completions", "openai_responses")),
    "azure_openai": KindSpec("", ("openai_chat",), key_header="api-key"),
    "qwen": KindSpec("https://dashscope-intl.aliyuncs.com/compatible-mode/v1", ("openai_chat",), login="qwen",
                     prefixes=("qwen",)),
    "codex": KindSpec("", ("openai_responses",), login="codex", login_only=True,
                      prefixes=("gpt-5", "codex")),
    "gemini_cli": KindSpec("", ("gemini_code_assist",), login="gemini-cli", login_only=True,
                           prefixes=("gemini",)),
    "copilot": KindSpec("", ("openai_chat",), login="copilot", login_only=True),
    "vertex": KindSpec("", ("gemini", "anthropic"), login="vertex", login_only=True,
                       prefixes=("gemini", "claude")),
    "bedrock": KindSpec("", ("bedrock",), key_header="none",
                        prefixes=("anthropic.", "amazon.", "meta.", "mistral.", "us.", "eu.", "apac.")),
}  # fmt: skip


def kind_spec(kind: str) -> KindSpec:
    return KINDS[kind]
