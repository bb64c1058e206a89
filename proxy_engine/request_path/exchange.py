"""The typed objects one request carries along the request path."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from proxy_engine.credentials.pool import Credential
from proxy_engine.dialects.json_decode import BodyHead, loads
from proxy_engine.providers import UpstreamCall
from proxy_engine.record import RequestRecord
from proxy_engine.recorder.capture import Capture
from proxy_engine.request_path.errors import ProxyError
from proxy_engine.routing import Candidate
from proxy_engine.runtime import Runtime
from proxy_engine.state import RunningEngine

if TYPE_CHECKING:  # the codecs load with the first translated call, not with the engine
    from proxy_engine.translate.translator import Translator

# Maps the model a client sent to the name the router resolves (Amp's mappings and routing mode).
ResolveAs = Callable[[Runtime, str], str]


@dataclass(slots=True)
class Exchange:
    """One inbound model call: what the client sent and the engine state it started with.

    The runtime is captured once, so a config reload mid-request cannot mix two configs.
    """

    request: web.Request
    record: RequestRecord
    state: RunningEngine
    runtime: Runtime
    raw: bytes  # the body as sent; a same-dialect call forwards these bytes
    head: BodyHead  # its model, stream and stream_options, read without building the rest
    action: str | None = None  # count_tokens, countTokens, generateContent, streamGenerateContent
    resolve_as: ResolveAs | None = None
    capture: Capture | None = None  # set when the flight recorder is on
    parsed: dict[str, Any] | None = None  # the whole body, once something needed it

    @property
    def body(self) -> dict[str, Any]:
        """The whole body, parsed on first use: a plain pass-through never needs it (json_decode.py)."""
        if self.parsed is None:
            try:
                self.parsed = loads(self.raw)  # read_head already found it a valid JSON object
            except RecursionError:  # within the depth read_head reached, but from a deeper stack
                raise ProxyError(400, "the request body is nested too deeply") from None
        return self.parsed


@dataclass(slots=True)
class Attempt:
    """One try of one candidate with one credential."""

    candidate: Candidate
    credential: Credential
    call: UpstreamCall
    dialect: str  # the upstream's dialect
    translator: Translator | None  # None: same dialect, bytes pass through
