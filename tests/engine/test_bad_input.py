"""Hostile and malformed requests on the request path get a 400 (or the right 4xx) in the caller's
dialect, never a traceback; what is forwarded is an allow-list; the Amp relay never climbs its path.

Issue #17 items 7, 8, 9, 10 and 14, each as the request that used to break.
"""

from __future__ import annotations

import gzip
import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from proxy_engine.request_path.safety_net import safety_net
from tests.dialect_errors import dialect_error
from tests.engine_harness import EngineProcess, fakes_config, free_port
from tests.fakes import FakeServerThread
from tests.fakes.credential_echo import CredentialEcho

CLIENT_KEY = "bad-input-client-key-1234"
AUTH = {"Authorization": f"Bearer {CLIENT_KEY}"}
_MSG = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def amp_upstream() -> Iterator[CredentialEcho]:
    with FakeServerThread(CredentialEcho()) as echo:
        yield echo


@pytest.fixture(scope="module")
def engine(fakes: tuple[Any, Any, Any], amp_upstream: CredentialEcho) -> Iterator[EngineProcess]:
    """Client keys on (so the key header is read), a small body limit, and an Amp upstream."""
    port = free_port()
    extra = f"""max_body_mb: 0.25
clients:
  - {{name: tester, key: env:BAD_INPUT_CK}}
amp_upstream_url: "{amp_upstream.base_url}/amp-prefix"
amp_upstream_api_key: env:BAD_INPUT_AMP
"""
    env = {"BAD_INPUT_CK": CLIENT_KEY, "BAD_INPUT_AMP": "amp-upstream-key-5678"}
    with EngineProcess(fakes_config(port, *fakes, extra=extra), port, env=env) as eng:
        yield eng


def _raw(eng: EngineProcess, head: bytes, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request with exactly these bytes (headers httpx would refuse to send)."""
    with socket.create_connection(("127.0.0.1", eng.port), timeout=10) as s:
        s.sendall(head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head_part, _, payload = data.partition(b"\r\n\r\n")
    lines = head_part.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, payload


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


# (dialect, path, body with the model) for each kind of model call
CALLS = [
    ("openai_chat", "/v1/chat/completions", {"model": "Rush", "messages": _MSG}),
    ("openai_responses", "/v1/responses", {"model": "Rush", "input": "hi"}),
    ("anthropic", "/v1/messages", {"model": "Smart", "max_tokens": 8, "messages": _MSG}),
    ("anthropic", "/v1/messages/count_tokens", {"model": "Smart", "messages": _MSG}),
    ("gemini", "/v1beta/models/Rush:generateContent", {"contents": [{"parts": [{"text": "hi"}]}]}),
    ("gemini", "/v1/models/Rush:countTokens", {"contents": [{"parts": [{"text": "hi"}]}]}),
]


@pytest.mark.parametrize(("dialect", "path", "body"), CALLS, ids=[f"{d}:{p}" for d, p, _ in CALLS])
def test_json_nested_past_the_parsers_limit_is_400(engine: EngineProcess, dialect: str, path: str, body: dict) -> None:
    text = json.dumps(body)[:-1] + ', "extra": ' + _deep(5000) + "}"
    r = httpx.post(engine.url + path, content=text, headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert dialect_error(dialect, 400, r.content) is None
    assert "Traceback" not in r.text


@pytest.mark.parametrize("upstream", ["gemini/gemini-2.5-pro", "openai/gpt-4o"])
def test_a_tool_schema_nested_near_the_limit_is_served_or_400(engine: EngineProcess, upstream: str) -> None:
    """Near ~990 levels the body still parses but translating the schema may run out of stack:
    either way the answer is a translation or a 400 in the caller's dialect, never a 500."""
    statuses = []
    for levels in (440, 470, 485, 495):  # 880 to 990 levels of JSON
        schema = '{"type": "object", "properties": {"a": ' * levels + '{"type": "string"}' + "}}" * levels
        body = (f'{{"model": "{upstream}", "max_tokens": 8, "messages": [{{"role": "user", "content": "hi"}}], '
                '"tools": [{"name": "t", "description": "d", "input_schema": ' + schema + "}]}")  # fmt: skip
        r = httpx.post(engine.url + "/v1/messages", content=body, headers={**AUTH, "Content-Type": "application/json"})
        assert r.status_code in (200, 400), r.text[:300]
        if r.status_code == 400:
            assert dialect_error("anthropic", 400, r.content) is None
        statuses.append(r.status_code)
    assert statuses[-1] == 400, "990 levels is too deep to serve"


def test_a_key_header_that_is_not_utf8_is_401_in_dialect(engine: EngineProcess) -> None:
    body = json.dumps({"model": "Smart", "max_tokens": 8, "messages": _MSG}).encode()
    status, _, payload = _raw(engine, b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: caf\xe9\r\n"
                              b"Content-Type: application/json\r\n", body)  # fmt: skip
    assert status == 401, payload
    assert dialect_error("anthropic", 401, payload) is None


def test_a_user_agent_that_is_not_utf8_is_served_and_recorded(engine: EngineProcess) -> None:
    body = json.dumps({"model": "Rush", "messages": _MSG}).encode()
    status, _, payload = _raw(engine, b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              b"Authorization: Bearer " + CLIENT_KEY.encode() + b"\r\nUser-Agent: caf\xe9/1\r\n"
                              b"Content-Type: application/json\r\n", body)  # fmt: skip
    assert status == 200, payload
    assert engine.records(1)[0]["status"] == 200


def test_gemini_count_with_malformed_function_declarations_is_400(engine: EngineProcess) -> None:
    body = {"contents": [{"parts": [{"text": "hi"}]}], "tools": [{"functionDeclarations": [[1]]}]}
    r = httpx.post(engine.url + "/v1beta/models/openai/gpt-4o:countTokens", json=body, headers=AUTH)
    assert r.status_code == 400, r.text
    assert dialect_error("gemini", 400, r.content) is None


def test_a_lone_surrogate_in_the_model_is_answered_and_recorded(engine: EngineProcess) -> None:
    text = '{"model": "nope-\\ud800", "messages": [{"role": "user", "content": "hi"}]}'
    r = httpx.post(engine.url + "/v1/chat/completions", content=text, headers=AUTH)
    assert r.status_code == 404, r.text
    assert dialect_error("openai_chat", 404, r.content) is None
    assert engine.records(1)[0]["model_requested"].startswith("nope-")


# ----- item 10: bounded strings ---------------------------------------------------------------------


def test_a_long_model_name_is_400_and_not_echoed_or_stored(engine: EngineProcess) -> None:
    name = "m" * 100_000
    r = httpx.post(engine.url + "/v1/chat/completions", json={"model": name, "messages": _MSG}, headers=AUTH)
    assert r.status_code == 400, r.text[:300]
    assert dialect_error("openai_chat", 400, r.content) is None
    assert len(r.content) < 1000
    row = engine.records(1)[0]
    assert row["status"] == 400 and len(json.dumps(row)) < 2000


def test_a_long_gemini_model_in_the_path_is_400(engine: EngineProcess) -> None:
    r = httpx.post(engine.url + f"/v1beta/models/{'g' * 300}:generateContent", headers=AUTH,
                   json={"contents": [{"parts": [{"text": "hi"}]}]})  # fmt: skip
    assert r.status_code == 400, r.text[:300]
    assert dialect_error("gemini", 400, r.content) is None


# ----- item 9: what a same-dialect call forwards -----------------------------------------------------


def test_only_allowed_headers_and_query_reach_an_openai_upstream(
    engine: EngineProcess, fakes: tuple[Any, Any, Any]
) -> None:
    fo = fakes[0]
    body = gzip.compress(json.dumps({"model": "Rush", "messages": _MSG}).encode())
    sent = {
        **AUTH, "Content-Type": "application/json", "Content-Encoding": "gzip", "Forwarded": "for=10.0.0.1",
        "X-Real-IP": "10.0.0.1", "Proxy-Connection": "keep-alive", "OpenAI-Organization": "org-other",
        "OpenAI-Project": "proj-other", "OpenAI-Beta": "assistants=v2", "X-Stainless-Lang": "python",
        "X-Stainless-Arch": "named-in-connection", "Connection": "keep-alive, X-Stainless-Arch", "session_id": "s1",
    }  # fmt: skip
    r = httpx.post(engine.url + "/v1/chat/completions?fields=x&foo=bar", content=body, headers=sent)
    assert r.status_code == 200, r.text
    got = fo.last_request
    assert got.json["model"] == "gpt-4o-mini", "the decompressed body was sent, and parsed"
    for name in ("content-encoding", "forwarded", "x-real-ip", "proxy-connection", "openai-organization",
                 "openai-project", "x-stainless-arch"):  # fmt: skip
        assert name not in got.headers, name
    assert got.headers.get("openai-beta") == "assistants=v2"
    assert got.headers.get("x-stainless-lang") == "python"
    assert got.headers.get("session_id") == "s1"
    assert got.query == {}


def test_a_call_without_user_agent_goes_upstream_without_one(
    engine: EngineProcess, fakes: tuple[Any, Any, Any]
) -> None:
    """aiohttp would name itself (`Python/3.x aiohttp/3.x`); the proxy adds no User-Agent of its own, but
    aiohttp's Accept and Accept-Encoding defaults still go where the client sent none."""
    fo = fakes[0]
    body = json.dumps({"model": "Rush", "messages": _MSG}).encode()
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
            + CLIENT_KEY.encode() + b"\r\nContent-Type: application/json\r\n")  # fmt: skip
    status, _, payload = _raw(engine, head, body)
    assert status == 200, payload[:300]
    got = fo.last_request
    assert "user-agent" not in got.headers, got.headers.get("user-agent")
    assert got.headers.get("accept") == "*/*" and "gzip" in got.headers.get("accept-encoding", "")
    status, _, payload = _raw(engine, head + b"User-Agent: tool/1.0\r\nAccept: application/json\r\n", body)
    assert status == 200, payload[:300]
    assert fo.last_request.headers.get("user-agent") == "tool/1.0"
    assert fo.last_request.headers.get("accept") == "application/json"


def test_gemini_fields_mask_is_not_forwarded_and_usage_is_counted(
    engine: EngineProcess, fakes: tuple[Any, Any, Any]
) -> None:
    fg = fakes[2]
    r = httpx.post(engine.url + "/v1beta/models/gemini/gemini-2.5-pro:generateContent?fields=candidates&key=x",
                   json={"contents": [{"parts": [{"text": "hi"}]}]},
                   headers={**AUTH, "x-goog-api-client": "genai-py/1", "X-Goog-User-Project": "other"})  # fmt: skip
    assert r.status_code == 200, r.text
    got = fg.last_request
    assert "fields" not in got.query and "key" not in got.query
    assert got.headers.get("x-goog-api-client") == "genai-py/1"
    assert "x-goog-user-project" not in got.headers
    assert engine.records(1)[0]["input_tokens"] > 0


def test_anthropic_keeps_its_beta_query_and_session_headers(engine: EngineProcess, fakes: tuple[Any, Any, Any]) -> None:
    fa = fakes[1]
    r = httpx.post(engine.url + "/v1/messages?beta=true&other=1", headers={**AUTH, "anthropic-beta": "x-1",
                   "x-claude-code-session-id": "abc", "anthropic-version": "2023-06-01"},
                   json={"model": "anthropic/claude-haiku-4-5", "max_tokens": 8, "messages": _MSG})  # fmt: skip
    assert r.status_code == 200, r.text
    got = fa.last_request
    assert got.query == {"beta": "true"}
    assert got.headers.get("x-claude-code-session-id") == "abc"
    assert "x-1" in got.headers.get("anthropic-beta", "")


# ----- item 8: Amp relay path traversal --------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/api/../../../admin/secret", "/api/%2e%2e/%2e%2e/admin/secret", "/api/%2E%2E%2fadmin", "/api/..%5cadmin",
     "/api/a\\..\\admin", "/api/%252e%252e/admin", "/api/./x", "/threads/../admin"],
)  # fmt: skip
def test_amp_relay_refuses_dot_segments(engine: EngineProcess, amp_upstream: CredentialEcho, path: str) -> None:
    before = len(amp_upstream.requests)
    conn = http.client.HTTPConnection("127.0.0.1", engine.port, timeout=10)
    conn.request("GET", path, headers=AUTH)
    resp = conn.getresponse()
    payload = resp.read()
    conn.close()
    assert resp.status == 400, payload
    assert json.loads(payload)["error"]["code"] == "amp_path_refused"
    assert len(amp_upstream.requests) == before, "nothing reached the Amp upstream"


def test_amp_relay_still_relays_an_ordinary_path(engine: EngineProcess, amp_upstream: CredentialEcho) -> None:
    amp_upstream.status = 404
    r = httpx.get(engine.url + "/api/threads/T-1%20x", headers=AUTH)
    assert r.status_code == 404
    assert amp_upstream.last_request.path == "/amp-prefix/api/threads/T-1 x"


# ----- item 14: model lists and Gemini codes -----------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1beta/models", "/api/provider/google/v1beta/models"])
def test_gemini_model_list_401_is_in_gemini_shape(engine: EngineProcess, path: str) -> None:
    r = httpx.get(engine.url + path, headers={"x-goog-api-key": "wrong"})
    assert r.status_code == 401
    assert dialect_error("gemini", 401, r.content) is None


def test_gemini_error_code_equals_the_http_status(engine: EngineProcess, fakes: tuple[Any, Any, Any]) -> None:
    fakes[2].script(status=500, error_message="boom")
    r = httpx.post(engine.url + "/v1beta/models/gemini/gemini-2.5-pro:generateContent", headers=AUTH,
                   json={"contents": [{"parts": [{"text": "hi"}]}]})  # fmt: skip
    assert r.status_code == 500  # a same-dialect error passes through as the upstream sent it
    assert r.json()["error"]["code"] == 500


# ----- item 7: the safety net ----------------------------------------------------------------------------


async def _broken(request: web.Request) -> web.Response:
    raise RuntimeError("a bug in a handler")


@pytest.mark.parametrize(
    ("path", "dialect", "headers"),
    [("/v1/messages", "anthropic", {}), ("/v1beta/models/x:generateContent", "gemini", {}),
     ("/v1/chat/completions", "openai_chat", {}), ("/v1/responses", "openai_responses", {}),
     ("/v1/models", "anthropic", {"anthropic-version": "2023-06-01"}), ("/v1beta/models", "gemini", {}),
     ("/api/provider/anthropic/v1/messages", "anthropic", {}), ("/v0/status", "management", {})],
)  # fmt: skip
async def test_safety_net_answers_a_handler_bug_in_the_callers_dialect(
    path: str, dialect: str, headers: dict[str, str]
) -> None:
    app = web.Application(middlewares=[safety_net])
    app.router.add_route("*", "/{tail:.*}", _broken)
    async with TestServer(app) as server, aiohttp.ClientSession() as http:
        method = "GET" if path.endswith(("/models", "/status")) else "POST"
        async with http.request(method, server.make_url(path), headers=headers) as resp:
            body = await resp.read()
    assert resp.status == 500
    assert dialect_error(dialect, 500, body) is None, body
    assert b"Traceback" not in body and b"a bug in a handler" not in body
