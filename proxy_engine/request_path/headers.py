"""Which headers travel, declared once for model calls and for Amp's relay."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from aiohttp import web

# Meaningful for one connection only (RFC 9110 7.6.1), never forwarded either way.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
     "trailer", "trailers", "transfer-encoding", "upgrade"}
)  # fmt: skip
# Where the client came from and which host it called: this machine's business, not the upstream's.
CLIENT_ORIGIN = frozenset(
    {"host", "forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-real-ip"}
)
# Where a client presents its key to this proxy (`client_key` reads them).
CLIENT_CREDENTIALS = ("authorization", "x-api-key", "x-goog-api-key")

# A same-dialect model call forwards only these client headers (plus `x-stainless-*`, the SDKs'
# telemetry): versions, betas and the agents' session ids, never where the client came from, which
# org or project the operator's key bills (`OpenAI-Organization`, `OpenAI-Project`), or an encoding
# the engine already undid. Keyed by the upstream's dialect; one set lookup per header.
_COMMON_ALLOWED = frozenset({"content-type", "accept", "user-agent"})
_OPENAI_ALLOWED = _COMMON_ALLOWED | {
    "openai-beta", "session_id", "session-id", "conversation_id", "conversation-id", "thread_id", "thread-id",
    "x-session-id", "originator", "version", "idempotency-key",
}  # fmt: skip
FORWARDED_HEADERS: dict[str, frozenset[str]] = {
    "anthropic": _COMMON_ALLOWED | {
        "anthropic-version", "anthropic-beta", "anthropic-dangerous-direct-browser-access", "x-app",
        "x-claude-code-session-id", "x-session-id",
    },
    "openai_chat": _OPENAI_ALLOWED,
    "openai_responses": _OPENAI_ALLOWED,
    "openai_completions": _OPENAI_ALLOWED,
    "gemini": _COMMON_ALLOWED | {"x-goog-api-client"},
}  # fmt: skip
FORWARDED_HEADER_PREFIX = "x-stainless-"
# Query parameters a same-dialect call keeps; the key and Gemini's `alt` are the engine's to choose,
# and a field mask (Gemini's `fields`) could strip the usage the ledger counts.
FORWARDED_QUERY: dict[str, frozenset[str]] = {"anthropic": frozenset({"beta"})}
_NOTHING: frozenset[str] = frozenset()

# Amp's relay: cookies stay home too (a browser sends one localhost cookie jar to every local port).
RELAY_REQUEST_DROPPED = HOP_BY_HOP | CLIENT_ORIGIN | {"expect", "cookie"}
RELAY_RESPONSE_DROPPED = HOP_BY_HOP | {"set-cookie", "server"}
# Upstream reply headers a model call passes back (rate limits, request ids, Retry-After).
REPLY_KEPT_PREFIXES = ("x-ratelimit", "anthropic-", "openai-", "x-request-id", "request-id", "retry-after")


def client_key(request: web.Request) -> str | None:
    """The key a client presented to this proxy, in any dialect's place for it."""
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("x-api-key") or request.headers.get("x-goog-api-key") or request.query.get("key")


def forwarded_headers(request: web.Request, up_dialect: str, translated: bool) -> dict[str, str]:
    """A same-dialect call keeps the client's allowed headers (betas, versions); a translated one sends its own."""
    has_version = False
    if translated:
        out = {"Content-Type": "application/json"}
    else:
        verdicts = _VERDICTS.get(up_dialect) or _VERDICTS.setdefault(up_dialect, {})
        hdrs = request.headers
        named = _connection_named(tuple(hdrs.getall("Connection"))) if "Connection" in hdrs else _NOTHING
        out = {}
        for k, v in hdrs.items():
            low = verdicts.get(k, _UNSEEN)
            if low is _UNSEEN:
                low = _verdict(verdicts, up_dialect, k)
            if low is not None and low not in named:
                out[k] = v
                if low == "anthropic-version":
                    has_version = True
    if up_dialect == "anthropic" and not has_version:
        out["anthropic-version"] = "2023-06-01"
    return out


# Per upstream dialect: a header name as a client spells it -> its lower-case form when it may be forwarded,
# else None. Clients send the same few names on every call, so each is judged once (bounded: the names are
# the client's to invent).
_VERDICTS: dict[str, dict[str, str | None]] = {}
_VERDICTS_MAX = 1024
_UNSEEN = ""  # never a header name


def _verdict(verdicts: dict[str, str | None], up_dialect: str, name: str) -> str | None:
    low = name.lower()
    allowed = FORWARDED_HEADERS.get(up_dialect, _COMMON_ALLOWED)
    verdict = low if low in allowed or low.startswith(FORWARDED_HEADER_PREFIX) else None
    if len(verdicts) < _VERDICTS_MAX:
        verdicts[name] = verdict
    return verdict


@functools.lru_cache(maxsize=64)
def _connection_named(values: tuple[str, ...]) -> frozenset[str]:
    """Headers the client declared hop-by-hop in `Connection:` (RFC 9110 7.6.1); cached, as clients repeat it."""
    return frozenset(t.strip().lower() for v in values for t in v.split(","))


def merge_auth(headers: dict[str, str], auth: dict[str, str]) -> None:
    """Credential headers win, except `anthropic-beta`, whose flags are combined."""
    for k, v in auth.items():
        if k.lower() == "anthropic-beta":
            have = next((h for h in headers if h.lower() == "anthropic-beta"), None)
            if have is not None:
                flags = [f.strip() for f in headers.pop(have).split(",") if f.strip()]
                v = ",".join(dict.fromkeys([*flags, *v.split(",")]))
        headers[k] = v


def forwarded_query(request: web.Request, up_dialect: str, translated: bool) -> dict[str, str] | None:
    """A same-dialect call keeps only the query parameters its dialect allows (see FORWARDED_QUERY)."""
    if translated or not request.query:
        return None
    allowed = FORWARDED_QUERY.get(up_dialect, _NOTHING)
    return {k: v for k, v in request.query.items() if k in allowed} or None


def kept_reply_headers(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    """The upstream reply headers a model call passes back (REPLY_KEPT_PREFIXES), each name judged once."""
    kept = []
    for k, v in headers.items():
        keep = _REPLY_VERDICTS.get(k)
        if keep is None:
            keep = k.lower().startswith(REPLY_KEPT_PREFIXES)
            if len(_REPLY_VERDICTS) < _VERDICTS_MAX:
                _REPLY_VERDICTS[k] = keep
        if keep:
            kept.append((k, v))
    return kept


_REPLY_VERDICTS: dict[str, bool] = {}  # a reply header name as the upstream spells it -> kept
