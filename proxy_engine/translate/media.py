"""Images and documents given by URL: base64 data URLs split and built, media types guessed."""

from __future__ import annotations

import re

from .ir import Document, Image

_DATA_URL = re.compile(r"^data:([^;,]*)(;[^,]*)?,(.*)$", re.S)


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
