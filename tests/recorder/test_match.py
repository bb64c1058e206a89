"""Where a search word sits in a stored capture: the stage, the attempt and a one-line excerpt."""

from __future__ import annotations

from proxy_engine.recorder.match import first_match

STAGES = [
    {"stage": "client_request", "method": "POST", "url": "/v1/chat/completions",
     "headers": {"Authorization": "[redacted]"}, "body": '{"messages": [{"content": "hi"}]}'},
    {"stage": "upstream_response", "attempt": 2, "status": 200, "headers": {},
     "body": 'data: {"delta": "The answer\\nis Zanzibar-42, and then a lot more text after it to be cut off"}\n\n'},
]  # fmt: skip


def test_the_first_stage_holding_the_word_and_the_match_in_its_excerpt() -> None:
    m = first_match(STAGES, "zanzibar")
    assert m is not None and m["stage"] == "upstream_response" and m["attempt"] == 2
    assert m["excerpt"][m["start"] : m["start"] + m["length"]] == "Zanzibar"
    assert m["excerpt"].endswith("…") and "\n" not in m["excerpt"]


def test_headers_and_urls_are_searched_and_a_miss_is_none() -> None:
    m = first_match(STAGES, "chat/completions")
    assert m is not None and m["stage"] == "client_request" and "POST /v1/chat/completions" in m["excerpt"]
    assert first_match(STAGES, "absent-word") is None
    assert first_match(STAGES, "") is None


def test_a_character_that_lowercases_longer_does_not_shift_the_highlight() -> None:
    stages = [{"stage": "client_request", "attempt": None, "body": "İİİİ say ZEBRA-word now"}]
    found = first_match(stages, "zebra")
    assert found is not None
    assert found["excerpt"][found["start"] : found["start"] + found["length"]] == "ZEBRA"
