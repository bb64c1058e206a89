"""The fuzz suite's engine, its Hypothesis profiles and its figures.

One engine serves the whole suite, with a provider of each dialect on fake upstreams that
validate what they receive, so every route is fuzzed same-dialect and translated.

Profiles (`HYPOTHESIS_PROFILE`): `ci` (default) is derandomized and sized so the suite takes
well under 60 s; `deep` runs many more random examples for a local hunt.
The figures (requests sent, proxy-made 5xx, non-dialect errors, rows lost) are printed in the
terminal summary, and written as JSON to `$FUZZ_FIGURES` when that is set.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

from tests.engine_harness import EngineProcess, fakes_config, free_port
from tests.fakes import FakeAnthropic, FakeGemini, FakeOpenAI, FakeServerThread
from tests.fakes.credential_echo import CredentialEcho
from tests.fuzz.wire import Tally, send

CLIENT_KEY = "fuzz-client-key-0123456789"
_SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]
# `ci` does not shrink: a failure is reported as found (the figures name it), and the time stays bounded.
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=150, suppress_health_check=_SLOW,
                          database=None, phases=(Phase.explicit, Phase.generate))  # fmt: skip
settings.register_profile("deep", deadline=None, max_examples=1000, suppress_health_check=_SLOW)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

TALLY = Tally()


@pytest.fixture(scope="session")
def tally() -> Tally:
    return TALLY


@pytest.fixture(scope="session")
def fuzz_engine() -> Iterator[EngineProcess]:
    with FakeServerThread(FakeOpenAI()) as fo, FakeServerThread(FakeAnthropic()) as fa, \
            FakeServerThread(FakeGemini()) as fg, FakeServerThread(CredentialEcho()) as amp:  # fmt: skip
        amp.status = 404
        port = free_port()
        extra = f"""max_body_mb: 1
clients:
  - {{name: fuzzer, key: env:FUZZ_CK}}
amp_upstream_url: "{amp.base_url}"
routing: {{retries: 1}}
"""
        with EngineProcess(fakes_config(port, fo, fa, fg, extra=extra), port, env={"FUZZ_CK": CLIENT_KEY}) as eng:
            yield eng


def ledger_keeps_up(eng: EngineProcess, tally: Tally, marker: str) -> bool:
    """After a batch: one good request, and its row must show up in the ledger."""
    headers = [(b"Authorization", b"Bearer " + CLIENT_KEY.encode()), (b"Content-Type", b"application/json"),
               (b"User-Agent", marker.encode() + b"/1")]  # fmt: skip
    body = json.dumps({"model": "Rush", "messages": [{"role": "user", "content": "ledger check"}]}).encode()
    reply = send(eng.port, b"POST", b"/v1/chat/completions", headers, body)
    tally.rows_checked += 1
    if reply.status != 200:
        tally.rows_lost += 1
        tally.note(f"the good request after the batch answered {reply.status}: {reply.body[:200]!r}")
        return False
    deadline = time.time() + 10
    while time.time() < deadline:
        if any(r.get("agent") == marker for r in eng.records(20)):
            return True
        time.sleep(0.1)
    tally.rows_lost += 1
    tally.note(f"no ledger row for the good request {marker}")
    return False


def healthz_answers(eng: EngineProcess) -> bool:
    return send(eng.port, b"GET", b"/healthz", []).status == 200


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TALLY.requests:
        return
    tr = terminalreporter
    tr.section("fuzz figures")
    tr.write_line(f"requests sent: {TALLY.requests}")
    tr.write_line(f"proxy-made 5xx: {TALLY.proxy_5xx}")
    tr.write_line(f"non-dialect errors: {TALLY.non_dialect_errors}")
    tr.write_line(f"rows lost: {TALLY.rows_lost} of {TALLY.rows_checked} checked")
    for problem in TALLY.failures:
        tr.write_line(f"  {problem}")
    if path := os.environ.get("FUZZ_FIGURES"):
        with open(path, "w") as f:
            json.dump(asdict(TALLY), f, indent=2)
