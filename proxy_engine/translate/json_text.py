"""Compact JSON text for the dialect codecs: encoders built once, tolerant tool-argument parsing."""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import c_make_encoder, encode_basestring, encode_basestring_ascii
from typing import Any

# Built once: json.dumps with keyword arguments builds a new encoder on every call, and stream
# encoders call this once per event.
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_COMPACT_ASCII = json.JSONEncoder(separators=(",", ":"))
_DECODER = json.JSONDecoder()


def dumps(obj: Any) -> str:
    return _COMPACT.encode(obj)


def _one_shot(enc: json.JSONEncoder) -> Callable[[Any], str]:
    """`enc.encode` minus the C encoder it builds on every call (`JSONEncoder.iterencode`), built once here.

    The body is a tree decoded from JSON or built by a codec, never cyclic, so the circular-reference
    bookkeeping is left out too (a cycle would end in RecursionError instead of ValueError).
    """
    if c_make_encoder is None:  # no C accelerator: the pure-Python encoder, as json.dumps would use
        return enc.encode
    basestring = encode_basestring_ascii if enc.ensure_ascii else encode_basestring
    make = c_make_encoder(None, enc.default, basestring, None, enc.key_separator, enc.item_separator,
                          False, False, True)  # fmt: skip

    def encode(obj: Any) -> str:
        if type(obj) is not dict:
            return enc.encode(obj)
        return "".join(make(obj, 0))

    return encode


_encode = _one_shot(_COMPACT)
_encode_ascii = _one_shot(_COMPACT_ASCII)


def dumpb(obj: Any) -> bytes:
    """Compact JSON as UTF-8 bytes. Text holding a lone surrogate (an upstream that split an emoji's
    escape pair across two deltas) cannot be UTF-8: it is sent \\u-escaped instead of failing the stream."""
    try:
        return _encode(obj).encode()
    except UnicodeEncodeError:
        return _encode_ascii(obj).encode()


def quote(text: str) -> bytes:
    """One JSON string literal as UTF-8 bytes, for the per-token templates of the stream encoders."""
    try:
        return encode_basestring(text).encode()
    except UnicodeEncodeError:
        return encode_basestring_ascii(text).encode()


def loads(data: bytes | str) -> Any:
    """`json.loads` for one stream event, minus its per-call encoding sniffing (events are UTF-8)."""
    if isinstance(data, bytes):
        data = data.decode()
    try:
        obj, end = _DECODER.raw_decode(data)
    except ValueError:
        return json.loads(data)  # leading whitespace, or an error the full parser reports properly
    if end != len(data) and not data[end:].isspace():
        return json.loads(data)  # raises "Extra data"
    return obj


def parse_args(text: str | None) -> dict:
    """Tool arguments as an object; malformed or non-object JSON is kept under `_raw` rather than lost."""
    if not text or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {"_raw": text}
    return value if isinstance(value, dict) else {"_value": value}


def args_text(value: Any) -> str:
    if value is None:
        return "{}"
    if isinstance(value, str):
        return value
    return dumps(value)
