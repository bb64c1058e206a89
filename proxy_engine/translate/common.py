"""Small helpers shared by the dialect codecs: JSON text, data URLs, ids, field lookups."""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any

from .ir import Document, Image

_DATA_URL = re.compile(r"^data:([^;,]*)(;[^,]*)?,(.*)$", re.S)


class TranslationError(Exception):
    """A request the target cannot represent; the proxy answers `status` in the client's dialect."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class UpstreamMalformed(TranslationError):
    """An upstream reply the proxy cannot read (a whole body or a stream event that is not JSON).

    It is the upstream's fault, so it is a 502 that cools the credential down and may fail over.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, 502)


# Built once: json.dumps with keyword arguments builds a new encoder on every call, and stream
# encoders call this once per event.
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_COMPACT_ASCII = json.JSONEncoder(separators=(",", ":"))
_DECODER = json.JSONDecoder()


def dumps(obj: Any) -> str:
    return _COMPACT.encode(obj)


def dumpb(obj: Any) -> bytes:
    """Compact JSON as UTF-8 bytes. Text holding a lone surrogate (an upstream that split an emoji's
    escape pair across two deltas) cannot be UTF-8: it is sent \\u-escaped instead of failing the stream."""
    try:
        return _COMPACT.encode(obj).encode()
    except UnicodeEncodeError:
        return _COMPACT_ASCII.encode(obj).encode()


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


def split_data_url(url: str) -> tuple[str, str] | None:
    """(media_type, base64 data) for a base64 data URL, else None."""
    m = _DATA_URL.match(url)
    if not m or ";base64" not in (m.group(2) or ""):
        return None
    return m.group(1) or "application/octet-stream", m.group(3)


def data_url(media_type: str, data: str) -> str:
    return f"data:{media_type};base64,{data}"


def image_from_url(url: str) -> Image:
    inline = split_data_url(url)
    if inline:
        return Image(media_type=inline[0], data=inline[1])
    return Image(media_type=guess_media_type(url), url=url)


def document_from_url(url: str, title: str | None = None) -> Document:
    inline = split_data_url(url)
    if inline:
        return Document(media_type=inline[0], data=inline[1], title=title)
    return Document(media_type=guess_media_type(url) or "application/pdf", url=url, title=title)


_EXT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
    ".txt": "text/plain",
}


def guess_media_type(url: str) -> str:
    path = url.split("?", 1)[0].lower()
    for ext, media in _EXT_TYPES.items():
        if path.endswith(ext):
            return media
    return ""


def get(d: dict, *names: str, default: Any = None) -> Any:
    """The first present key: Gemini clients may send camelCase or snake_case."""
    for name in names:
        if name in d and d[name] is not None:
            return d[name]
    return default


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)  # Gemini's int64 fields arrive as strings in proto JSON
    return None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def str_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def stable_id(prefix: str, *parts: object) -> str:
    """A deterministic id for providers that give none (Gemini function calls)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return f"{prefix}{digest[:24]}"


def now() -> int:
    return int(time.time())


def as_obj(value: Any) -> dict:
    """`value` when it is a JSON object, else an empty one: a wrongly typed field reads as absent."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []
