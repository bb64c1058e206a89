"""The ChatGPT backend that Codex CLI uses, through a ChatGPT (Codex) login: Responses only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from proxy_engine.credentials.call import UpstreamCall
from proxy_engine.providers.kind import ProviderKind

if TYPE_CHECKING:
    from proxy_engine.providers.kind import ProbeRequest, ProviderView


class CodexKind(ProviderKind):
    name = "codex"
    accepted_betas = frozenset[str]()  # Messages betas mean nothing to it: none is sent
    keys_prompt_cache = True
    dialects = ("openai_responses",)
    login_cost_class = "subscription"  # a ChatGPT plan
    prefixes = ("gpt-5", "codex")
    amp_segment = "openai"
    amp_rank = 2
    compacts = True
    responses_socket = True

    def edits_body(self, p: ProviderView, call: UpstreamCall, dialect: str) -> bool:
        return True

    def finalize_body(
        self, p: ProviderView, call: UpstreamCall, dialect: str, body: dict[str, Any], *, model: str, action: str | None
    ) -> dict[str, Any]:
        if action == "compact":
            return body  # remote compaction takes Codex's own body as it is
        body = dict(body)
        body["store"] = False  # the ChatGPT backend keeps nothing and refuses store: true
        body["stream"] = True  # it refuses stream: false; the relay puts a whole reply together
        body.setdefault("instructions", "")
        body.pop("max_output_tokens", None)  # not accepted there
        return body

    def probe(self, p: ProviderView, call: UpstreamCall) -> ProbeRequest | None:
        """None: the ChatGPT backend has no public models list; its logins are checked by their state."""
        return None
