"""Azure OpenAI: deployments instead of model names, `api-version` in the query, `api-key` header."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from proxy_engine.credentials.call import UpstreamCall
from proxy_engine.providers.kind import OPENAI_EMBEDDINGS, ProbeRequest, ProviderKind

if TYPE_CHECKING:
    from proxy_engine.providers.kind import ProviderView

DEFAULT_AZURE_API_VERSION = "2024-10-21"


class AzureOpenAIKind(ProviderKind):
    name = "azure_openai"
    accepted_betas = frozenset[str]()  # Messages betas mean nothing to it: none is sent
    dialects = ("openai_chat",)
    amp_segment = "openai"
    amp_rank = 1

    def key_headers(self, dialect: str, secret: str) -> dict[str, str]:
        return {"api-key": secret}

    def upstream_url(
        self, p: ProviderView, call: UpstreamCall, dialect: str, model: str, *, stream: bool, action: str | None
    ) -> str:
        base = call.base_url.rstrip("/")
        deployment = p.settings.deployments.get(model, model)
        version = p.settings.api_version or DEFAULT_AZURE_API_VERSION
        path = "embeddings" if dialect == OPENAI_EMBEDDINGS else "chat/completions"
        return f"{base}/openai/deployments/{quote(deployment, safe='')}/{path}?api-version={version}"

    def embed_dialect(self, p: ProviderView, model: str) -> str | None:
        """A deployment's `/embeddings`."""
        return OPENAI_EMBEDDINGS

    def probe(self, p: ProviderView, call: UpstreamCall) -> ProbeRequest | None:
        """Azure's data-plane models list: `GET {endpoint}/openai/models?api-version=...` with `api-key`."""
        version = p.settings.api_version or DEFAULT_AZURE_API_VERSION
        return ProbeRequest(f"{call.base_url.rstrip('/')}/openai/models?api-version={version}", dict(call.headers))
