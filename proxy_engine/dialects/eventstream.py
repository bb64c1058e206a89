"""AWS event-stream framing (application/vnd.amazon.eventstream), as Bedrock's ConverseStream sends it.

Each message: a 12-byte prelude (total length, headers length, CRC32 of those 8 bytes), typed headers,
the payload, and a CRC32 of everything before it. Bytes arrive in arbitrary TCP-sized pieces, so the
decoder buffers until a whole message is present and checks both checksums before trusting a byte.
"""

from __future__ import annotations

import json
import struct
import uuid
import zlib
from dataclasses import dataclass
from typing import Any

PRELUDE_LEN = 12
CRC_LEN = 4
# AWS limits: 16 MiB per message, 128 KiB of headers.
MAX_MESSAGE_LEN = 16 * 1024 * 1024
MAX_HEADERS_LEN = 128 * 1024
CONTENT_TYPE = "application/vnd.amazon.eventstream"

# Header value types, as numbered by the format.
_TRUE, _FALSE, _BYTE, _SHORT, _INT, _LONG, _BYTES, _STRING, _TIMESTAMP, _UUID = range(10)
_FIXED = {_BYTE: ">b", _SHORT: ">h", _INT: ">i", _LONG: ">q", _TIMESTAMP: ">q"}

HeaderValue = str | bytes | bool | int | uuid.UUID


class EventStreamError(Exception):
    """The byte stream is not valid event-stream framing (bad length or checksum): the stream is unusable."""


@dataclass(slots=True)
class EventStreamMessage:
    headers: dict[str, HeaderValue]
    payload: bytes


def _crc(data: bytes, start: int = 0) -> int:
    return zlib.crc32(data, start) & 0xFFFFFFFF


def _parse_headers(raw: bytes) -> dict[str, HeaderValue]:
    headers: dict[str, HeaderValue] = {}
    pos = 0
    try:
        while pos < len(raw):
            name_len = raw[pos]
            name = raw[pos + 1 : pos + 1 + name_len].decode("utf-8")
            pos += 1 + name_len
            kind = raw[pos]
            pos += 1
            value: HeaderValue
            if kind in (_TRUE, _FALSE):
                value = kind == _TRUE
            elif kind in _FIXED:
                fmt = _FIXED[kind]
                (value,) = struct.unpack_from(fmt, raw, pos)
                pos += struct.calcsize(fmt)
            elif kind in (_BYTES, _STRING):
                (length,) = struct.unpack_from(">H", raw, pos)
                data = raw[pos + 2 : pos + 2 + length]
                if len(data) != length:
                    raise EventStreamError("a header value runs past the header block")
                value = data.decode("utf-8") if kind == _STRING else bytes(data)
                pos += 2 + length
            elif kind == _UUID:
                value = uuid.UUID(bytes=bytes(raw[pos : pos + 16]))
                pos += 16
            else:
                raise EventStreamError(f"unknown header value type {kind}")
            headers[name] = value
    except (IndexError, struct.error, UnicodeDecodeError, ValueError) as exc:
        raise EventStreamError(f"malformed event-stream headers ({type(exc).__name__})") from exc
    if pos != len(raw):
        raise EventStreamError("event-stream headers overrun their declared length")
    return headers


class EventStreamDecoder:
    """Incremental decoder: `feed(bytes)` returns the messages completed by those bytes."""

    def __init__(self) -> None:
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a message (non-zero at EOF means a truncated stream)."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[EventStreamMessage]:
        self._buf += data
        out: list[EventStreamMessage] = []
        while len(self._buf) >= PRELUDE_LEN:
            total, headers_len, prelude_crc = struct.unpack_from(">III", self._buf, 0)
            if _crc(bytes(self._buf[:8])) != prelude_crc:
                raise EventStreamError("event-stream prelude checksum mismatch")
            if total > MAX_MESSAGE_LEN or headers_len > MAX_HEADERS_LEN:
                raise EventStreamError("event-stream message is larger than AWS allows")
            if total < PRELUDE_LEN + headers_len + CRC_LEN:
                raise EventStreamError("event-stream message length is shorter than its parts")
            if len(self._buf) < total:
                break
            frame = bytes(self._buf[:total])
            del self._buf[:total]
            (message_crc,) = struct.unpack_from(">I", frame, total - CRC_LEN)
            if _crc(frame[: total - CRC_LEN]) != message_crc:
                raise EventStreamError("event-stream message checksum mismatch")
            headers = _parse_headers(frame[PRELUDE_LEN : PRELUDE_LEN + headers_len])
            out.append(EventStreamMessage(headers=headers, payload=frame[PRELUDE_LEN + headers_len : total - CRC_LEN]))
        return out


def _json_payload(payload: bytes) -> Any:
    if not payload:
        return {}
    try:
        return json.loads(payload)
    except ValueError as exc:
        raise EventStreamError("an event-stream payload is not JSON") from exc


def message_to_event(msg: EventStreamMessage) -> dict:
    """One decoded message as the dict Bedrock's stream decoder reads: {event_type: payload}.

    Exceptions become {"exception": {"type", "message"}}; `:message-type: error` carries its code and
    message in headers rather than the payload.
    """
    kind = msg.headers.get(":message-type", "event")
    if kind == "event":
        name = str(msg.headers.get(":event-type", ""))
        payload = _json_payload(msg.payload)
        return {name: payload}
    if kind == "exception":
        payload = _json_payload(msg.payload)
        message = (payload.get("message") or payload.get("Message")) if isinstance(payload, dict) else None
        return {
            "exception": {
                "type": str(msg.headers.get(":exception-type", "exception")),
                "message": str(message or "upstream stream error"),
            }
        }
    return {
        "exception": {
            "type": str(msg.headers.get(":error-code", "error")),
            "message": str(msg.headers.get(":error-message", "upstream stream error")),
        }
    }


class EventStreamFramer:
    """Raw response bytes in, Bedrock stream-event dicts out: `feed(chunk) -> [{"contentBlockDelta": {...}}]`.

    Raises EventStreamError on corrupt framing; call `at_eof()` when the body ends to detect truncation.
    """

    def __init__(self) -> None:
        self._decoder = EventStreamDecoder()

    def feed(self, data: bytes) -> list[dict]:
        return [message_to_event(m) for m in self._decoder.feed(data)]

    def at_eof(self) -> bool:
        """True when the stream ended on a message boundary (nothing half-received)."""
        return self._decoder.pending == 0


# ---- encoding (used by the fake Bedrock, and handy in tests) ----


def _encode_header(name: str, value: HeaderValue) -> bytes:
    raw_name = name.encode("utf-8")
    out = bytes([len(raw_name)]) + raw_name
    if isinstance(value, bool):
        return out + bytes([_TRUE if value else _FALSE])
    if isinstance(value, int):
        return out + bytes([_LONG]) + struct.pack(">q", value)
    if isinstance(value, uuid.UUID):
        return out + bytes([_UUID]) + value.bytes
    if isinstance(value, str):
        data = value.encode("utf-8")
        return out + bytes([_STRING]) + struct.pack(">H", len(data)) + data
    return out + bytes([_BYTES]) + struct.pack(">H", len(value)) + bytes(value)


def encode_message(headers: dict[str, HeaderValue], payload: bytes) -> bytes:
    """One complete event-stream message with both checksums."""
    raw_headers = b"".join(_encode_header(k, v) for k, v in headers.items())
    total = PRELUDE_LEN + len(raw_headers) + len(payload) + CRC_LEN
    prelude = struct.pack(">II", total, len(raw_headers))
    prelude += struct.pack(">I", _crc(prelude))
    body = prelude + raw_headers + payload
    return body + struct.pack(">I", _crc(body))


def encode_event(event_type: str, payload: Any) -> bytes:
    """An `:message-type: event` message carrying a JSON payload, as Bedrock frames ConverseStream events."""
    headers: dict[str, HeaderValue] = {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return encode_message(headers, json.dumps(payload, separators=(",", ":")).encode())


def encode_exception(exception_type: str, message: str) -> bytes:
    """An `:message-type: exception` message (throttlingException, modelStreamErrorException, ...)."""
    headers: dict[str, HeaderValue] = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_message(headers, json.dumps({"message": message}).encode())
