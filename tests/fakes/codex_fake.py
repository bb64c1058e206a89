"""FakeCodex: the ChatGPT backend Codex CLI talks to with a ChatGPT login (`/backend-api/codex`).

It speaks the Responses API like FakeOpenAI, with the backend's own refusals: a request must
stream (`stream: false` is a 400) and must not ask to be stored (`store: true` is a 400), and it
needs the login's `chatgpt-account-id`. It serves `POST responses`, `POST responses/compact` and
the WebSocket mode on `GET responses`. base_url is "http://127.0.0.1:PORT/backend-api/codex".
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .base import InvalidRequest
from .openai_fake import FakeOpenAI
from .openai_socket import serve_responses_socket
from .openai_validate import validate_compact, validate_responses

PREFIX = "/backend-api/codex"


def validate_backend(body: dict[str, Any]) -> None:
    """What the backend refuses on top of the Responses API's own rules."""
    validate_responses(body)
    if body.get("stream") is not True:
        raise InvalidRequest("Stream must be set to true", "stream")
    if body.get("store") is not False:
        raise InvalidRequest("Store must be set to false", "store")


class FakeCodex(FakeOpenAI):
    default_key = "codex-access-token"
    account_id = "acct-fake-1"

    @property
    def base_url(self) -> str:
        return self.origin + PREFIX

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post(PREFIX + "/responses", self._backend_responses)
        router.add_get(PREFIX + "/responses", self._backend_socket)
        router.add_post(PREFIX + "/responses/compact", self._backend_compact)

    def _account(self, request: web.Request) -> web.Response | None:
        if request.headers.get("chatgpt-account-id") != self.account_id:
            return self.error_response(403, "missing or unknown chatgpt-account-id")
        return None

    async def _backend_responses(self, request: web.Request) -> web.StreamResponse:
        refused = self._account(request)
        if refused is not None:
            return refused
        got = await self._prelude(request, validate_backend)
        if isinstance(got, web.StreamResponse):
            return got
        return await self._responses_for(request, *got)

    async def _backend_socket(self, request: web.Request) -> web.StreamResponse:
        return await serve_responses_socket(
            self, request, self._auth(request)[1] or self._account(request), validate_backend
        )

    async def _backend_compact(self, request: web.Request) -> web.StreamResponse:
        refused = self._account(request)
        if refused is not None:
            return refused
        got = await self._prelude(request, validate_compact)
        if isinstance(got, web.StreamResponse):
            return got
        return await self._compact_for(request, *got)
