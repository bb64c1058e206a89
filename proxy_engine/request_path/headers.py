"""Which headers travel, declared once for model calls and for Amp's relay."""

from __future__ import annotations

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

# A model call: the credential is the pool's, the body is re-sent whole, cookies stay home.
MODEL_CALL_DROPPED = HOP_BY_HOP | CLIENT_ORIGIN | {
    *CLIENT_CREDENTIALS, "api-key", "content-length", "cookie", "accept-encoding", "expect",
}  # fmt: skip
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
    """A same-dialect call keeps the client's headers (betas, versions); a translated one sends its own."""
    if translated:
        out = {"Content-Type": "application/json"}
    else:
        out = {k: v for k, v in request.headers.items() if k.lower() not in MODEL_CALL_DROPPED}
    if up_dialect == "anthropic" and "anthropic-version" not in request.headers:
        out["anthropic-version"] = "2023-06-01"
    return out


def merge_auth(headers: dict[str, str], auth: dict[str, str]) -> None:
    """Credential headers win, except `anthropic-beta`, whose flags are combined."""
    for k, v in auth.items():
        if k.lower() == "anthropic-beta":
            have = next((h for h in headers if h.lower() == "anthropic-beta"), None)
            if have is not None:
                flags = [f.strip() for f in headers.pop(have).split(",") if f.strip()]
                v = ",".join(dict.fromkeys([*flags, *v.split(",")]))
        headers[k] = v


def forwarded_query(request: web.Request, translated: bool) -> dict[str, str] | None:
    """A same-dialect call keeps the client's query, minus its key and the stream framing we choose."""
    if translated or not request.query:
        return None
    return {k: v for k, v in request.query.items() if k not in ("key", "alt")} or None
