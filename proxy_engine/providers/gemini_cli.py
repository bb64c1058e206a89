"""Google's Code Assist backend that Gemini CLI uses, through a Gemini CLI login.

It speaks Gemini inside an envelope (`{model, project, request}`) at `v1internal:{method}`,
with the login's Cloud project.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from proxy_engine.credentials.call import UpstreamCall
from proxy_engine.providers.kind import COUNT_ACTIONS, ProviderKind, gemini_action

if TYPE_CHECKING:
    from proxy_engine.providers.kind import ProviderView

CODE_ASSIST = "gemini_code_assist"


class GeminiCLIKind(ProviderKind):
    name = "gemini_cli"
    accepted_betas = frozenset[str]()  # Messages betas mean nothing to it: none is sent
    dialects = (CODE_ASSIST,)
    login_cost_class = "free"  # Code Assist for individuals (60 rpm, 1000/day); never billed per token
    prefixes = ("gemini",)
    amp_segment = "gemini"
    amp_rank = 2

    def upstream_url(
        self, p: ProviderView, call: UpstreamCall, dialect: str, model: str, *, stream: bool, action: str | None
    ) -> str:
        if dialect != CODE_ASSIST:
            return super().upstream_url(p, call, dialect, model, stream=stream, action=action)
        from proxy_engine.translate.code_assist import code_assist_url

        act = "countTokens" if action in COUNT_ACTIONS else gemini_action(stream, action)
        return code_assist_url(call.base_url.rstrip("/"), act, stream=act == "streamGenerateContent")

    def count_dialect(self, p: ProviderView, client_dialect: str, model: str) -> str | None:
        """Code Assist counts at `v1internal:countTokens` (what Gemini CLI calls)."""
        return self.upstream_dialect(p, client_dialect, model)

    def edits_body(self, p: ProviderView, call: UpstreamCall, dialect: str) -> bool:
        return dialect == CODE_ASSIST

    def finalize_body(
        self, p: ProviderView, call: UpstreamCall, dialect: str, body: dict[str, Any], *, model: str, action: str | None
    ) -> dict[str, Any]:
        if dialect != CODE_ASSIST:
            return body
        from proxy_engine.translate.code_assist import count_tokens_body, set_project

        if action in COUNT_ACTIONS:
            return count_tokens_body(body, model)
        return set_project(body, p.settings.project or str(call.extra.get("project", "")))
