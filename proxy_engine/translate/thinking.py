"""Thinking settings across dialects, and where a thinking signature may be replayed.

A provider only accepts back the signatures it issued itself; replaying a foreign one is a
known cause of 400 "invalid signature". When we show a client a signature from a provider
of another dialect, we wrap it (base64 of a magic prefix + JSON naming the issuer) so a later
request can send it home, or drop it when it would go elsewhere.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from .ir import Reasoning, Thinking, ToolCall

EFFORT_BUDGET = {"minimal": 1024, "low": 4096, "medium": 16384, "high": 32768, "xhigh": 65536}
DEFAULT_BUDGET = 8192
ANTHROPIC_MIN_BUDGET = 1024


def budget_to_effort(budget: int) -> str:
    if budget <= 0:
        return "none"
    if budget <= 4096:
        return "low"
    if budget <= 16384:
        return "medium"
    return "high"


def wants_thinking(r: Reasoning | None) -> bool:
    if r is None or r.enabled is False or r.effort == "none":
        return False
    if r.budget is not None and r.budget == 0:
        return False
    return bool(r.enabled or r.effort or (r.budget is not None and r.budget != 0))


def resolve_budget(r: Reasoning | None, default: int | None) -> int:
    """A number of thinking tokens: the client's own, else from its effort, else the configured default."""
    if r is not None and r.budget is not None and r.budget > 0:
        return r.budget
    if r is not None and r.effort in EFFORT_BUDGET:
        return EFFORT_BUDGET[r.effort]
    if default is not None and default > 0:
        return default
    return DEFAULT_BUDGET


def resolve_effort(r: Reasoning | None, default: int | None) -> str:
    if r is not None and r.effort and r.effort != "none":
        return r.effort
    return budget_to_effort(resolve_budget(r, default))


# ---- signatures ----

_MAGIC = b"pp1sig"  # six bytes: its base64 is a fixed eight-character prefix
WRAP_PREFIX = base64.b64encode(_MAGIC).decode()  # "cHAxc2ln"


@dataclass(slots=True)
class Signature:
    source: str
    signature: str | None = None
    redacted: str | None = None
    text: str | None = None


def is_wrapped(value: object) -> bool:
    return isinstance(value, str) and value.startswith(WRAP_PREFIX)


def wrap(sig: Signature) -> str:
    """Plain base64, because some SDKs (google-genai) type signatures as bytes."""
    payload = {"p": sig.source}
    if sig.signature is not None:
        payload["s"] = sig.signature
    if sig.redacted is not None:
        payload["r"] = sig.redacted
    if sig.text is not None:
        payload["t"] = sig.text
    return base64.b64encode(_MAGIC + json.dumps(payload, separators=(",", ":")).encode()).decode()


def unwrap(value: str | None, native_source: str) -> Signature | None:
    """Who issued `value`: a wrapped token names its issuer; a bare one is the client dialect's own."""
    if not value:
        return None
    if not is_wrapped(value):
        return Signature(source=native_source, signature=value)
    try:
        raw = base64.urlsafe_b64decode(value.replace("+", "-").replace("/", "_") + "=" * (-len(value) % 4))
        data = json.loads(raw[len(_MAGIC) :])
    except (ValueError, TypeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("p"), str):
        return None
    return Signature(source=data["p"], signature=data.get("s"), redacted=data.get("r"), text=data.get("t"))


def client_signature(source: str | None, signature: str | None, client: str, redacted: str | None = None) -> str:
    """The token to show a client: bare when the client's own dialect issued it, wrapped otherwise."""
    if source is None or (signature is None and redacted is None):
        return ""
    if source == client and redacted is None:
        return signature or ""
    return wrap(Signature(source=source, signature=signature, redacted=redacted))


def thinking_from_client(text: str, token: str | None, client: str, redacted: str | None = None) -> Thinking:
    """A thinking part read from a client's history, with its issuer resolved."""
    if redacted is not None and not is_wrapped(redacted):
        return Thinking(text=text, source=client, redacted=redacted)
    sig = unwrap(token if redacted is None else redacted, client)
    if sig is None:
        return Thinking(text=text)
    return Thinking(
        text=sig.text if sig.text is not None else text,
        signature=sig.signature,
        source=sig.source,
        redacted=sig.redacted,
    )


def keep_for(part: Thinking, upstream: str) -> bool:
    """Thinking goes upstream only to the dialect that signed it."""
    return part.source == upstream and (part.signature is not None or part.redacted is not None)


def attach_tool_signatures(parts: list, native: str) -> list:
    """An empty thinking part right before a tool call carries that call's foreign signature back.

    Dialects without a field for a signature on a tool call (Anthropic, Responses) get it as
    an empty thinking block placed just before the call; reading the history back, it returns
    to the call it belongs to.
    """
    out: list = []
    for p in parts:
        prev = out[-1] if out else None
        if (
            isinstance(p, ToolCall)
            and isinstance(prev, Thinking)
            and not prev.text
            and prev.signature
            and prev.source not in (None, native)
            and p.signature is None
        ):
            out.pop()
            p.signature, p.signature_source = prev.signature, prev.source
        out.append(p)
    return out
