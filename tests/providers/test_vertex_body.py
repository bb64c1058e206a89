"""Vertex AI publisher models: URLs and Claude bodies, checked against a fake serving both publishers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from proxy_engine.providers.vertex_body import (
    VERTEX_ANTHROPIC_VERSION,
    anthropic_body_for_vertex,
    anthropic_count_body_for_vertex,
    vertex_base,
    vertex_url,
)
from proxy_engine.translate import Translator
from tests.fakes.base import parse_sse
from tests.fakes.script import ToolCall
from tests.fakes.vertex_fake import FakeVertex
from tests.translate.kit import client_body, collect

CLAUDE = "claude-sonnet-4-5@20250929"
GEMINI = "gemini-2.5-flash"
ROOT = "https://us-east5-aiplatform.googleapis.com/v1/projects/p1/locations/us-east5/publishers"


@pytest.mark.parametrize(
    ("args", "url"),
    [
        ((GEMINI, "google", False, None), f"{ROOT}/google/models/{GEMINI}:generateContent"),
        ((GEMINI, "google", True, None), f"{ROOT}/google/models/{GEMINI}:streamGenerateContent?alt=sse"),
        ((GEMINI, "google", False, "countTokens"), f"{ROOT}/google/models/{GEMINI}:countTokens"),
        ((CLAUDE, "anthropic", False, None), f"{ROOT}/anthropic/models/{CLAUDE}:rawPredict"),
        ((CLAUDE, "anthropic", True, None), f"{ROOT}/anthropic/models/{CLAUDE}:streamRawPredict"),
        ((CLAUDE, "anthropic", False, "count_tokens"), f"{ROOT}/anthropic/models/count-tokens:rawPredict"),
    ],
)
def test_vertex_urls(args: tuple, url: str) -> None:
    assert vertex_url(vertex_base("us-east5"), "p1", "us-east5", *args) == url
    assert vertex_url(vertex_base("us-east5") + "/v1/", "p1", "us-east5", *args) == url


def test_the_global_location_has_its_own_host() -> None:
    assert vertex_base("global") == "https://aiplatform.googleapis.com"
    assert vertex_url(vertex_base("global"), "p", "global", GEMINI).startswith(
        "https://aiplatform.googleapis.com/v1/projects/p/locations/global/"
    )


def test_claude_bodies_move_the_model_to_the_url() -> None:
    body = {"model": CLAUDE, "max_tokens": 10, "messages": []}
    out = anthropic_body_for_vertex(body)
    assert out == {"max_tokens": 10, "messages": [], "anthropic_version": VERTEX_ANTHROPIC_VERSION}
    assert body["model"] == CLAUDE  # the caller's body is left alone
    assert anthropic_count_body_for_vertex({"messages": []}, CLAUDE)["model"] == CLAUDE


@pytest.fixture
async def fake() -> AsyncIterator[FakeVertex]:
    async with FakeVertex(project="p1", location="us-east5") as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def bearer(fake: FakeVertex) -> dict[str, str]:
    return {"Authorization": f"Bearer {fake.api_key}"}


async def post(http: aiohttp.ClientSession, url: str, body: dict, headers: dict) -> tuple[int, bytes]:
    async with http.post(url, json=body, headers=headers) as resp:
        return resp.status, await resp.read()


def url_for(fake: FakeVertex, model: str, publisher: str, stream: bool = False, action: str | None = None) -> str:
    return vertex_url(fake.base_url, fake.project, fake.location, model, publisher, stream, action)


async def test_claude_on_vertex_streams_to_an_openai_client(fake: FakeVertex, http: aiohttp.ClientSession) -> None:
    fake.script(text="Sunny.", tool_calls=[ToolCall("get_weather", {"city": "Paris"})])
    tr = Translator("openai_chat", "anthropic")
    body = tr.request(client_body("openai_chat", "tools", stream=True), model=CLAUDE, stream=True)
    status, raw = await post(
        http, url_for(fake, CLAUDE, "anthropic", True), anthropic_body_for_vertex(body), bearer(fake)
    )
    assert status == 200, raw
    assert fake.last_request.path.endswith(f"/anthropic/models/{CLAUDE}:streamRawPredict")
    stream = tr.stream("Smart")
    events = [data for _, data in parse_sse(raw) if data.get("type") != "ping"]
    got = collect("openai_chat", b"".join(stream.feed(e) for e in events) + stream.finish())
    assert got.text == "Sunny." and got.calls[0]["name"] == "get_weather" and got.finish == "tool_calls"


async def test_claude_on_vertex_whole_answer_and_token_count(fake: FakeVertex, http: aiohttp.ClientSession) -> None:
    fake.script(text="Hi there", usage={"input_tokens": 21, "output_tokens": 3})
    body = client_body("anthropic", "plain", model=CLAUDE)
    status, raw = await post(http, url_for(fake, CLAUDE, "anthropic"), anthropic_body_for_vertex(body), bearer(fake))
    assert status == 200 and json.loads(raw)["content"][0]["text"] == "Hi there"
    count_body = anthropic_count_body_for_vertex({"messages": body["messages"]}, CLAUDE)
    status, raw = await post(http, url_for(fake, CLAUDE, "anthropic", action="count_tokens"), count_body, bearer(fake))
    assert (status, json.loads(raw)) == (200, {"input_tokens": 21})


async def test_gemini_on_vertex_for_an_anthropic_client(fake: FakeVertex, http: aiohttp.ClientSession) -> None:
    fake.script(text="Hello from Vertex.", chunks=2)
    tr = Translator("anthropic", "gemini")
    body = tr.request(client_body("anthropic", "plain", stream=True), model=GEMINI, stream=True)
    status, raw = await post(http, url_for(fake, GEMINI, "google", True), body, bearer(fake))
    assert status == 200, raw
    stream = tr.stream("Smart")
    got = collect("anthropic", b"".join(stream.feed(d) for _, d in parse_sse(raw)) + stream.finish())
    assert got.text == "Hello from Vertex." and stream.usage["input_tokens"] == 12
    status, raw = await post(
        http, url_for(fake, GEMINI, "google", action="countTokens"), {"contents": body["contents"]}, bearer(fake)
    )
    assert status == 200 and json.loads(raw)["totalTokens"] == 12


CLAUDE_BODY = {
    "anthropic_version": VERTEX_ANTHROPIC_VERSION,
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "hi"}],
}


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "message"),
    [
        ("claude", {**CLAUDE_BODY, "model": CLAUDE}, None, 400, "model: Extra inputs"),
        ("claude", {k: v for k, v in CLAUDE_BODY.items() if k != "anthropic_version"}, None, 400, "anthropic_version"),
        ("claude", {**CLAUDE_BODY, "stream": True}, None, 400, "stream must be False"),
        ("claude", {**CLAUDE_BODY, "max_tokens": 0}, None, 400, "max_tokens"),
        ("claude", CLAUDE_BODY, {"x-goog-api-key": "AIza"}, 401, "OAuth 2 access token"),
        ("other-project", CLAUDE_BODY, None, 403, "aiplatform.endpoints.predict"),
        ("gemini", {"contents": "nope"}, None, 400, "contents"),
    ],
)
async def test_the_fake_rejects_bad_requests(
    fake: FakeVertex,
    http: aiohttp.ClientSession,
    path: str,
    body: dict,
    headers: dict | None,
    status: int,
    message: str,
) -> None:
    if path == "gemini":
        url = url_for(fake, GEMINI, "google")
    else:
        project = "someone-else" if path == "other-project" else fake.project
        url = vertex_url(fake.base_url, project, fake.location, CLAUDE, "anthropic")
    got, raw = await post(http, url, body, headers or bearer(fake))
    assert got == status
    error = json.loads(raw)["error"]
    assert message in error["message"]
