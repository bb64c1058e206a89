"""Anthropic's Messages API, with an API key or a Claude subscription login."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from proxy_engine.credentials.call import UpstreamCall
from proxy_engine.providers.kind import ProviderKind

if TYPE_CHECKING:
    from proxy_engine.providers.kind import ProviderView

CLAUDE_CODE_SYSTEM = "You are Claude Code, Anthropic's official CLI for Claude."


class AnthropicKind(ProviderKind):
    name = "anthropic"
    base_url = "https://api.anthropic.com"
    dialects = ("anthropic",)
    login_cost_class = "subscription"  # a Claude Pro/Max login
    prefixes = ("claude",)
    amp_segment = "anthropic"
    price_provider = "anthropic"
    accepted_betas = None  # every flag: the API the betas are made for
    honours_cache_control = True

    def edits_body(self, p: ProviderView, call: UpstreamCall, dialect: str) -> bool:
        return call.credential.kind == "oauth"

    def finalize_body(
        self, p: ProviderView, call: UpstreamCall, dialect: str, body: dict[str, Any], *, model: str, action: str | None
    ) -> dict[str, Any]:
        return with_claude_code_system(body) if call.credential.kind == "oauth" else body


def with_claude_code_system(body: dict[str, Any]) -> dict[str, Any]:
    """Claude subscription logins serve requests that open with Claude Code's system prompt."""
    system = body.get("system")
    first = system if isinstance(system, str) else (system[0].get("text") if isinstance(system, list) and system
                                                    and isinstance(system[0], dict) else None)  # fmt: skip
    if isinstance(first, str) and first.startswith(CLAUDE_CODE_SYSTEM):
        return body
    block = {"type": "text", "text": CLAUDE_CODE_SYSTEM}
    if isinstance(system, str) and system:
        rest = [{"type": "text", "text": system}]
    elif isinstance(system, list):
        rest = list(system)
    else:
        rest = []
    return {**body, "system": [block, *rest]}
