"""`POST /v0/control/leaving`: the TUI's goodbye is logged, checked, and needs the management key."""

from __future__ import annotations

import time

import httpx

from tests.engine_harness import EngineProcess


def engine_log(engine: EngineProcess) -> str:
    return (engine.home / "state" / "logs" / "engine.log").read_text(encoding="utf-8")


def logged(engine: EngineProcess, text: str, within: float = 10.0) -> str:
    """The log once it holds `text` (a background thread writes it); fails if it never does."""
    deadline = time.monotonic() + within
    while text not in (log := engine_log(engine)):
        assert time.monotonic() < deadline, f"not logged: {text!r}"
        time.sleep(0.05)
    return log


def test_a_goodbye_is_logged_with_its_reason(engine: EngineProcess) -> None:
    r = engine.api("POST", "/v0/control/leaving", json={"reason": "hangup", "pid": 4242, "stopping": True})
    assert r.status_code == 200 and r.json() == {"ok": True}
    r = engine.api("POST", "/v0/control/leaving", json={"reason": "terminated", "pid": 4243, "stopping": False})
    assert r.status_code == 200
    log = logged(engine, "the control centre (pid 4243) went away: it was sent SIGTERM; this engine keeps running")
    assert "the control centre (pid 4242) went away: its terminal hung up (SIGHUP); it is stopping this engine" in log


def test_a_bad_goodbye_is_a_clear_400_and_is_not_logged(engine: EngineProcess) -> None:
    bad = [
        {"reason": "rm -rf /\nFAKE LINE", "pid": 1, "stopping": True},
        {"reason": "hangup", "pid": "1", "stopping": True},
        {"reason": "hangup", "pid": True, "stopping": True},
        {"reason": "hangup", "pid": 1, "stopping": "yes"},
        ["hangup"],
    ]
    for body in bad:
        r = engine.api("POST", "/v0/control/leaving", json=body)
        assert r.status_code == 400 and isinstance(r.json()["error"], str), body
    r = engine.api("POST", "/v0/control/leaving", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "the body must be JSON"
    good = {"reason": "terminal_lost", "pid": 4244, "stopping": True}
    assert engine.api("POST", "/v0/control/leaving", json=good).status_code == 200
    assert "FAKE LINE" not in logged(engine, "(pid 4244)"), "the refused bodies were logged before the good one"


def test_a_goodbye_needs_the_management_key(engine: EngineProcess) -> None:
    body = {"reason": "hangup", "pid": 77, "stopping": True}
    assert httpx.post(engine.url + "/v0/control/leaving", json=body).status_code == 401
    marker = {"reason": "hangup", "pid": 78, "stopping": True}
    assert engine.api("POST", "/v0/control/leaving", json=marker).status_code == 200
    assert "(pid 77)" not in logged(engine, "(pid 78)")
