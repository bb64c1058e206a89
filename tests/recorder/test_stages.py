"""Each of the four stages is captured as it was on the wire, for every dialect pair, JSON and SSE.

The engine runs with `recorder.mode: all` against the fake upstreams; every stage is checked
against what really crossed the wire: the client request against what the test sent, the upstream
request against what the fake received, the client response against what the test got back.
"""

from __future__ import annotations

import json

import pytest

from tests.engine_harness import EngineProcess
from tests.recorder.helpers import CONTENTS, MSG, client, stages, wait_capture

UPSTREAMS = {
    "openai": ("openai/gpt-4o", "openai_chat"),
    "anthropic": ("anthropic/claude-sonnet-4-5", "anthropic"),
    "gemini": ("gemini/gemini-2.5-pro", "gemini"),
}
CLIENTS = ("openai_chat", "openai_responses", "anthropic", "gemini")


def _call(dialect: str, model: str, stream: bool) -> tuple[str, dict]:
    if dialect == "openai_chat":
        return "/v1/chat/completions", {"model": model, "messages": MSG, "stream": stream}
    if dialect == "openai_responses":
        return "/v1/responses", {"model": model, "input": "hi", "stream": stream}
    if dialect == "anthropic":
        return "/v1/messages", {"model": model, "max_tokens": 64, "messages": MSG, "stream": stream}
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return f"/v1beta/models/{model}:{method}", CONTENTS


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("upstream", list(UPSTREAMS))
@pytest.mark.parametrize("dialect", CLIENTS)
def test_four_stages_match_the_wire(engine: EngineProcess, fakes, dialect: str, upstream: str, stream: bool) -> None:
    fake = dict(zip(UPSTREAMS, fakes, strict=True))[upstream]
    model, up_dialect = UPSTREAMS[upstream]
    path, body = _call(dialect, model, stream)
    with client(engine) as http:
        r = http.post(path, json=body)
    assert r.status_code == 200, r.text
    doc = wait_capture(engine, r.headers["X-ProxyPal-Request-Id"])
    assert [s["stage"] for s in doc["stages"]] == [
        "client_request", "upstream_request", "upstream_response", "client_response"
    ]  # fmt: skip
    assert doc["meta"]["dialect_in"] == dialect and doc["meta"]["status"] == 200

    (creq,) = stages(doc, "client_request")
    assert creq["method"] == "POST" and creq["url"] == path.split("?")[0]
    assert creq["json"] == body
    assert creq["headers"]["Authorization"] == "[redacted]"

    (ureq,) = stages(doc, "upstream_request")
    got = fake.last_request
    assert ureq["url"].split("?")[0].endswith(got.path), (ureq["url"], got.path)
    assert ureq["json"] == got.json, "the upstream stage is the body the upstream received"
    same = dialect == up_dialect
    if not same:  # translated: the upstream body is in the upstream's dialect, not the client's
        assert ureq["json"] != creq["json"]
    for k, v in ureq["headers"].items():
        if k.lower() in ("authorization", "x-api-key", "x-goog-api-key"):
            assert v == "[redacted]"

    (uresp,) = stages(doc, "upstream_response")
    assert uresp["status"] == 200 and uresp["attempt"] == 1
    if stream:
        assert uresp["kind"] == "sse" and uresp["events"], uresp["body"][:200]
        assert all("json" in e for e in uresp["events"] if e["data"] != "[DONE]")
    else:
        assert uresp["kind"] == "json" and isinstance(uresp["json"], dict)

    (cresp,) = stages(doc, "client_response")
    assert cresp["status"] == 200
    assert cresp["body"] == r.text, "the client stage is exactly what the client received"
    assert cresp["kind"] == ("sse" if stream else "json")
    if same and not stream:
        assert json.loads(uresp["body"]).keys() == json.loads(cresp["body"]).keys()
    assert not cresp["truncated"] and not ureq["truncated"]
