"""Vertex AI publisher models (Gemini and Claude) with a service-account login.

The model decides the dialect: Claude models take the Messages body at `rawPredict`, the rest
take generateContent. The project comes from config or the service account's key file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from proxy_engine.credentials.call import UpstreamCall
from proxy_engine.credentials.pool import Credential
from proxy_engine.logs import REDACTOR
from proxy_engine.providers.kind import COUNT_ACTIONS, ProviderKind
from proxy_engine.providers.vertex_body import (
    anthropic_body_for_vertex,
    anthropic_count_body_for_vertex,
    gemini_count_body_for_vertex,
    vertex_base,
    vertex_url,
)

if TYPE_CHECKING:
    from proxy_engine.logins.refresher import TokenRefresher
    from proxy_engine.providers.kind import ProbeRequest, ProviderView

DEFAULT_VERTEX_LOCATION = "us-central1"
# Claude on Vertex answers any other flag 400 "Unexpected value(s) `...` for the `anthropic-beta` header".
VERTEX_BETAS = frozenset(
    {"interleaved-thinking-2025-05-14", "context-1m-2025-08-07", "context-management-2025-06-27",
     "compact-2026-01-12", "computer-use-2025-01-24", "computer-use-2025-11-24", "web-search-2025-03-05",
     "tool-search-tool-2025-10-19", "per-turn-control-2026-07-01", "thinking-display-updates-2026-08-18"}
)  # fmt: skip


def vertex_location(p: ProviderView) -> str:
    return p.settings.location or DEFAULT_VERTEX_LOCATION


class VertexKind(ProviderKind):
    name = "vertex"
    dialects = ("gemini", "anthropic")
    prefixes = ("gemini", "claude")
    amp_segment = "gemini"
    amp_rank = 1
    accepted_betas = VERTEX_BETAS
    honours_cache_control = True  # Claude on Vertex caches as Anthropic does

    def key_headers(self, dialect: str, secret: str) -> dict[str, str]:
        return {}  # service-account tokens only

    async def login_call(self, p: ProviderView, cred: Credential, refresher: TokenRefresher) -> UpstreamCall:
        tokens = await refresher.tokens(p.login or "", cred.id)
        REDACTOR.add(tokens.access_token)
        project = p.settings.project or str(tokens.extra.get("project_id", ""))
        headers = {"Authorization": f"Bearer {tokens.access_token}"}
        return UpstreamCall(cred, self.default_base(p), headers, {"project": project, "location": vertex_location(p)})

    def default_base(self, p: ProviderView) -> str:
        return p.base_url if p.base_configured else vertex_base(vertex_location(p))

    def upstream_dialect(self, p: ProviderView, client_dialect: str, model: str) -> str:
        return "anthropic" if model.lower().startswith("claude") else "gemini"

    def upstream_url(
        self, p: ProviderView, call: UpstreamCall, dialect: str, model: str, *, stream: bool, action: str | None
    ) -> str:
        publisher = "anthropic" if dialect == "anthropic" else "google"
        project = str(call.extra.get("project", ""))
        return vertex_url(call.base_url.rstrip("/"), project, vertex_location(p), model, publisher, stream, action)

    def edits_body(self, p: ProviderView, call: UpstreamCall, dialect: str) -> bool:
        return dialect == "anthropic"

    def finalize_body(
        self, p: ProviderView, call: UpstreamCall, dialect: str, body: dict[str, Any], *, model: str, action: str | None
    ) -> dict[str, Any]:
        if dialect != "anthropic":
            return gemini_count_body_for_vertex(body) if action in COUNT_ACTIONS else body
        if action in COUNT_ACTIONS:
            return anthropic_count_body_for_vertex(body, model)
        return anthropic_body_for_vertex(body)

    def probe(self, p: ProviderView, call: UpstreamCall) -> ProbeRequest | None:
        """None: Vertex lists publisher models per project and region; its logins are checked by their state."""
        return None
