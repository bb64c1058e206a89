"""JSON bodies decoded by msgspec, with the standard library's answer whenever msgspec refuses one.

Agents resend the whole conversation on every turn, so a request body is typically 100 KB to a
few MB. `json.loads` builds it at about 3.5 ms per MB; msgspec's decoder builds the same objects
three to six times faster. msgspec is also stricter: it refuses `NaN`, numbers beyond a double,
UTF-16 text and a lone surrogate escape such as `"\\ud83d"` (a string cut in the middle of an emoji),
all of which `json.loads` accepts. So a body msgspec refuses is parsed again by `json.loads`: the
bodies the proxy accepts, the objects they become and the wording of every parse error stay the
standard library's, and only well-formed bodies (nearly all of them) take the fast path.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

_DECODE = msgspec.json.Decoder().decode


def loads(raw: bytes | str) -> Any:
    """`json.loads(raw)`, faster: the same result, the same exceptions (ValueError, RecursionError)."""
    try:
        return _DECODE(raw)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return json.loads(raw)
