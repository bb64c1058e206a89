"""An honest local token estimate, for count_tokens/countTokens on providers without that endpoint.

It is an estimate and says so: the proxy marks the response with ESTIMATE_HEADER. Text is
counted the way BPE tokenizers roughly split it (about four characters of an English word
per token, one token per punctuation mark, about one per CJK character); images use
Anthropic's published pixel formula; PDFs a per-page figure.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import struct
from typing import TYPE_CHECKING

from .context import Context
from .errors import TranslationError

if TYPE_CHECKING:  # the internal model loads with the codecs, not with `text_tokens` and ESTIMATE_HEADER
    from .ir import Document, Image, Request

ESTIMATE_HEADER = "X-ProxyPal-Token-Estimate"
_PIECES = re.compile(r"[A-Za-z]+|\d{1,3}|[^\sA-Za-z\d]")
IMAGE_DEFAULT_TOKENS = 1200
PDF_PAGE_TOKENS = 2000
MESSAGE_OVERHEAD = 4
TOOL_OVERHEAD = 12


def text_tokens(text: str) -> int:
    n = 0
    for piece in _PIECES.findall(text):
        if piece.isascii():
            n += math.ceil(len(piece) / 4) if piece[0].isalpha() else 1
        else:
            n += len(piece)
    return n


def _image_size(data: str) -> tuple[int, int] | None:
    try:
        head = base64.b64decode(data[:65536] + "=" * (-len(data[:65536]) % 4), validate=False)
    except (binascii.Error, ValueError):
        return None
    if head.startswith(b"\x89PNG\r\n\x1a\n") and len(head) >= 24:
        return struct.unpack(">II", head[16:24])
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        return struct.unpack("<HH", head[6:10])
    if head.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(head):
            if head[i] != 0xFF:
                i += 1
                continue
            marker = head[i + 1]
            if marker in (0xC0, 0xC1, 0xC2):
                h, w = struct.unpack(">HH", head[i + 5 : i + 9])
                return w, h
            i += 2 + struct.unpack(">H", head[i + 2 : i + 4])[0]
    return None


def image_tokens(img: Image) -> int:
    size = _image_size(img.data) if img.data else None
    if not size:
        return IMAGE_DEFAULT_TOKENS
    w, h = size
    scale = min(1.0, 1568 / max(w, h, 1))  # large images are scaled down before they are counted
    return max(1, math.ceil((w * scale) * (h * scale) / 750))


def document_tokens(doc: Document) -> int:
    if doc.text is not None:
        return text_tokens(doc.text)
    if doc.data:
        try:
            raw = base64.b64decode(doc.data, validate=False)
        except (binascii.Error, ValueError):
            return PDF_PAGE_TOKENS
        pages = len(re.findall(rb"/Type\s*/Page(?!s)", raw))
        return max(1, pages) * PDF_PAGE_TOKENS
    return PDF_PAGE_TOKENS


def _part_tokens(p: object) -> int:
    from .ir import Document, Image, Text, Thinking, ToolCall, ToolResult

    if isinstance(p, Text):
        return text_tokens(p.text)
    if isinstance(p, Thinking):
        return text_tokens(p.text)
    if isinstance(p, Image):
        return image_tokens(p)
    if isinstance(p, Document):
        return document_tokens(p)
    if isinstance(p, ToolCall):
        return text_tokens(p.name) + text_tokens(p.arguments) + 4
    if isinstance(p, ToolResult):
        return sum(_part_tokens(c) for c in p.content) + 4
    return 0


def request_tokens(req: Request) -> int:
    n = sum(text_tokens(s) for s in req.system)
    for msg in req.messages:
        n += MESSAGE_OVERHEAD + sum(_part_tokens(p) for p in msg.parts)
    for tool in req.tools:
        n += TOOL_OVERHEAD + text_tokens(tool.name) + text_tokens(tool.description)
        n += text_tokens(json.dumps(tool.parameters))
    return n


def estimate_input_tokens(client_dialect: str, body: dict) -> int:
    """Estimated prompt tokens of a request in `client_dialect` (what the upstream would bill as input)."""
    from .translator import codec  # the codec table imports every dialect; keep this module light

    ctx = Context(client=client_dialect, upstream=client_dialect)
    if client_dialect == "gemini" and isinstance(body.get("generateContentRequest"), dict):
        body = body["generateContentRequest"]  # countTokens may wrap a whole generateContent request
    try:
        req = codec(client_dialect).decode_request(body, ctx)
    except TranslationError:
        return text_tokens(json.dumps(body, ensure_ascii=False))
    return max(1, request_tokens(req))


def count_tokens_response(client_dialect: str, n: int) -> dict:
    """The body a client's SDK expects from its dialect's token-counting endpoint."""
    if client_dialect == "anthropic":
        return {"input_tokens": n}
    if client_dialect == "gemini":
        return {"totalTokens": n}
    if client_dialect == "openai_responses":
        return {"object": "response.input_tokens", "input_tokens": n}
    return {"object": "input_tokens", "input_tokens": n}
