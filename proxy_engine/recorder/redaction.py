"""What a capture may keep: headers, query parameters and bodies with every secret cut out.

Runs in the writer thread, never on the request path. Headers and query parameters that carry
credentials are replaced by name; every text that remains (URLs, header values, bodies) then goes
through the request path's `redact_secrets`, which knows every configured secret by value (keys
resolved from `keyring:`/`env:` references, client keys) and the shapes of keys and tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from proxy_engine.request_path.redaction import REDACTED, redact_secrets

SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "x-goog-api-key", "api-key", "cookie", "set-cookie",
     "x-amz-security-token", "x-goog-user-project-token", "x-proxypal-management-key"}
)  # fmt: skip
_SECRET_QUERY_PARTS = ("key", "token", "secret", "signature", "credential", "password", "sig")


def _secret_param(name: str) -> bool:
    low = name.lower()
    return low.startswith("x-amz-") or any(part in low for part in _SECRET_QUERY_PARTS)


def redact_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Credential headers replaced by name, the rest scanned for secrets by value and shape."""
    out: dict[str, str] = {}
    for k, v in (headers or {}).items():
        out[k] = REDACTED if k.lower() in SECRET_HEADERS else redact_secrets(v)
    return out


def redact_query(query: Mapping[str, str] | None) -> dict[str, str]:
    return {k: REDACTED if _secret_param(k) else redact_secrets(v) for k, v in (query or {}).items()}


def redact_url(url: str) -> str:
    """A URL with credential query parameters (`?key=`, signatures) replaced and secrets in it cut out."""
    parts = urlsplit(url)
    if parts.query:
        pairs = [(k, REDACTED if _secret_param(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        parts = parts._replace(query=urlencode(pairs, safe="[]"))
    return redact_secrets(urlunsplit(parts))


def redact_body(body: bytes) -> str:
    """A body as text with its secrets replaced; replacements are ASCII inside strings, so JSON stays JSON."""
    return redact_secrets(body.decode("utf-8", "replace"))
