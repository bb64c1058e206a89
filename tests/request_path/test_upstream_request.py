"""UpstreamRequest builds the headers aiohttp's ClientRequest builds (with the session's
`skip_auto_headers=("User-Agent",)`), only with fewer copies: checked against aiohttp itself."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict
from yarl import URL

from proxy_engine.request_path.upstream_request import UpstreamRequest

CASES: list[Any] = [
    CIMultiDict([("Content-Type", "application/json"), ("X-Stainless-Lang", "js"), ("x-api-key", "k")]),
    CIMultiDict(
        [
            ("Accept", "text/event-stream"),
            ("User-Agent", "claude-cli/2"),
            ("anthropic-beta", "a"),
            ("Anthropic-Beta", "b"),
        ]
    ),
    CIMultiDict([("host", "upstream.example"), ("Content-Type", "application/json")]),  # a caller's own Host
    {"Content-Type": "application/json", "Authorization": "Bearer k"},
    CIMultiDict(),
    None,
]


@pytest.mark.parametrize("headers", CASES)
@pytest.mark.parametrize("body", [b'{"model":"m"}', None])
def test_the_headers_sent_are_aiohttps_own(headers: Any, body: bytes | None) -> None:
    async def build(cls: type[aiohttp.ClientRequest], skip: tuple[str, ...] | None) -> list[tuple[str, str]]:
        url = URL("http://127.0.0.1:9/v1/messages")
        req = cls("POST", url, headers=headers, data=body, skip_auto_headers=skip, loop=asyncio.get_running_loop())
        return list(req.headers.items())

    async def both() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        return await build(aiohttp.ClientRequest, ("User-Agent",)), await build(UpstreamRequest, None)

    reference, ours = asyncio.run(both())
    assert ours == reference
    assert not any(k.lower() == "user-agent" and v.startswith("Python/") for k, v in ours)


def test_a_per_call_skip_list_still_skips_user_agent_too() -> None:
    async def build() -> list[str]:
        req = UpstreamRequest("POST", URL("http://127.0.0.1:9/x"), headers=CIMultiDict(), data=b"{}",
                              skip_auto_headers=("Accept-Encoding",), loop=asyncio.get_running_loop())  # fmt: skip
        return [k.lower() for k in req.headers]

    sent = asyncio.run(build())
    assert "user-agent" not in sent and "accept-encoding" not in sent and "accept" in sent
