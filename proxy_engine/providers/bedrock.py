"""Amazon Bedrock's Converse API, authenticated by an AWS profile and SigV4-signed.

The signature covers the exact URL, so it is sent as built (never re-quoted), and only the
headers that travel unchanged are signed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from proxy_engine.credentials.call import UpstreamCall
from proxy_engine.credentials.pool import Credential
from proxy_engine.providers.kind import ProviderKind
from proxy_engine.providers.sigv4 import bedrock_endpoint, bedrock_url, sign

if TYPE_CHECKING:
    from proxy_engine.providers.kind import ProviderView

DEFAULT_BEDROCK_REGION = "us-east-1"
EVENT_STREAM = "application/vnd.amazon.eventstream"
# Bedrock's Converse API is always a translated call, which carries no client betas; it rejects
# unknown flags ("invalid beta flag"), so none is ever sent to it.
BEDROCK_BETAS: frozenset[str] = frozenset()


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
        return bedrock_url(call.base_url.rstrip("/"), model, stream)

    def edits_body(self, p: ProviderView, call: UpstreamCall, dialect: str) -> bool:
        return True

    def sign_headers(
        self, p: ProviderView, call: UpstreamCall, url: str, headers: dict[str, str], body: bytes
    ) -> dict[str, str]:
        # Only what travels unchanged is signed; anything a client sent is left out.
        accept = EVENT_STREAM if url.endswith("/converse-stream") else "application/json"
        plain = {"Content-Type": "application/json", "Accept": accept}
        return sign("POST", url, plain, body, call.extra["aws"], bedrock_region(p))
