"""The one inbound route table, through the real engine: every declared route answers at `/` and under
Amp's prefix with the dialect it declares, model lists (and their 401s) come in the caller's shape, and
hop-by-hop and client-origin headers never reach an upstream."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from proxy_engine.request_path.routes import GEMINI, MODEL_LIST, ROUTES, SOCKET, VERTEX, InboundRoute
from tests.engine_harness import EngineProcess, fakes_config, free_port

AMP_PREFIX = "/api/provider/openai"
CLIENT_KEY = "pp-route-table-client-key"


def _dialect_of(body: dict[str, Any]) -> str:
    """Which dialect an error body is written in."""
    if body.get("type") == "error":
        return "anthropic"
    return "gemini" if "status" in body["error"] else "openai_chat"


def _concrete(route: InboundRoute, model: str) -> str:
    """A path for the route, naming `model` where the path carries it."""
    if route.kind == GEMINI:
        return route.path.replace("{tail:.+}", f"{model}:generateContent")
    if route.kind == VERTEX:
        vertex = f"projects/p/locations/l/publishers/google/models/{model}:generateContent"
        return route.path.replace("{tail:.+}", vertex)
    return route.path


def _mounted_paths(route: InboundRoute) -> list[str]:
    paths = [] if route.amp_only else ["/" + _concrete(route, "no-such-model")]
    amp = f"{AMP_PREFIX}/{_concrete(route, 'no-such-model')}"
    paths.append(amp)
    if route.amp_unversioned:
        paths.append(amp.replace("/v1/", "/", 1))
    return paths


def _route_id(route: InboundRoute) -> str:
    return f"{route.method} {route.path}"


@pytest.mark.parametrize("route", [r for r in ROUTES if r.kind not in (MODEL_LIST, SOCKET)], ids=_route_id)
def test_every_model_call_route_reaches_the_handler_in_its_dialect(engine: EngineProcess, route: InboundRoute) -> None:
    """An unknown model is the handler's 404 (not the router's, not Amp's relay), in the route's dialect."""
    expected = "openai_chat" if (route.dialect or "").startswith("openai") else route.dialect  # one error shape
    for path in _mounted_paths(route):
        r = httpx.post(engine.url + path, json={"model": "no-such-model", "messages": [], "contents": []})
        assert r.status_code == 404, (path, r.text)
        body = r.json()
        assert _dialect_of(body) == expected, (path, body)
        assert "unknown model 'no-such-model'" in body["error"]["message"], (path, body)


@pytest.mark.parametrize("route", [r for r in ROUTES if r.kind == MODEL_LIST], ids=_route_id)
def test_every_model_list_route_lists_the_configured_names(engine: EngineProcess, route: InboundRoute) -> None:
    for path in _mounted_paths(route):
        r = httpx.get(engine.url + path)
        assert r.status_code == 200, (path, r.text)
        body = r.json()
        names = (
            [m["name"].removeprefix("models/") for m in body["models"]]
            if "models" in body
            else [m["id"] for m in body["data"]]
        )
        assert {"Smart", "Rush"} <= set(names), (path, body)


def test_vertex_paths_that_name_no_model_go_to_amps_relay(engine: EngineProcess) -> None:
    """Not a model call: Amp's relay answers (here: not configured), never the model handler."""
    r = httpx.post(engine.url + AMP_PREFIX + "/v1beta1/projects/p/locations/l/operations", json={})
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "amp_upstream_not_configured"


def test_gemini_paths_without_a_known_method_are_404_in_gemini_shape(engine: EngineProcess) -> None:
    for path in ("/v1beta/models/gemini-2.5-flash:predictLongRunning", "/v1beta/models/gemini-2.5-flash",
                 AMP_PREFIX + "/v1beta/models/gemini-2.5-flash:predictLongRunning"):  # fmt: skip
        r = httpx.post(engine.url + path, json={"contents": []})
        assert r.status_code == 404, path
        assert r.json()["error"]["status"] == "NOT_FOUND", path
        assert "unsupported Gemini method" in r.json()["error"]["message"]


@pytest.fixture(scope="module")
def keyed_engine(fakes: tuple[Any, Any, Any]) -> Iterator[EngineProcess]:
    port = free_port()
    cfg = fakes_config(port, *fakes, extra="clients:\n  - {name: laptop, key: env:ROUTE_TABLE_CLIENT_KEY}\n")
    with EngineProcess(cfg, port, env={"ROUTE_TABLE_CLIENT_KEY": CLIENT_KEY}) as eng:
        yield eng


@pytest.mark.parametrize(
    ("path", "headers", "shape"),
    [
        ("/v1/models", {}, "openai_chat"),
        ("/v1/models", {"anthropic-version": "2023-06-01"}, "anthropic"),
        ("/v1beta/models", {}, "gemini"),
        ("/api/provider/anthropic/v1/models", {}, "anthropic"),
        ("/api/provider/google/v1beta/models", {}, "gemini"),
        ("/api/provider/openai/models", {}, "openai_chat"),
    ],
)
def test_model_lists_and_their_401s_come_in_the_callers_shape(
    keyed_engine: EngineProcess, path: str, headers: dict[str, str], shape: str
) -> None:
    refused = httpx.get(keyed_engine.url + path, headers=headers)
    assert refused.status_code == 401
    assert _dialect_of(refused.json()) == shape
    listed = httpx.get(keyed_engine.url + path, headers={**headers, "Authorization": "Bearer " + CLIENT_KEY})
    assert listed.status_code == 200
    body = listed.json()
    got = "gemini" if "models" in body else "anthropic" if "has_more" in body else "openai_chat"
    assert got == shape, body


def test_connection_and_client_origin_headers_never_reach_the_upstream(
    engine: EngineProcess, fakes: tuple[Any, Any, Any]
) -> None:
    fo = fakes[0]
    sent = {
        "X-Forwarded-For": "10.1.2.3", "Forwarded": "for=10.1.2.3", "X-Real-IP": "10.1.2.3", "Cookie": "session=1",
        "Proxy-Authorization": "Basic c2VjcmV0", "X-Stainless-Lang": "kept", "X-Client-Flag": "dropped",
    }  # fmt: skip
    r = httpx.post(engine.url + "/v1/chat/completions", headers=sent,
                   json={"model": "Rush", "messages": [{"role": "user", "content": "hi"}]})  # fmt: skip
    assert r.status_code == 200, r.text
    got = fo.last_request.headers
    assert got.get("x-stainless-lang") == "kept", "the SDK's allow-listed headers pass through a same-dialect call"
    for name in ("x-forwarded-for", "forwarded", "x-real-ip", "cookie", "proxy-authorization", "x-client-flag"):
        assert name not in got, name
