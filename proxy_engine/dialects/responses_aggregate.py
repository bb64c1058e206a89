"""A Responses stream read into the one Response object a non-stream caller expects.

The ChatGPT backend (Codex logins) only streams, so a whole reply is asked for as a stream and
put back together here. Its terminal event carries the Response; when that event's `output` is
empty (the backend leaves it out), the items come from the `response.output_item.done` events.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from proxy_engine.dialects.sse import SSEFramer, block_data
from proxy_engine.translate.errors import UpstreamMalformed

TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})


class ResponseAssembler:
    """Follows one response's stream events: the items it added, its id, and how it ended."""

    __slots__ = ("error", "final", "items", "response_id")

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.final: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None  # the `error` event or a failed response's `error`
        self.response_id = ""

    def feed(self, event: dict[str, Any]) -> bool:
        """Note one event; True when it ends the response."""
        kind = event.get("type")
        if kind == "response.output_item.done":
            item = event.get("item")
            if isinstance(item, dict):
                self.items.append(item)
            return False
        if kind == "response.created":
            self._note_id(event.get("response"))
            return False
        if kind in TERMINAL:
            resp = event.get("response")
            self.final = resp if isinstance(resp, dict) else {}
            self._note_id(resp)
            if kind == "response.failed":
                err = self.final.get("error")
                self.error = err if isinstance(err, dict) else {"message": "the response failed"}
            return True
        if kind == "error":
            err = event.get("error")
            self.error = err if isinstance(err, dict) else {k: v for k, v in event.items() if k != "type"}
            return True
        return False

    def _note_id(self, resp: object) -> None:
        if isinstance(resp, dict) and isinstance(resp.get("id"), str):
            self.response_id = resp["id"]

    @property
    def output(self) -> list[dict[str, Any]]:
        """The items the response added, as a later request's input would repeat them."""
        out = (self.final or {}).get("output")
        return out if isinstance(out, list) and out else self.items

    def response(self) -> dict[str, Any]:
        """The whole Response object, its output filled in from the item events when the end left it empty."""
        final = dict(self.final or {})
        final["output"] = self.output
        return final


def error_text(error: dict[str, Any]) -> str:
    msg = error.get("message")
    return msg if isinstance(msg, str) and msg else "the upstream reported an error"


async def read_whole(resp: aiohttp.ClientResponse, first: bytes) -> ResponseAssembler:
    """Read a Responses SSE stream to its end. Raises UpstreamMalformed for a stream that is not one."""
    framer, asm = SSEFramer(), ResponseAssembler()

    def take(blocks: list[bytes]) -> bool:
        for block in blocks:
            data = block_data(block)
            if not data or data == b"[DONE]":
                continue
            try:
                event = json.loads(data)
            except ValueError as e:
                raise UpstreamMalformed(f"a stream event is not JSON: {e}") from None
            if isinstance(event, dict) and asm.feed(event):
                return True
        return False

    if take(framer.feed(first)):
        return asm
    async for chunk in resp.content.iter_any():
        if take(framer.feed(chunk)):
            return asm
    if take(framer.flush()):
        return asm
    raise UpstreamMalformed("the stream ended before the response was complete")
