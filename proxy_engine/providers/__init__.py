"""Upstream providers: where each lives, how it authenticates, and which wire formats it speaks."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

import aiohttp

from proxy_engine.config import ProviderConfig, provider_kind

DEFAULT_BASE = {
    "anthropic": "https://api.anthropic.com",
    "openai": "https://api.openai.com/v1",
    "gemini": "https://generativelanguage.googleapis.com",
}
NATIVE_DIALECTS = {
    "anthropic": ("anthropic",),
    "openai": ("openai_chat", "openai_responses", "openai_completions"),
    "gemini": ("gemini",),
    "openai_compatible": ("openai_chat", "openai_completions", "openai_responses"),
}
_PREFIXES = {
    "anthropic": ("claude",),
    "openai": ("gpt-", "o1", "o3", "o4", "chatgpt", "codex", "text-", "davinci", "babbage", "computer-use"),
    "gemini": ("gemini", "gemma", "learnlm"),
}


@dataclass(frozen=True)
class Provider:
    name: str
    kind: str
    base_url: str
    api_key: str | None
    key_ref: str | None
    dialects: tuple[str, ...]
    models: tuple[str, ...]
    extra_headers: dict[str, str] = field(default_factory=dict)
    timeout: aiohttp.ClientTimeout = field(default_factory=aiohttp.ClientTimeout)

    def serves(self, model: str) -> bool:
        if self.models:
            return model in self.models
        return model.lower().startswith(_PREFIXES.get(self.kind, ()))

    def upstream_dialect(self, client_dialect: str) -> str:
        return client_dialect if client_dialect in self.dialects else self.dialects[0]

    def url(self, dialect: str, model: str, *, stream: bool, action: str | None = None) -> str:
        base = self.base_url
        if dialect == "anthropic":
            return base + ("/v1/messages/count_tokens" if action == "count_tokens" else "/v1/messages")
        if dialect == "gemini":
            prefix = base if base.endswith(("/v1beta", "/v1")) else base + "/v1beta"
            act = action or ("streamGenerateContent" if stream else "generateContent")
            url = f"{prefix}/models/{quote(model, safe='')}:{act}"
            return url + "?alt=sse" if act == "streamGenerateContent" else url
        path = {"openai_responses": "/responses", "openai_completions": "/completions"}.get(
            dialect, "/chat/completions"
        )
        return base + path

    def auth_headers(self, dialect: str) -> dict[str, str]:
        headers = dict(self.extra_headers)
        if self.api_key:
            if dialect == "anthropic":
                headers["x-api-key"] = self.api_key
            elif dialect == "gemini":
                headers["x-goog-api-key"] = self.api_key
            else:
                headers["Authorization"] = "Bearer " + self.api_key
        return headers


def build_provider(name: str, cfg: ProviderConfig, api_key: str | None) -> Provider:
    kind = provider_kind(name, cfg)
    dialects = tuple(cfg.dialects) if cfg.dialects else NATIVE_DIALECTS[kind]
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=cfg.connect_timeout_s, sock_read=cfg.read_timeout_s)
    return Provider(
        name=name,
        kind=kind,
        base_url=(cfg.base_url or DEFAULT_BASE.get(kind, "")).rstrip("/"),
        api_key=api_key,
        key_ref=cfg.api_key,
        dialects=dialects,
        models=tuple(cfg.models),
        extra_headers=dict(cfg.headers),
        timeout=timeout,
    )
