"""Amp through the real engine: its provider routes (official SDKs, fake providers) and the relay of its
own API to a fake Amp upstream (a real aiohttp server on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time
from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest
from aiohttp import web
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from tests.engine_harness import EngineProcess, fakes_config, free_port
from tests.fakes import FakeProvider, FakeServerThread

UPSTREAM_KEY = "amp-upstream-secret-4711"
CLIENT_KEY = "pp-client-key-for-amp"
AMP = """log_level: debug
amp_model_mappings:
  claude-opus-4-6: Smart
  gpt-5: anthropic/claude-haiku-4-5
  gemini-3-pro-preview: gemini/gemini-2.5-flash
amp_upstream_url: "http://127.0.0.1:{port}"
amp_upstream_api_key: env:AMP_UPSTREAM_KEY
"""


class FakeAmpUpstream(FakeProvider):
    """ampcode.com's own API, as far as the relay needs it: JSON, a held-open stream, a redirect, gzip."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.stream_finished = threading.Event()

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_route("*", "/api/user", self._user)
        router.add_get("/api/threads/stream", self._stream)
        router.add_get("/api/gz", self._gz)
        router.add_get("/auth/cli-login", self._login)
        router.add_route("*", "/{tail:.*}", self._other)

    def error_response(self, status, message, err_type=None, headers=None) -> web.Response:
        return web.json_response({"error": message}, status=status, headers=headers)

    async def _user(self, request: web.Request) -> web.Response:
        return web.json_response({"email": "dev@example.com", "method": request.method},
                                 headers={"X-Amp-Trace": "t-1"})  # fmt: skip

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b"data: part-1\n\n")
        released = await asyncio.to_thread(self.release.wait, 5)
        await resp.write(b"data: part-2\n\n" if released else b"data: timed-out\n\n")
        await resp.write_eof()
        self.stream_finished.set()
        return resp

    async def _gz(self, request: web.Request) -> web.Response:
        body = gzip.compress(json.dumps({"zipped": True}).encode())
        return web.Response(body=body, headers={"Content-Type": "application/json", "Content-Encoding": "gzip",
                                                "Set-Cookie": "amp=1", "Access-Control-Allow-Origin": "*"})  # fmt: skip

    async def _login(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("https://ampcode.com/auth/sign-in?from=cli")

    async def _other(self, request: web.Request) -> web.Response:
        return web.json_response({"error": "not found"}, status=404)


@pytest.fixture(scope="module")
def upstream():
    with FakeServerThread(FakeAmpUpstream()) as fake:
        yield fake


@pytest.fixture(scope="module")
def base_config(fakes, upstream):
    return fakes_config(0, *fakes, extra=AMP.format(port=upstream.port))


@pytest.fixture(scope="module")
def eng(base_config):
    port = free_port()
    text = base_config.replace("port: 0\n", f"port: {port}\n", 1)
    env = {"AMP_UPSTREAM_KEY": UPSTREAM_KEY, "AMP_CLIENT_KEY": CLIENT_KEY}
    with EngineProcess(text, port, env=env) as engine:
        engine.base_text = text
        yield engine


@pytest.fixture(autouse=True)
def _fresh(request):
    if "upstream" in request.fixturenames:
        fake = request.getfixturevalue("upstream")
        fake.reset()
        fake.release.clear()
        fake.stream_finished.clear()
    yield


@pytest.fixture
def reconfigure(eng):
    """Swap the engine's config for one test (PUT /v0/config reloads at once); the base config comes back after."""

    def apply(old: str, new: str) -> None:
        assert old in eng.base_text
        r = eng.api("PUT", "/v0/config", content=eng.base_text.replace(old, new))
        assert r.status_code == 200, r.text

    yield apply
    assert eng.api("PUT", "/v0/config", content=eng.base_text).status_code == 200


def _record(eng, model_requested: str) -> dict:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [r for r in eng.records() if r["model_requested"] == model_requested]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no record for {model_requested}")


def _anthropic(eng, key: str = "amp-user-token") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=eng.url + "/api/provider/anthropic", api_key=key, max_retries=0)


def _openai(eng, segment: str = "openai") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{eng.url}/api/provider/{segment}/v1", api_key="amp-user-token", max_retries=0)


def _genai(eng, api_version: str = "v1beta") -> genai.Client:
    opts = types.HttpOptions(base_url=eng.url + "/api/provider/google", api_version=api_version)
    return genai.Client(api_key="amp-user-token", http_options=opts)


# ----- model routes ------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_sdk_mapped_model_is_routed_and_recorded(eng, fakes, stream):
    fa = fakes[1]
    args = dict(model="claude-opus-4-6", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    client = _anthropic(eng)
    if stream:
        with client.messages.stream(**args) as s:
            msg = s.get_final_message()
    else:
        msg = client.messages.create(**args)
    assert msg.content[0].text == "Hello from claude-sonnet-4-6!"
    assert fa.last_request.path == "/v1/messages"
    assert fa.last_request.json["model"] == "claude-sonnet-4-6", "claude-opus-4-6 -> Smart -> anthropic"
    assert fa.last_request.headers["x-api-key"] == "sk-ant-fake", "the provider's key, not Amp's token"
    rec = _record(eng, "claude-opus-4-6")
    assert (rec["dialect_in"], rec["provider"], rec["model"], rec["status"]) == (
        "anthropic", "anthropic", "claude-sonnet-4-6", 200)  # fmt: skip
    assert rec["stream"] is stream


@pytest.mark.parametrize("stream", [False, True])
def test_openai_sdk_mapping_crosses_dialects_and_keeps_amps_model_name(eng, fakes, stream):
    fo, fa = fakes[0], fakes[1]
    client = _openai(eng)
    msgs = [{"role": "user", "content": "hi"}]
    if stream:
        chunks = list(client.chat.completions.create(model="gpt-5", messages=msgs, stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        models = {c.model for c in chunks}
    else:
        r = client.chat.completions.create(model="gpt-5", messages=msgs)
        text, models = r.choices[0].message.content, {r.model}
    assert text == "Hello from claude-haiku-4-5!"
    assert models == {"claude-haiku-4-5"}, "the reply names the model that answered (the `model` rule)"
    assert fa.last_request.json["model"] == "claude-haiku-4-5" and not fo.requests
    rec = _record(eng, "gpt-5")  # the record keeps the name Amp sent
    assert (rec["dialect_in"], rec["dialect_out"], rec["provider"]) == ("openai_chat", "anthropic", "anthropic")


def test_unmapped_model_routes_like_v1(eng, fakes):
    fo = fakes[0]
    fo.script(text="responses via amp")
    final = _openai(eng).responses.create(model="gpt-4o", input="hi")
    assert final.output_text == "responses via amp"
    assert fo.last_request.path == "/v1/responses" and fo.last_request.json["model"] == "gpt-4o"
    r = httpx.post(eng.url + "/api/provider/openai/chat/completions",  # Amp's form without /v1
                   json={"model": "Rush", "messages": [{"role": "user", "content": "x"}]})  # fmt: skip
    assert r.status_code == 200 and fo.last_request.json["model"] == "gpt-4o-mini"


@pytest.mark.parametrize("api_version", ["v1beta", "v1"])
@pytest.mark.parametrize("stream", [False, True])
def test_google_genai_mapped_model(eng, fakes, api_version, stream):
    fg = fakes[2]
    fg.script(text="gemini via amp", chunks=3)
    client = _genai(eng, api_version)
    if stream:
        stream_it = client.models.generate_content_stream(model="gemini-3-pro-preview", contents="hi")
        text = "".join(c.text or "" for c in stream_it)
    else:
        text = client.models.generate_content(model="gemini-3-pro-preview", contents="hi").text
    assert text == "gemini via amp"
    method = "streamGenerateContent" if stream else "generateContent"
    assert fg.last_request.path.endswith(f"/models/gemini-2.5-flash:{method}")
    assert fg.last_request.headers["x-goog-api-key"] == "AIza-fake-gemini"
    rec = _record(eng, "gemini-3-pro-preview")
    assert (rec["provider"], rec["model"]) == ("gemini", "gemini-2.5-flash")


def test_vertex_style_gemini_path(eng, fakes):
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    path = "/api/provider/google/v1beta1/publishers/google/models/gemini-3-pro-preview:generateContent"
    r = httpx.post(eng.url + path, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["candidates"][0]["content"]["parts"][0]["text"] == "Hello from gemini-2.5-flash!"
    assert fakes[2].last_request.path.endswith("/models/gemini-2.5-flash:generateContent")


def test_model_lists_name_amps_models_in_each_shape(eng):
    ids = [m.id for m in _anthropic(eng).models.list()]
    assert "claude-opus-4-6" in ids and "Smart" in ids
    ids = [m.id for m in _openai(eng).models.list()]
    assert "gpt-5" in ids and "Rush" in ids
    r = httpx.get(eng.url + "/api/provider/google/v1beta/models")
    assert "models/gemini-3-pro-preview" in [m["name"] for m in r.json()["models"]]


def test_unknown_model_is_404_in_the_callers_dialect(eng, fakes):
    with pytest.raises(anthropic.NotFoundError) as a:
        _anthropic(eng).messages.create(model="no-such-amp-model", max_tokens=8,
                                        messages=[{"role": "user", "content": "x"}])  # fmt: skip
    assert a.value.body["error"]["type"] == "not_found_error" and "no-such-amp-model" in a.value.message
    with pytest.raises(openai.NotFoundError) as o:
        _openai(eng).chat.completions.create(model="no-such-amp-model", messages=[{"role": "user", "content": "x"}])
    assert "no-such-amp-model" in o.value.message
    gclient = _genai(eng)  # held: a collected Client closes its HTTP client
    with pytest.raises(genai_errors.ClientError) as g:
        gclient.models.generate_content(model="no-such-amp-model", contents="x")
    assert g.value.code == 404 and g.value.status == "NOT_FOUND"
    assert not any(f.requests for f in fakes)


def test_openai_mode_ignores_mappings_and_lets_the_route_decide(eng, fakes, reconfigure):
    fo, fa, fg = fakes
    reconfigure("amp_model_mappings:", "amp_routing_mode: openai\namp_model_mappings:")
    msg = _anthropic(eng).messages.create(model="claude-opus-4-6", max_tokens=8,
                                          messages=[{"role": "user", "content": "x"}])  # fmt: skip
    assert fa.last_request.json["model"] == "claude-opus-4-6", "sent as is, the mapping is ignored"
    assert msg.content[0].text == "Hello from claude-opus-4-6!"
    _openai(eng).chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "x"}])
    assert fo.last_request.json["model"] == "gpt-5" and fo.last_request.path == "/v1/chat/completions"
    _openai(eng).chat.completions.create(model="house-model", messages=[{"role": "user", "content": "x"}])
    assert fo.last_request.json["model"] == "house-model", "the route decides, even for a name no provider lists"
    gclient = _genai(eng)
    gclient.models.generate_content(model="gemini-3-pro-preview", contents="x")
    assert fg.last_request.path.endswith("/models/gemini-3-pro-preview:generateContent")
    assert _record(eng, "house-model")["provider"] == "openai"


def test_openai_mode_falls_back_to_the_router_without_a_provider_of_that_kind(eng, fakes, reconfigure):
    reconfigure("amp_model_mappings:", "amp_routing_mode: openai\namp_model_mappings:")
    r = _openai(eng, segment="xai").chat.completions.create(model="Rush", messages=[{"role": "user", "content": "x"}])
    assert r.choices[0].message.content == "Hello from gpt-4o-mini!"
    assert fakes[0].last_request.json["model"] == "gpt-4o-mini"
    with pytest.raises(openai.NotFoundError):
        _openai(eng, segment="xai").chat.completions.create(model="grok-9", messages=[{"role": "user", "content": "x"}])


# ----- relay of Amp's own API --------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "DELETE"])
def test_relay_forwards_method_path_query_body_and_injects_the_key(eng, upstream, method):
    before = len(eng.records(limit=500))
    body = b'{"settings": {"theme": "dark"}}' if method in ("POST", "PATCH") else b""
    r = httpx.request(method, eng.url + "/api/user?fields=email&x=a%20b", content=body,
                      headers={"X-Amp-Client": "cli/1.0", "Cookie": "localapp=secret",
                               "X-Forwarded-For": "10.9.9.9", "Content-Type": "application/json"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json() == {"email": "dev@example.com", "method": method}
    assert r.headers["x-amp-trace"] == "t-1"
    seen = upstream.last_request
    assert (seen.method, seen.path, seen.query) == (method, "/api/user", {"fields": "email", "x": "a b"})
    assert seen.body == body
    assert seen.headers["authorization"] == "Bearer " + UPSTREAM_KEY
    assert seen.headers["x-amp-client"] == "cli/1.0"
    assert "cookie" not in seen.headers and "x-forwarded-for" not in seen.headers
    assert len(eng.records(limit=500)) == before, "Amp's own calls are not model requests"
    logs = "".join(p.read_text(errors="replace") for p in eng.home.rglob("*.log*") if p.is_file())
    assert "/api/user" in logs, "the relay logs its calls (debug)"
    assert UPSTREAM_KEY not in logs


def test_relay_keeps_the_clients_own_amp_login(eng, upstream):
    r = httpx.get(eng.url + "/api/internal?getUserInfo", headers={"Authorization": "Bearer amp-own-login"})
    assert r.status_code == 404, "the fake's catch-all answered: the call reached the upstream"
    assert upstream.last_request.path == "/api/internal"
    assert upstream.last_request.headers["authorization"] == "Bearer amp-own-login"


def test_relay_streams_the_reply_as_it_comes(eng, upstream):
    with httpx.stream("GET", eng.url + "/api/threads/stream", timeout=10) as r:
        assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream"
        chunks: Iterator[bytes] = r.iter_raw()
        first = next(chunks)
        assert first == b"data: part-1\n\n"
        assert not upstream.stream_finished.is_set(), "the first event arrived while the upstream was still open"
        upstream.release.set()
        rest = b"".join(chunks)
    assert rest == b"data: part-2\n\n"


def test_relay_streams_a_chunked_request_body(eng, upstream):
    parts = [b'{"items": [', b'"a",', b'"b"', b"]}"]
    r = httpx.post(eng.url + "/api/user", content=iter(parts))
    assert r.status_code == 200
    assert upstream.last_request.body == b"".join(parts)


def test_relay_passes_redirects_and_encoded_bodies_untouched(eng, upstream):
    r = httpx.get(eng.url + "/auth/cli-login?authToken=abc", follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "https://ampcode.com/auth/sign-in?from=cli"
    assert upstream.last_request.query == {"authToken": "abc"}
    r = httpx.get(eng.url + "/api/gz", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip" and r.json() == {"zipped": True}
    assert "set-cookie" not in r.headers and "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize(
    ("method", "headers"),
    [("POST", {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}),
     ("GET", {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors"}),
     ("POST", {"Origin": "http://evil.example"}),
     ("GET", {"Host": "rebound.example.com"}),
     ("OPTIONS", {})],
)  # fmt: skip
def test_relay_refuses_what_a_web_page_could_send(eng, upstream, method, headers):
    r = httpx.request(method, eng.url + "/api/user", headers=headers, content=b"{}")
    assert r.status_code == 403 and r.json()["error"]["code"] == "amp_request_refused"
    assert not upstream.requests, "nothing reached the Amp upstream"


def test_relay_lets_a_browser_open_the_login_page(eng, upstream):
    r = httpx.get(eng.url + "/auth/cli-login", follow_redirects=False,
                  headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"})  # fmt: skip
    assert r.status_code == 302


def test_without_amp_upstream_url_amps_api_is_a_clear_error(eng, upstream, fakes, reconfigure):
    reconfigure(f'amp_upstream_url: "http://127.0.0.1:{upstream.port}"\n', "")
    r = httpx.get(eng.url + "/api/user")
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "amp_upstream_not_configured"
    assert "amp_upstream_url" in r.json()["error"]["message"]
    assert not upstream.requests
    msg = _anthropic(eng).messages.create(model="claude-opus-4-6", max_tokens=8,
                                          messages=[{"role": "user", "content": "x"}])  # fmt: skip
    assert msg.content, "model routes do not need the Amp upstream"


def test_unreachable_amp_upstream_is_502(eng, upstream, reconfigure):
    reconfigure(f"127.0.0.1:{upstream.port}", f"127.0.0.1:{free_port()}")
    r = httpx.get(eng.url + "/api/user")
    assert r.status_code == 502
    assert "amp_upstream_url" in r.json()["error"]["message"]


def test_client_keys_guard_the_relay_and_never_reach_amp(eng, upstream, fakes, reconfigure):
    reconfigure("amp_model_mappings:", "clients:\n  - {name: amp, key: env:AMP_CLIENT_KEY}\namp_model_mappings:")
    assert httpx.get(eng.url + "/api/user").status_code == 401
    assert httpx.get(eng.url + "/api/user", headers={"Authorization": "Bearer amp-own-login"}).status_code == 401
    assert not upstream.requests
    r = httpx.get(eng.url + "/api/user", headers={"Authorization": "Bearer " + CLIENT_KEY})
    assert r.status_code == 200
    assert upstream.last_request.headers["authorization"] == "Bearer " + UPSTREAM_KEY
    r = httpx.get(eng.url + f"/api/user?key={CLIENT_KEY}&page=2", headers={"x-api-key": CLIENT_KEY})
    assert r.status_code == 200
    seen = upstream.last_request
    assert seen.query == {"page": "2"} and "x-api-key" not in seen.headers, "this proxy's key stays here"
    assert seen.headers["authorization"] == "Bearer " + UPSTREAM_KEY
    with pytest.raises(anthropic.AuthenticationError):
        _anthropic(eng).messages.create(model="claude-opus-4-6", max_tokens=8,
                                        messages=[{"role": "user", "content": "x"}])  # fmt: skip
    msg = _anthropic(eng, key=CLIENT_KEY).messages.create(model="claude-opus-4-6", max_tokens=8,
                                                          messages=[{"role": "user", "content": "x"}])  # fmt: skip
    assert msg.content[0].text == "Hello from claude-sonnet-4-6!"


@pytest.mark.parametrize("stream", [False, True])
def test_mapped_pass_through_reply_names_the_model_that_answered(eng, stream):
    """Same-dialect replies stay byte for byte what the upstream sent (see docs/DESIGN.md, Amp)."""
    args = dict(model="claude-opus-4-6", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    client = _anthropic(eng)
    if stream:
        with client.messages.stream(**args) as s:
            msg = s.get_final_message()
    else:
        msg = client.messages.create(**args)
    assert msg.content[0].text == "Hello from claude-sonnet-4-6!"
    assert msg.model == "claude-sonnet-4-6"
