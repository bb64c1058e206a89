"""The client's streamed reply, with every byte written also handed to the capture as it goes out."""

from __future__ import annotations

from aiohttp import web

from proxy_engine.recorder.capture import Capture, Stage
from proxy_engine.request_path.client_reply import ClientReply


class TappedStreamResponse(ClientReply):
    """Used only when a capture is running; the bytes are written first and then noted (no buffering)."""

    def __init__(self, capture: Capture, status: int) -> None:
        super().__init__(status=status)
        self._capture = capture
        self._stage: Stage | None = None  # the client_response stage, found at the first write

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        await super().write(data)
        if (stage := self._stage) is None:
            stage = self._stage = self._capture.client_response_stage()
        self._capture.add(stage, bytes(data) if type(data) is not bytes else data)


def client_stream(capture: Capture | None, status: int) -> web.StreamResponse:
    """The reply object a relay writes to: tapped when this request is captured, plain otherwise."""
    return ClientReply(status=status) if capture is None else TappedStreamResponse(capture, status)
