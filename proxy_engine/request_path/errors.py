"""Errors on the request path, answered in the dialect of the API the client called."""

from __future__ import annotations

import json
import math

from aiohttp import web

from proxy_engine.providers import Provider
from proxy_engine.runtime import Runtime
from proxy_engine.translate import error_body

# What a translator or the token estimate raises when a body parsed but a field has a shape no
# dialect allows (`functionDeclarations: [[1]]`, a list where an object goes): the client's fault, a 400.
MALFORMED = (TypeError, AttributeError, KeyError, IndexError, ValueError)


class ProxyError(Exception):
    """A request that cannot be served; `status`, `code` and `headers` go to the client as they are.

    `body` set: the reply body as it is (an upstream's own error, already redacted), so clients that
    match on its wording (Claude Code's "prompt is too long") see what the upstream said.
    """

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}
        self.body = body


_BODY_HEADERS = frozenset({"content-type", "content-length", "content-encoding"})


def error_response(dialect: str, err: ProxyError) -> web.Response:
    if err.body is not None:
        headers = {"Content-Type": "application/json", **err.headers}
        return web.Response(status=err.status, body=err.body, headers=headers)
    body = error_body(dialect, err.status, err.message, err.code)
    # Our own body: headers that described an upstream's body (kept when a wrapper re-raised it) do not apply.
    headers = {k: v for k, v in err.headers.items() if k.lower() not in _BODY_HEADERS}
    return web.Response(status=err.status, body=body, content_type="application/json", headers=headers)


def unknown_model(model: str, known: list[str], rt: Runtime) -> ProxyError:
    if known:
        message = f"unknown model {model!r}; models here: {', '.join(known)}"
    else:
        providers = ", ".join(rt.providers) or "none configured yet"
        message = (
            f"unknown model {model!r}; no `models:` are listed, so name one as PROVIDER/MODEL (providers: {providers})"
        )
    return ProxyError(404, message, "model_not_found")


def over_budget(scope: str, spent: float, limit: float, resets_in: float) -> ProxyError:
    secs = max(1, math.ceil(resets_in))
    return ProxyError(429, f"budget {scope} is used up (${spent:.2f} of ${limit:.2f}); it resets in "
                      f"{secs // 3600}h{secs % 3600 // 60:02d}m, or raise it in the config", "budget_exceeded",
                      {"Retry-After": str(secs)})  # fmt: skip


def cooling_down(model: str | None, wait: float, *, out_of_quota: bool = False) -> ProxyError:
    secs = max(1, math.ceil(wait))
    if out_of_quota:
        return ProxyError(429, f"every credential that serves {model!r} has used up its quota; the first "
                          f"window resets in {_span(secs)}", "quota_exhausted", {"Retry-After": str(secs)})  # fmt: skip
    return ProxyError(429, f"every credential that serves {model!r} is cooling down after upstream "
                      f"errors; retry in {secs}s (or clear cooldowns in proxypal-tui)", "credentials_cooling_down",
                      {"Retry-After": str(secs)})  # fmt: skip


def _span(secs: int) -> str:
    if secs < 120:
        return f"{secs}s"
    return f"{secs // 3600}h{secs % 3600 // 60:02d}m" if secs >= 3600 else f"{secs // 60}m"


def no_credentials(provider: Provider) -> ProxyError:
    if provider.login:
        message = f"{provider.name} has no login: run `proxypal-engine login {provider.login}`"
    else:
        refs = ", ".join(provider.unreadable) or "none configured"
        message = f"{provider.name} has no usable API key ({refs} cannot be read)"
    return ProxyError(503, message, "no_credentials")


def upstream_message(body: bytes) -> str | None:
    """The human part of an upstream error body, in any of the dialects' error shapes."""
    try:
        obj = json.loads(body)
    except ValueError:
        return None
    err = obj.get("error") if isinstance(obj, dict) else None
    if isinstance(err, dict):
        return str(err.get("message") or "")
    return str(obj.get("message")) if isinstance(obj, dict) and obj.get("message") else None
