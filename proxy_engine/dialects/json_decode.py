"""JSON bodies decoded by msgspec, with the standard library's answer whenever msgspec refuses one.

Agents resend the whole conversation on every turn, so a request body is typically 100 KB to a
few MB. `json.loads` builds it at about 3.5 ms per MB; msgspec's decoder builds the same objects
three to six times faster. msgspec is also stricter: it refuses `NaN`, numbers beyond a double,
UTF-16 text and a lone surrogate escape such as `"\\ud83d"` (a string cut in the middle of an emoji),
all of which `json.loads` accepts. So a body msgspec refuses is parsed again by `json.loads`: the
bodies the proxy accepts, the objects they become and the wording of every parse error stay the
standard library's, and only well-formed bodies (nearly all of them) take the fast path.

A same-dialect call forwards the client's bytes and needs only a few top-level fields to route
them (`read_head`): msgspec reads those and checks the rest is valid JSON without building it,
~10x faster than a full parse and without its ~5x-the-body's-size of Python objects per call in
flight. The whole body is parsed only when something needs it (translation, edits, sanitizing).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

_DECODE = msgspec.json.Decoder().decode


class BodyHead(msgspec.Struct):
    """The top-level fields the request path reads before it knows whether it needs the rest."""

    model: object = None
    stream: object = None
    stream_options: object = msgspec.UNSET  # absent; an explicit `null` is None


_HEAD = msgspec.json.Decoder(BodyHead).decode


def loads(raw: bytes | str) -> Any:
    """`json.loads(raw)`, faster: the same result, the same exceptions (ValueError, RecursionError)."""
    try:
        return _DECODE(raw)
    except (msgspec.DecodeError, RecursionError, UnicodeError):  # UnicodeEncodeError: a str with a lone surrogate
        return json.loads(raw)


def read_head(raw: bytes) -> tuple[BodyHead | None, Any]:
    """The head of a JSON body, and the whole value when reading it took a full parse (else None).

    The head is None when the body is valid JSON but not an object. Raises what `json.loads` raises
    for a body it refuses. msgspec passes over the bytes of strings it skips without checking them
    as UTF-8, so a body that is not ASCII is also decoded once: invalid UTF-8 is refused as before.
    """
    try:
        head = _HEAD(raw)
        if not raw.isascii():
            raw.decode()
        return head, None
    except (msgspec.DecodeError, RecursionError, UnicodeError):  # ValidationError is a DecodeError
        whole = json.loads(raw)
    if not isinstance(whole, dict):
        return None, whole
    return BodyHead(whole.get("model"), whole.get("stream"), whole.get("stream_options", msgspec.UNSET)), whole
