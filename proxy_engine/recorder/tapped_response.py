"""The client's streamed reply, with every byte written also handed to the capture as it goes out."""

from __future__ import annotations

from aiohttp import web

from proxy_engine.recorder.capture import Capture
from proxy_engine.request_path.client_reply import ClientReply


class TappedStreamResponse(ClientReply):
    """Used only when a capture is running; the bytes are written first and then noted (no buffering)."""

    def __init__(self, capture: Capture, status: int) -> None:
        super().__init__(status=status)
        self._capture = capture

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        await super().write(data)
        self._capture.client_response_body(bytes(data) if type(data) is not bytes else data)


def client_stream(capture: Capture | None, status: int) -> web.StreamResponse:
    """The reply object a relay writes to: tapped when this request is captured, plain otherwise."""
    return ClientReply(status=status) if capture is None else TappedStreamResponse(capture, status)
