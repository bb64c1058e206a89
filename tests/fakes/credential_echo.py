"""An upstream that leaks: every answer is an error that quotes the credential it received.

It speaks each dialect's error shape (picked from the path) and puts the key in the message, in a
nested field and in reply headers, the way careless or hostile upstreams do. A test points the
engine at it and then looks for the key everywhere the engine writes.
"""

from __future__ import annotations

import itertools
from typing import Any

from aiohttp import web

from .base import RECORD_KEY, FakeProvider, RecordedRequest

ECHO_STATUSES = (400, 401, 403, 429, 500, 503)


class CredentialEcho(FakeProvider):
    """Answers every request with an error quoting its `Authorization`, `x-api-key` or `x-goog-api-key`."""

    def __init__(self) -> None:
        super().__init__()
        self._statuses = itertools.cycle(ECHO_STATUSES)
        self.status: int | None = None  # fixed status; None cycles through ECHO_STATUSES

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_route("*", "/{tail:.*}", self._echo)

    def error_response(
        self, status: int, message: str, err_type: str | None = None, headers: dict[str, str] | None = None
    ) -> web.Response:
        return web.json_response({"error": {"message": message}}, status=status, headers=headers)

    async def _echo(self, request: web.Request) -> web.Response:
        rec: RecordedRequest = request[RECORD_KEY]
        key = _presented(rec.headers)
        status = self.status or next(self._statuses)
        headers = {"x-request-id": key, "openai-organization": key, "anthropic-echo": key, "Retry-After": "0"}
        return web.json_response(_payload(rec.path, status, key), status=status, headers=headers)


def _presented(headers: dict[str, str]) -> str:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:]
    return headers.get("x-api-key") or headers.get("x-goog-api-key") or auth or "(none)"


def _payload(path: str, status: int, key: str) -> dict[str, Any]:
    nested = {"request": {"headers": {"authorization": f"Bearer {key}", "x-api-key": key}}, "raw": key}
    if "/messages" in path:
        message = f"invalid x-api-key {key}; Authorization: Bearer {key}"
        return {"type": "error", "error": {"type": "invalid_request_error", "details": nested, "message": message}}
    if ":" in path.rsplit("/", 1)[-1]:  # models/{model}:{method}
        message = f"API key not valid. key={key}"
        err = {"code": status, "status": "INVALID_ARGUMENT", "details": [{"metadata": nested}], "message": message}
        return {"error": err}
    message = f"Incorrect API key provided: {key}. You can find your API key at ..."
    err = {"message": message, "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}
    return {"error": {**err, "echo": nested}}
