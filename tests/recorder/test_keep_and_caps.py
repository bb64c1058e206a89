"""Which requests `mode: errors` keeps, the byte caps and their truncation markers, and deletion."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.engine_harness import EngineProcess, free_port
from tests.recorder.helpers import ENV, MSG, client, recorder_config, stages, wait_capture

STAGE_MAX_KB = 1


@pytest.fixture(scope="module")
def errors_engine(fakes) -> Iterator[EngineProcess]:
    port = free_port()
    cfg = recorder_config(port, *fakes, recorder=f"{{mode: errors, stage_max_kb: {STAGE_MAX_KB}, request_max_kb: 3}}")
    with EngineProcess(cfg, port, env=ENV) as eng:
        yield eng


def _chat(eng: EngineProcess, model: str, stream: bool = False) -> tuple[int, str, str]:
    with client(eng) as http:
        r = http.post("/v1/chat/completions", json={"model": model, "messages": MSG, "stream": stream})
    return r.status_code, r.headers["X-ProxyPal-Request-Id"], r.text


def _absent(eng: EngineProcess, rid: str) -> bool:
    """True when no capture exists once the writer has caught up with every earlier request."""
    deadline = time.monotonic() + 10
    while eng.api("GET", "/v0/status").json()["recorder"]["queued"] and time.monotonic() < deadline:
        time.sleep(0.05)
    return eng.api("GET", f"/v0/requests/{rid}/capture").status_code == 404


def test_errors_mode_keeps_a_failure_whole_and_skips_a_success(errors_engine: EngineProcess, fakes) -> None:
    _fo, fa, _fg = fakes
    fa.queue(status=400, error_message="max_tokens: too large", error_type="invalid_request_error")
    status, failed, text = _chat(errors_engine, "anthropic/claude-sonnet-4-5")
    assert status == 400
    doc = wait_capture(errors_engine, failed)
    assert doc["meta"]["reason"] == "error" and doc["meta"]["status"] == 400
    (uresp,) = stages(doc, "upstream_response")
    assert uresp["status"] == 400 and "too large" in uresp["body"], "the upstream's own error body is kept"
    (cresp,) = stages(doc, "client_response")
    assert cresp["status"] == 400 and cresp["body"] == text

    status, ok, _ = _chat(errors_engine, "anthropic/claude-sonnet-4-5")
    assert status == 200
    assert _absent(errors_engine, ok), "a plain success is not kept in errors mode"


def test_errors_mode_keeps_a_failover_with_every_attempt(errors_engine: EngineProcess, fakes) -> None:
    _fo, fa, _fg = fakes
    fa.queue(status=529, error_message="Overloaded", error_type="overloaded_error")
    status, rid, _text = _chat(errors_engine, "Smart", stream=True)
    assert status == 200
    doc = wait_capture(errors_engine, rid)
    assert doc["meta"]["reason"] == "failover" and doc["meta"]["attempts"] == 2
    reqs, resps = stages(doc, "upstream_request"), stages(doc, "upstream_response")
    assert [s["attempt"] for s in reqs] == [1, 2] and [s["status"] for s in resps] == [529, 200]
    assert "/v1/messages" in reqs[0]["url"] and "/chat/completions" in reqs[1]["url"]
    assert resps[1]["kind"] == "sse"


def test_a_stage_past_its_cap_is_cut_and_says_so(errors_engine: EngineProcess, fakes) -> None:
    fo, fa, _fg = fakes
    long = "lorem ipsum " * 400  # ~4.8 KB of text, past the 1 KiB stage cap
    fa.queue(status=500, error_message=long, error_type="api_error")
    fo.queue(text=long, chunks=20)
    status, rid, text = _chat(errors_engine, "Smart", stream=True)
    assert status == 200
    doc = wait_capture(errors_engine, rid)
    cap = STAGE_MAX_KB * 1024
    kept = 0
    for st in doc["stages"]:
        kept += len(st["body"].encode())
        assert len(st["body"].encode()) <= cap
    (cresp,) = stages(doc, "client_response")
    assert cresp["truncated"] and cresp["bytes"] == len(text.encode()) > cap
    assert f"kept {len(cresp['body'])} of {cresp['bytes']} bytes" in cresp["truncated_note"]
    assert cresp["body"] == text[: len(cresp["body"])], "the kept part is the start of what was sent"
    assert stages(doc, "upstream_response")[0]["truncated"], "the long upstream error was cut at its stage cap"
    assert len(stages(doc, "upstream_response")[0]["body"]) == cap
    assert kept == 3 * 1024, "all stages together were cut at request_max_kb"


def test_delete_one_and_delete_all(errors_engine: EngineProcess, fakes) -> None:
    _fo, fa, _fg = fakes
    ids = []
    for _ in range(3):
        fa.queue(status=400, error_message="bad", error_type="invalid_request_error")
        ids.append(_chat(errors_engine, "anthropic/claude-sonnet-4-5")[1])
    for rid in ids:
        wait_capture(errors_engine, rid)
    r = errors_engine.api("DELETE", f"/v0/requests/{ids[0]}/capture")
    assert r.status_code == 200 and r.json() == {"deleted": 1}
    assert errors_engine.api("GET", f"/v0/requests/{ids[0]}/capture").status_code == 404
    assert errors_engine.api("DELETE", f"/v0/requests/{ids[0]}/capture").status_code == 404
    r = errors_engine.api("DELETE", "/v0/captures")
    assert r.status_code == 200 and r.json()["deleted"] >= 2
    assert all(errors_engine.api("GET", f"/v0/requests/{i}/capture").status_code == 404 for i in ids)
    assert not list((errors_engine.home / "state" / "captures").glob("*.json.gz"))


def test_capture_routes_are_guarded_and_check_ids(errors_engine: EngineProcess) -> None:
    import httpx

    for method, path in (("GET", "/v0/requests/0123456789abcdef/capture"), ("DELETE", "/v0/captures"),
                         ("POST", "/v0/requests/0123456789abcdef/replay"), ("GET", "/v0/captures")):  # fmt: skip
        r = httpx.request(method, errors_engine.url + path, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401, path
    r = errors_engine.api("GET", "/v0/requests/..%2F..%2Fetc/capture")
    assert r.status_code in (400, 404)
    assert errors_engine.api("GET", "/v0/requests/not-an-id/capture").status_code == 400
