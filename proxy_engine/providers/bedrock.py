"""Amazon Bedrock's Converse API, authenticated by an AWS profile and SigV4-signed.

The signature covers the exact URL, so it is sent as built (never re-quoted), and only the
headers that travel unchanged are signed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from proxy_engine.credentials.call import UpstreamCall
from proxy_engine.credentials.pool import Credential
from proxy_engine.providers.kind import COUNT_ACTIONS, ProviderKind
from proxy_engine.providers.sigv4 import bedrock_count_url, bedrock_endpoint, bedrock_url, sign

if TYPE_CHECKING:
    from proxy_engine.providers.kind import ProviderView

DEFAULT_BEDROCK_REGION = "us-east-1"
EVENT_STREAM = "application/vnd.amazon.eventstream"
# Converse takes Anthropic betas in `additionalModelRequestFields.anthropic_beta` (Claude models only)
# and answers any flag it does not know with 400 "invalid beta flag": only these are carried there.
BEDROCK_BETAS = frozenset({"context-1m-2025-08-07", "computer-use-2025-01-24", "computer-use-2025-11-24"})


def bedrock_region(p: ProviderView) -> str:
    return p.settings.region or DEFAULT_BEDROCK_REGION


class BedrockKind(ProviderKind):
    name = "bedrock"
    dialects = ("bedrock",)
    prefixes = ("anthropic.", "amazon.", "meta.", "mistral.", "us.", "eu.", "apac.")
    signs_url = True
    accepted_betas = BEDROCK_BETAS

    def key_headers(self, dialect: str, secret: str) -> dict[str, str]:
        return {}  # requests are signed instead

    def credentials(self, p: ProviderView, login_ids: list[str]) -> list[Credential]:
        """One credential: the AWS profile (its keys are loaded and cached by the broker)."""
        return [Credential(id=f"aws:{p.settings.profile or 'default'}", kind="aws", ref="aws")]

    def default_base(self, p: ProviderView) -> str:
        return p.base_url if p.base_configured else bedrock_endpoint(bedrock_region(p))

    def upstream_url(
        self, p: ProviderView, call: UpstreamCall, dialect: str, model: str, *, stream: bool, action: str | None
    ) -> str:
        if action in COUNT_ACTIONS:
            return bedrock_count_url(call.base_url.rstrip("/"), model)
        return bedrock_url(call.base_url.rstrip("/"), model, stream)

    def count_dialect(self, p: ProviderView, client_dialect: str, model: str) -> str | None:
        """Bedrock's CountTokens takes a Converse request: `POST /model/{id}/count-tokens`."""
        return "bedrock"

    def edits_body(self, p: ProviderView, call: UpstreamCall, dialect: str) -> bool:
        return True

    def carry_betas(self, body: dict[str, Any], flags: list[str], model: str) -> dict[str, Any]:
        if not flags or "anthropic." not in model:
            return body
        extra = body.get("additionalModelRequestFields")
        return {**body, "additionalModelRequestFields": {**(extra if isinstance(extra, dict) else {}),
                                                         "anthropic_beta": flags}}  # fmt: skip

    def sign_headers(
        self, p: ProviderView, call: UpstreamCall, url: str, headers: dict[str, str], body: bytes
    ) -> dict[str, str]:
        # Only what travels unchanged is signed; anything a client sent is left out.
        accept = EVENT_STREAM if url.endswith("/converse-stream") else "application/json"
        plain = {"Content-Type": "application/json", "Accept": accept}
        return sign("POST", url, plain, body, call.extra["aws"], bedrock_region(p))
