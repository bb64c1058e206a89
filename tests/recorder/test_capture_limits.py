"""The caps a capture keeps to while the request runs: per stage, per request, and all requests in flight."""

from __future__ import annotations

from proxy_engine.recorder.capture import UPSTREAM_RESPONSE, Capture, Limits, Stage


def test_requests_in_flight_share_one_memory_cap_and_give_it_back() -> None:
    limits = Limits(stage_max=100, request_max=150, memory_max=120)
    a, b = Capture(limits), Capture(limits)
    sa, sb = Stage(UPSTREAM_RESPONSE), Stage(UPSTREAM_RESPONSE)
    a.add(sa, b"x" * 90)
    b.add(sb, b"y" * 90)  # only 30 bytes of room are left for everyone
    assert (sa.kept, sb.kept, limits.held) == (90, 30, 120)
    assert sb.truncated and sb.seen == 90 and b"".join(sb.chunks) == b"y" * 30
    a.release()
    assert limits.held == 30
    c, sc = Capture(limits), Stage(UPSTREAM_RESPONSE)
    c.add(sc, b"z" * 200)
    assert sc.kept == 90 and sc.truncated, "freed room is usable again, up to the request's own caps"
    assert limits.held == 120


def test_stage_and_request_caps() -> None:
    limits = Limits(stage_max=10, request_max=15)
    cap = Capture(limits)
    s1, s2 = Stage(UPSTREAM_RESPONSE), Stage(UPSTREAM_RESPONSE)
    for chunk in (b"abcd", b"efgh", b"ijkl"):
        cap.add(s1, chunk)
    assert b"".join(s1.chunks) == b"abcdefghij" and s1.truncated and s1.seen == 12
    cap.add(s2, bytearray(b"0123456789"))
    assert b"".join(s2.chunks) == b"01234" and s2.truncated and all(type(c) is bytes for c in s2.chunks)
    assert cap.kept == limits.held == 15


def test_sse_events_follow_the_event_stream_line_rules() -> None:
    from proxy_engine.recorder.present import sse_events

    text = ': keep-alive\r\nevent: a\r\ndata: one\r\ndata:two\r\n\r\ndata: x\r\rdata: {"k": 1}\n\n'
    assert sse_events(text) == [{"event": "a", "data": "one\ntwo"}, {"data": "x"}, {"data": '{"k": 1}'}]


def test_a_body_past_the_cap_is_kept_as_a_view_of_its_start_not_a_copy() -> None:
    """An agent's turn is larger than a stage's cap on every call: its first part is kept without copying it,
    and a reused bytearray is still copied (its bytes would change under the view)."""
    limits = Limits(stage_max=1000, request_max=10_000)
    cap, stage = Capture(limits), Stage(UPSTREAM_RESPONSE)
    body = bytes(range(256)) * 20
    cap.add(stage, body)
    (kept,) = stage.chunks
    assert isinstance(kept, memoryview) and kept.obj is body and bytes(kept) == body[:1000]
    assert stage.truncated and stage.kept == limits.held == 1000
    reused, other = bytearray(b"a" * 2000), Stage(UPSTREAM_RESPONSE)
    cap.add(other, reused)
    reused[:] = b"b" * 2000
    assert b"".join(other.chunks) == b"a" * 1000
    kept_after = Capture(limits)
    kept_after.upstream_request("http://127.0.0.1:9/v1/messages", {}, body, {})
    assert type(kept_after.stages[0].chunks[0]) is memoryview
    kept_after.own_bytes()  # kept past the request: the view becomes its own bytes and stops pinning the body
    assert kept_after.stages[0].chunks == [body[:1000]] and type(kept_after.stages[0].chunks[0]) is bytes


def test_a_chunk_that_exactly_fills_a_cap_is_kept_whole_and_the_next_byte_is_cut() -> None:
    """The within-every-cap shortcut and the cutting path meet at the cap, byte for byte."""
    limits = Limits(stage_max=8, request_max=12, memory_max=11)
    cap = Capture(limits)
    s1, s2 = Stage(UPSTREAM_RESPONSE), Stage(UPSTREAM_RESPONSE)
    cap.add(s1, bytearray(b"12345678"))  # exactly the stage cap; a reused bytearray is copied
    cap.add(s1, b"9")
    cap.add(s2, b"abc")  # exactly the memory cap (11)
    cap.add(s2, b"d")
    assert (s1.chunks, s1.kept, s1.seen, s1.truncated) == ([b"12345678"], 8, 9, True)
    assert (s2.chunks, s2.kept, s2.seen, s2.truncated) == ([b"abc"], 3, 4, True)
    assert type(s1.chunks[0]) is bytes and (cap.kept, limits.held) == (11, 11)
