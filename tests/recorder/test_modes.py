"""`mode: off` keeps nothing and a reload switches the recorder on; the Gemini JSON-array stream and the
capture search are captured and served like the rest."""

from __future__ import annotations

import time

from tests.engine_harness import EngineProcess, free_port
from tests.recorder.helpers import CONTENTS, ENV, MSG, client, recorder_config, stages, wait_capture


def test_off_keeps_nothing_and_a_reload_turns_it_on(fakes) -> None:
    _fo, fa, _fg = fakes
    port = free_port()
    with EngineProcess(recorder_config(port, *fakes, recorder="{mode: off}"), port, env=ENV) as eng, \
            client(eng) as http:  # fmt: skip
        fa.queue(status=400, error_message="bad", error_type="invalid_request_error")
        r = http.post("/v1/messages", json={"model": "anthropic/claude-sonnet-4-5", "max_tokens": 5, "messages": MSG})
        assert r.status_code == 400
        rec = eng.api("GET", "/v0/status").json()["recorder"]
        assert rec["mode"] == "off" and rec["written"] == 0
        assert eng.api("GET", f"/v0/requests/{r.headers['X-ProxyPal-Request-Id']}/capture").status_code == 404
        eng.config_path.write_text(recorder_config(port, *fakes, recorder="{mode: all}"))
        assert eng.api("POST", "/v0/config/reload").json()["ok"] is True
        assert eng.api("GET", "/v0/status").json()["recorder"]["mode"] == "all"
        r = http.post("/v1/messages", json={"model": "anthropic/claude-sonnet-4-5", "max_tokens": 5, "messages": MSG})
        assert r.status_code == 200
        assert wait_capture(eng, r.headers["X-ProxyPal-Request-Id"])["meta"]["reason"] == "all"


def test_gemini_json_array_stream_and_search(engine: EngineProcess, fakes) -> None:
    _fo, _fa, fg = fakes
    fg.script(text="haystack-needle-7", chunks=1)
    with client(engine) as http:
        r = http.post("/v1beta/models/gemini/gemini-2.5-pro:streamGenerateContent", json=CONTENTS)
    assert r.status_code == 200 and r.text.lstrip().startswith("[")
    rid = r.headers["X-ProxyPal-Request-Id"]
    doc = wait_capture(engine, rid)
    (ureq,) = stages(doc, "upstream_request")
    assert "alt=sse" in ureq["url"] or ureq["query"].get("alt") == "sse", "the upstream is always asked for SSE"
    (uresp,) = stages(doc, "upstream_response")
    assert uresp["kind"] == "sse"
    (cresp,) = stages(doc, "client_response")
    assert cresp["body"] == r.text and cresp["kind"] == "json" and isinstance(cresp["json"], list)
    deadline = time.monotonic() + 10
    while True:
        found = engine.api("GET", "/v0/captures?q=HAYSTACK-needle-7").json()["captures"]
        if [c["id"] for c in found] == [rid] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert [c["id"] for c in found] == [rid]
    assert found[0]["dialect_in"] == "gemini" and found[0]["status"] == 200
    match = found[0]["match"]
    assert match["excerpt"][match["start"] :].lower().startswith("haystack-needle-7")
