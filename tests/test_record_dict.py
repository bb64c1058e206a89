"""A record's `as_dict` is the ledger row, the stats input and the `request.finished` event in one: it is
built directly for speed, so it must stay exactly what the typed event would give."""

from __future__ import annotations

from dataclasses import dataclass

from proxy_engine.protocol import RequestFinished
from proxy_engine.record import RequestRecord
from proxy_engine.usage.tokens import Usage


@dataclass
class _Provider:
    name: str
    kind: str


def _without_latency(d: dict) -> dict:
    return {k: v for k, v in d.items() if k != "latency_ms"}


def _filled() -> RequestRecord:
    rec = RequestRecord("anthropic", "claude-cli/2.0 (external, cli)")
    rec.client, rec.session, rec.member, rec.team = "laptop", "sess-1", "mk_1", "core"
    rec.model_requested = "Rush"
    rec.attempt(_Provider("anthropic", "anthropic"), "claude-haiku-4-5", "anthropic")
    rec.attempt(_Provider("backup", "openai"), "gpt-4o-mini", "openai_chat")
    rec.credential, rec.stream, rec.paid_fallback = "key-2", True, True
    rec.first_byte()
    rec.usage = Usage(input_tokens=120, output_tokens=20, cache_read_tokens=7, cache_write_tokens=3)
    rec.cost_usd = 0.00012
    rec.fail(502, "upstream_disconnected", "backup dropped the stream \ud800")
    return rec


def test_a_filled_record_gives_the_events_own_dict() -> None:
    rec = _filled()
    got, want = rec.as_dict(), rec.finished_event().to_dict()
    assert list(got) == list(want)  # same keys in the same order: the journal line and events keep their shape
    assert _without_latency(got) == _without_latency(want)
    assert got["error"] == {"code": "upstream_disconnected", "message": "backup dropped the stream \ufffd"}
    assert got["status"] == 502 and got["attempts"] == 2 and got["ttfb_ms"] is not None
    assert 0 <= got["latency_ms"] <= want["latency_ms"]


def test_an_unfinished_record_gives_the_events_own_dict() -> None:
    rec = RequestRecord("openai_chat", "")
    got, want = rec.as_dict(), rec.finished_event().to_dict()
    assert _without_latency(got) == _without_latency(want)
    assert got["status"] == 500 and got["error"] is None and got["ttfb_ms"] is None and got["input_tokens"] == 0


def test_the_dict_reads_back_as_the_typed_event() -> None:
    """What the TUI does with each `request.finished` line."""
    d = _filled().as_dict()
    ev = RequestFinished.from_dict(d)
    assert ev.to_dict() == d


def test_text_fields_hold_what_bounded_gives_for_every_kind_of_text():
    """The setters' shortcut for short ASCII text stores exactly what `bounded` would."""
    from proxy_engine.record import ERROR_MESSAGE_MAX, TEXT_MAX, RequestRecord, bounded

    class Name(str):
        pass

    texts = ["gpt-4o", "", "x" * TEXT_MAX, "x" * (TEXT_MAX + 1), "é" * (TEXT_MAX + 1), "ok \ud800 no", "ü", Name("n")]
    rec = RequestRecord("openai_chat", "codex/1")
    for text in [*texts, "y" * ERROR_MESSAGE_MAX + "z", None]:
        rec.model, rec.error_message = text, text
        assert rec.model == bounded(text) and rec.error_message == bounded(text, ERROR_MESSAGE_MAX)
        assert rec.as_dict()["model"] == bounded(text)


def test_the_started_dict_is_the_typed_started_events_own():
    for rec in (_filled(), RequestRecord("openai_chat", "")):
        got, want = rec.started_dict(), rec.started_event().to_dict()
        assert list(got) == list(want) and got == want
