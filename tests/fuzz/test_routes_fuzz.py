"""Every inbound route of the real engine, fuzzed: wrong types anywhere in a body, malformed and
huge bodies, hostile headers, queries and paths, and `/v0` with and without its key.

The invariant, per example (`wire.check`): no 5xx the proxy made itself (the fakes answer every
well-formed request correctly and are never told to fail), no traceback, every error body in the
caller's dialect, and `/healthz` still answers. After each batch one good request must find its
row in the ledger. Figures: conftest.py's terminal summary.
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from tests.engine_harness import EngineProcess
from tests.fuzz.conftest import CLIENT_KEY, healthz_answers, ledger_keeps_up
from tests.fuzz.routes import LIST_ROUTES, MANAGEMENT, MODEL_ROUTES, MODELS, Route
from tests.fuzz.strategies import (
    HEADER_BYTES,
    HOSTILE_HEADERS,
    HOSTILE_PATHS,
    HOSTILE_QUERIES,
    MALFORMED_BODIES,
    mutated,
)
from tests.fuzz.wire import Tally, check, send

ROUTES = st.sampled_from(MODEL_ROUTES)
ANY_MODEL = st.sampled_from(MODELS)


def _call(eng: EngineProcess, tally: Tally, route: Route, target: str, headers: list, body: bytes, what: str) -> None:
    reply = send(eng.port, route.method.encode(), target.encode(), headers, body)
    problems = check(tally, reply, route.dialect, what)
    assert not problems, problems
    assert healthz_answers(eng), f"/healthz stopped answering after {what}"


def _merged(base: list[tuple[bytes, bytes]], extra: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`extra` replaces a header of the same name: a repeated Content-Type is refused by aiohttp's HTTP
    parser before any route runs (plain text, see the report), which is framing, not a route's answer."""
    out = {k.lower(): (k, v) for k, v in base}
    out.update({k.lower(): (k, v) for k, v in extra})
    return list(out.values())


def test_wrong_types_anywhere_in_a_body(fuzz_engine: EngineProcess, tally: Tally) -> None:
    @given(route=ROUTES, model=ANY_MODEL, data=st.data())
    def run(route: Route, model: str, data: st.DataObject) -> None:
        body = data.draw(mutated(route.base_body(model) or {}))
        text = json.dumps(body).encode()
        _call(fuzz_engine, tally, route, route.target(model), route.headers(), text, f"{route.path} {text[:200]!r}")

    run()
    assert ledger_keeps_up(fuzz_engine, tally, "fuzzrows-types")


def test_malformed_non_object_deep_and_huge_bodies(fuzz_engine: EngineProcess, tally: Tally) -> None:
    @given(route=ROUTES, model=ANY_MODEL, body=MALFORMED_BODIES)
    def run(route: Route, model: str, body: bytes) -> None:
        _call(fuzz_engine, tally, route, route.target(model), route.headers(), body, f"{route.path} {body[:120]!r}")

    run()
    assert ledger_keeps_up(fuzz_engine, tally, "fuzzrows-bodies")


def test_hostile_headers_and_queries(fuzz_engine: EngineProcess, tally: Tally) -> None:
    @given(route=ROUTES, model=ANY_MODEL, extra=HOSTILE_HEADERS, query=HOSTILE_QUERIES, keyed=st.booleans())
    def run(route: Route, model: str, extra: list, query: bytes, keyed: bool) -> None:
        headers = route.headers() if keyed else [(b"Content-Type", b"application/json")]
        headers = _merged(headers, extra)
        body = json.dumps(route.base_body(model)).encode()
        if any(k == b"Content-Encoding" for k, _ in extra):
            body = body[:20]  # declared gzip, and it is not: the engine must refuse it cleanly
        target = route.target(model).split("?")[0] + query.decode("latin-1")
        reply = send(fuzz_engine.port, b"POST", target.encode("latin-1"), headers, body)
        problems = check(tally, reply, route.dialect, f"{target[:200]} {extra}")
        assert not problems, problems
        assert healthz_answers(fuzz_engine)

    run()
    assert ledger_keeps_up(fuzz_engine, tally, "fuzzrows-headers")


def test_hostile_paths(fuzz_engine: EngineProcess, tally: Tally) -> None:
    gemini = MODEL_ROUTES[5]

    @given(path=HOSTILE_PATHS, method=st.sampled_from([b"POST", b"GET", b"PUT", b"DELETE", b"OPTIONS"]))
    def run(path: tuple[bytes, str | None], method: bytes) -> None:
        target, dialect = path
        body = json.dumps(gemini.base_body("Rush")).encode()
        reply = send(fuzz_engine.port, method, target, gemini.headers(), body)
        problems = check(tally, reply, dialect if method == b"POST" else None, f"{method!r} {target[:200]!r}")
        assert not problems, problems
        assert healthz_answers(fuzz_engine)

    run()
    assert ledger_keeps_up(fuzz_engine, tally, "fuzzrows-paths")


def test_model_lists(fuzz_engine: EngineProcess, tally: Tally) -> None:
    @given(route=st.sampled_from(LIST_ROUTES), keyed=st.booleans(), query=HOSTILE_QUERIES, extra=HOSTILE_HEADERS)
    def run(route: Route, keyed: bool, query: bytes, extra: list) -> None:
        extra = [h for h in extra if h[0].lower() not in (b"x-api-key", b"x-goog-api-key", b"authorization")]
        headers = _merged(route.headers() if keyed else [], extra)
        dialect = _list_shape(route, headers, query)
        reply = send(fuzz_engine.port, b"GET", route.path.encode() + query, _merged(headers, extra))
        problems = check(tally, reply, dialect, f"{route.path} {query[:50]!r} {extra}")
        assert not problems, problems
        if keyed and not extra and reply.status != 200:
            raise AssertionError(f"{route.path} with the key answered {reply.status}")

    run()


def _list_shape(route: Route, headers: list[tuple[bytes, bytes]], query: bytes) -> str:
    """The shape a model list answers in (DESIGN: by the path's provider, else by the headers sent)."""
    names = {k.lower() for k, _ in headers}
    amp = route.path.startswith("/api/provider/")
    if "/anthropic/" in route.path or b"anthropic-version" in names:
        return "anthropic"
    if "/v1beta/" in route.path or "/google/" in route.path:
        return "gemini"
    if not amp and (b"x-goog-api-key" in names or query.startswith(b"?key=") or b"&key=" in query):
        return "gemini"
    return "openai_chat"


def test_management_api(fuzz_engine: EngineProcess, tally: Tally) -> None:
    key = fuzz_engine.management_key.encode()

    @given(
        call=st.sampled_from([*MANAGEMENT, ("PUT", "/v0/config")]), keyed=st.booleans(),
        query=st.sampled_from([b"", b"?limit=abc", b"?limit=-1", b"?limit=99999999999999999999", b"?group=%ff",
                               b"?group=nope&since=abc", b"?since=1e999", b"?since=nan", b"?%ff"]),
        body=st.one_of(MALFORMED_BODIES.filter(lambda b: len(b) < 10_000), st.just(b'{"provider": 1}')),
        auth=st.sampled_from([b"Bearer ", b"Bearer \xff", b"Basic x", b"bearer "]),
    )  # fmt: skip
    def run(call: tuple[str, str], keyed: bool, query: bytes, body: bytes, auth: bytes) -> None:
        method, path = call
        if method == "PUT" and keyed:
            keyed = False  # see routes.MANAGEMENT
        headers = [(b"Authorization", (b"Bearer " + key) if keyed else auth + b"x")]
        reply = send(fuzz_engine.port, method.encode(), path.encode() + query, headers, body)
        problems = check(tally, reply, "management", f"{method} {path}{query!r} keyed={keyed}")
        assert not problems, problems
        if not keyed:
            assert reply.status == 401, reply.body[:200]

    run()
    assert fuzz_engine.api("GET", "/v0/status").status_code == 200
    assert ledger_keeps_up(fuzz_engine, tally, "fuzzrows-v0")


def test_client_key_must_match(fuzz_engine: EngineProcess, tally: Tally) -> None:
    @given(route=ROUTES, key=HEADER_BYTES)
    def run(route: Route, key: bytes) -> None:
        headers = [(b"Authorization", b"Bearer " + key), (b"x-api-key", key), (b"Content-Type", b"application/json")]
        reply = send(fuzz_engine.port, b"POST", route.target("Rush").encode(), headers, b'{"model": "Rush"}')
        problems = check(tally, reply, route.dialect, f"{route.path} key={key!r}")
        assert not problems, problems
        if key.strip() != CLIENT_KEY.encode():
            assert reply.status == 401, reply.body[:200]

    run()
