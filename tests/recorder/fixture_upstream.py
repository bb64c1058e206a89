"""Re-running an exported fixture: an upstream that answers with the captured replies, and the engine config.

`FixtureUpstream` is a real aiohttp server on 127.0.0.1. Each call it receives gets the next
captured upstream exchange's reply (status, content type, body bytes, SSE framing as captured);
it keeps what it received, so a test can compare it with the captured upstream request.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any

from aiohttp import web

FIXTURE_KEY = "fixture-upstream-key-0f1e2d"
_OPENAI_KINDS = ("openai", "openai_compatible", "azure_openai")


@dataclass
class Received:
    path: str
    json: Any


class FixtureUpstream:
    def __init__(self, fixture: dict[str, Any]) -> None:
        self.exchanges = list(fixture["upstream_exchanges"])
        self.received: list[Received] = []
        self.port = 0
        self._runner: web.AppRunner | None = None
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._answer)
        self.app = app

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        self.received.append(Received(request.path, json.loads(raw) if raw else None))
        if not self.exchanges:
            return web.json_response({"error": {"message": "the fixture has no more replies"}}, status=500)
        reply = self.exchanges.pop(0)["response"]
        ctype = next((v for k, v in reply["headers"].items() if k.lower() == "content-type"), "application/json")
        resp = web.StreamResponse(status=reply["status"], headers={"Content-Type": ctype})
        await resp.prepare(request)
        await resp.write(reply["body"].encode())
        await resp.write_eof()
        return resp

    async def start(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def fixture_config(fixture: dict[str, Any], upstream: FixtureUpstream, port: int) -> str:
    """An engine config whose one provider is the fixture upstream, of the captured kind and name."""
    route = fixture["route"]
    kind, name = route["provider_kind"], route["provider"]
    base = upstream.base_url + ("/v1" if kind in _OPENAI_KINDS else "")
    lines = [f"port: {port}", "providers:", f'  {name}: {{kind: {kind}, base_url: "{base}", api_key: env:FIX_KEY}}']
    requested = route["model_requested"]
    if "/" not in requested:
        lines += ["models:", f"  {json.dumps(requested)}: [{json.dumps(name + '/' + route['model'])}]"]
    return "\n".join(lines) + "\n"


def client_call(fixture: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, str], bytes]:
    """(path, query, headers, body) of the captured client request, without what was redacted."""
    req = fixture["client_request"]
    drop = {"host", "content-length", "connection", "accept-encoding"}
    headers = {k: v for k, v in req["headers"].items() if v != "[redacted]" and k.lower() not in drop}
    query = {k: v for k, v in req["query"].items() if v != "[redacted]"}
    body = req["body"]
    return req["path"], query, headers, (json.dumps(body) if not isinstance(body, str) else body).encode()
