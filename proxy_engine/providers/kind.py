"""`ProviderKind`: what one kind of upstream is, and everything about it that differs on the wire.

One subclass per kind, one module each (`anthropic.py`, `vertex.py`, ...), one instance each in
`registry.py`. A `Provider` (one configured upstream) delegates to its kind; the defaults here
are the plain HTTP API of each dialect with an API key, and a kind overrides only its quirks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol
from urllib.parse import quote

from proxy_engine.config import ProviderConfig
from proxy_engine.credentials.call import UpstreamCall
from proxy_engine.credentials.pool import ANONYMOUS, Credential
from proxy_engine.kind_facts import KIND_FACTS, KindFacts
from proxy_engine.logs import REDACTOR

if TYPE_CHECKING:
    from proxy_engine.logins.refresher import TokenRefresher

# Token counts: Anthropic's count_tokens, Gemini's countTokens, OpenAI's responses/input_tokens.
COUNT_ACTIONS = ("count_tokens", "countTokens", "input_tokens")
_COUNTING_DIALECTS = ("anthropic", "gemini")
# Embeddings: OpenAI's `/embeddings` (its own dialect name) and Gemini's two methods.
OPENAI_EMBEDDINGS = "openai_embeddings"
EMBED_ACTIONS = ("embeddings", "embedContent", "batchEmbedContents")
_OPENAI_PATHS = {"openai_responses": "/responses", "openai_completions": "/completions"}


def gemini_action(stream: bool, action: str | None) -> str:
    """The generateContent method a request asks for."""
    return action or ("streamGenerateContent" if stream else "generateContent")


ANTHROPIC_VERSION = "2023-06-01"


@dataclass(frozen=True)
class ProbeRequest:
    """A cheap authenticated GET (the upstream's models list) that proves a credential works (`doctor`)."""

    url: str
    headers: dict[str, str]


class ProviderView(Protocol):
    """What a kind reads of one configured provider (`providers.Provider` is one); kinds never import it."""

    name: str
    base_url: str
    base_configured: bool
    dialects: tuple[str, ...]
    key_credentials: tuple[Credential, ...]
    login: str | None
    settings: ProviderConfig

    @property
    def keyless(self) -> bool: ...


class ProviderKind:
    """The defaults: a dialect's own HTTP API, authenticated by an API key."""

    name: ClassVar[str]
    base_url: ClassVar[str] = ""  # "" = the login's own API base (OAuth kinds) or required in config
    dialects: ClassVar[tuple[str, ...]]  # wire formats, preferred first
    prefixes: ClassVar[tuple[str, ...]] = ()  # bare model names it serves when `models:` is empty
    amp_segment: ClassVar[str | None] = None  # Amp route segment (`openai` mode) it can answer
    amp_rank: ClassVar[int] = 0  # its place among the kinds of that segment, best first
    price_provider: ClassVar[str | None] = None  # genai-prices provider id
    signs_url: ClassVar[bool] = False  # the URL is signed and must be sent exactly as built
    login_cost_class: ClassVar[str] = "paid"  # what a request through one of its logins costs
    keyless_cost_class: ClassVar[str] = "paid"  # ... through no key at all (a local server: free)
    compacts: ClassVar[bool] = False  # serves `POST /responses/compact` (Codex's remote compaction)
    responses_socket: ClassVar[bool] = False  # serves the Responses WebSocket (`GET /responses`, upgraded)
    # The `anthropic-beta` flags this upstream takes; None: every flag (Anthropic's own API, or a server
    # the operator chose to speak Messages to). Others are dropped for it (`request_path/betas.py`).
    accepted_betas: ClassVar[frozenset[str] | None] = None
    # Does it honour Messages `cache_control` (so `routing.cache_breakpoints: auto` may add breakpoints)?
    honours_cache_control: ClassVar[bool] = False
    keys_prompt_cache: ClassVar[bool] = False  # takes OpenAI's `prompt_cache_key` (set from the agent session)

    @property
    def facts(self) -> KindFacts:
        return KIND_FACTS[self.name]

    @property
    def login(self) -> str | None:
        return self.facts.login

    @property
    def login_only(self) -> bool:
        return self.facts.login_only

    # -- credentials ------------------------------------------------------------------------------

    def key_headers(self, dialect: str, secret: str) -> dict[str, str]:
        """An API key as the upstream expects it: by dialect, else as a bearer token."""
        if dialect == "anthropic":
            return {"x-api-key": secret}
        if dialect == "gemini":
            return {"x-goog-api-key": secret}
        return {"Authorization": "Bearer " + secret}

    def credentials(self, p: ProviderView, login_ids: list[str]) -> list[Credential]:
        """The provider's pool: its keys, its kind's stored logins, or one anonymous credential."""
        creds = list(p.key_credentials)
        if p.login:
            ref = f"login:{p.login}"
            creds += [Credential(id=c, kind=self.facts.login_credential, ref=ref, label=c) for c in login_ids]
        if not creds and p.keyless:
            creds = [ANONYMOUS]
        return creds

    async def login_call(self, p: ProviderView, cred: Credential, refresher: TokenRefresher) -> UpstreamCall:
        """A stored login made concrete: the login's headers and API base (unless config sets one)."""
        up = await refresher.upstream(p.login or "", cred.id)
        for v in up.headers.values():
            if v.startswith("Bearer "):
                REDACTOR.add(v[7:])
        return UpstreamCall(cred, p.base_url if p.base_configured else up.base_url, dict(up.headers), dict(up.extra))

    def cost_class(self, p: ProviderView) -> str:
        """subscription, free or paid: the config's `cost_class`, else what this kind's credentials cost.

        API keys are billed per token, so a provider with any key is paid; a login-only one costs
        what the login's plan costs (`login_cost_class`).
        """
        if p.settings.cost_class is not None:
            return p.settings.cost_class
        if p.key_credentials or p.settings.api_key or p.settings.api_keys:  # readable or not
            return "paid"
        if p.login:
            return self.login_cost_class
        return self.keyless_cost_class if p.keyless else "paid"

    def default_base(self, p: ProviderView) -> str:
        """Where the provider goes when config sets no base_url."""
        return p.base_url

    # -- the wire ---------------------------------------------------------------------------------

    def serves(self, model: str) -> bool:
        return model.lower().startswith(self.prefixes)

    def upstream_dialect(self, p: ProviderView, client_dialect: str, model: str) -> str:
        return client_dialect if client_dialect in p.dialects else p.dialects[0]

    def count_dialect(self, p: ProviderView, client_dialect: str, model: str) -> str | None:
        """The dialect of the upstream's own token counter for this model; None: it has none (estimate)."""
        up = self.upstream_dialect(p, client_dialect, model)
        return up if up in _COUNTING_DIALECTS else None

    def embed_dialect(self, p: ProviderView, model: str) -> str | None:
        """The dialect of the upstream's embeddings API (`openai_embeddings`, `gemini`); None: it has none."""
        return None

    def upstream_url(
        self, p: ProviderView, call: UpstreamCall, dialect: str, model: str, *, stream: bool, action: str | None
    ) -> str:
        base = call.base_url.rstrip("/")
        counting = action in COUNT_ACTIONS
        if dialect == "anthropic":
            return base + ("/v1/messages/count_tokens" if counting else "/v1/messages")
        if dialect == "gemini":
            prefix = base if base.endswith(("/v1beta", "/v1")) else base + "/v1beta"
            if counting:
                act = "countTokens"
            elif action in EMBED_ACTIONS:  # an OpenAI client's list goes to the batch method
                act = "batchEmbedContents" if action == "embeddings" else action
            else:
                act = gemini_action(stream, action)
            url = f"{prefix}/models/{quote(model, safe='')}:{act}"
            return url + "?alt=sse" if act == "streamGenerateContent" else url
        if action == "compact":
            return base + "/responses/compact"
        if counting and dialect == "openai_responses":
            return base + "/responses/input_tokens"
        if dialect == OPENAI_EMBEDDINGS:
            return base + "/embeddings"
        return base + _OPENAI_PATHS.get(dialect, "/chat/completions")

    def edits_body(self, p: ProviderView, call: UpstreamCall, dialect: str) -> bool:
        """Must a same-dialect (pass-through) body be rewritten for this upstream?"""
        return False

    def finalize_body(
        self, p: ProviderView, call: UpstreamCall, dialect: str, body: dict[str, Any], *, model: str, action: str | None
    ) -> dict[str, Any]:
        """The last touches, on the body already in the upstream's dialect."""
        return body

    def sign_headers(
        self, p: ProviderView, call: UpstreamCall, url: str, headers: dict[str, str], body: bytes
    ) -> dict[str, str]:
        """Headers that depend on the final URL and body; most kinds need none."""
        return headers

    def carry_betas(self, body: dict[str, Any], flags: list[str], model: str) -> dict[str, Any]:
        """A translated body with the client's accepted betas where this upstream reads them; most have none."""
        return body
    def probe(self, p: ProviderView, call: UpstreamCall) -> ProbeRequest | None:
        """The models list in the provider's first dialect, with the credential's headers; None: no such call."""
        dialect = p.dialects[0]
        base = call.base_url.rstrip("/")
        if dialect == "anthropic":
            return ProbeRequest(base + "/v1/models", {**call.headers, "anthropic-version": ANTHROPIC_VERSION})
        if dialect == "gemini":
            prefix = base if base.endswith(("/v1beta", "/v1")) else base + "/v1beta"
            return ProbeRequest(prefix + "/models", dict(call.headers))
        if dialect.startswith("openai"):
            return ProbeRequest(base + "/models", dict(call.headers))
        return None
