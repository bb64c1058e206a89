"""`serve --workers 2` with real processes: one port, one ledger, one events socket, shared cooldowns and budgets."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import psutil
import pytest

from tests.engine_harness import EngineProcess, free_port
from tests.fakes import FakeOpenAI, FakeServerThread
from tests.fakes.script import Usage

# 100 + 100 tokens at $1000 per million tokens: $0.20 per request.
PRICES = "prices: {gpt-4o-mini: {input_per_mtok: 1000, output_per_mtok: 1000}}\n"
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def _is_worker(proc: psutil.Process) -> bool:
    """A live worker process; a dead one not yet reaped (a zombie) has no command line to read."""
    try:
        return proc.status() != psutil.STATUS_ZOMBIE and "--worker-index" in proc.cmdline()
    except psutil.Error:
        return False


class WorkersEngine(EngineProcess):
    """The engine started as `serve --workers 2`; `proc` is the supervisor."""

    def start(self) -> WorkersEngine:
        cmd = [sys.executable, "-m", "proxy_engine", "serve", "--workers", "2"]
        # A session of its own, as a terminal gives a foreground job: `killpg` is then Ctrl+C.
        self.proc = subprocess.Popen(cmd, env=self.env, stderr=subprocess.PIPE, start_new_session=True)
        assert self.proc.stderr is not None
        threading.Thread(target=self._drain, args=(self.proc.stderr,), daemon=True).start()
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"engine exited: {''.join(self.stderr_lines)}")
            # Up when the supervisor says so (every worker's hello is in), not when one worker answers:
            # a worker killed before the supervisor counted it is a failed start, and stops the engine.
            if len(self.workers()) == 2 and any("workers, supervisor pid" in line for line in self.stderr_lines):
                try:
                    if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
            time.sleep(0.05)
        raise RuntimeError("engine did not become healthy")

    def workers(self) -> list[psutil.Process]:
        assert self.proc is not None
        try:
            children = psutil.Process(self.proc.pid).children()
        except psutil.Error:
            return []
        return [c for c in children if _is_worker(c)]

    def chat(self, headers: dict[str, str] | None = None, model: str = "gpt-4o-mini") -> httpx.Response:
        """One request on a new connection, so the kernel may hand it to either worker."""
        with httpx.Client(timeout=10) as c:
            return c.post(self.url + "/v1/chat/completions", json={**BODY, "model": model}, headers=headers or {})

    def chat_on(self, worker: str, headers: dict[str, str] | None = None, model: str = "gpt-4o-mini") -> httpx.Response:
        """A request answered by the given worker (new connections until that worker takes one)."""
        refused = 0
        for _ in range(200):
            try:
                r = self.chat(headers, model)
            except httpx.ConnectError:
                # A connection the kernel queued on a worker that was just killed is reset with it.
                refused += 1
                assert refused <= 20, "connections keep being refused:\n" + "".join(list(self.stderr_lines)[-40:])
                time.sleep(0.1)
                continue
            if r.headers["X-ProxyPal-Worker"] == worker:
                return r
        raise AssertionError(f"worker {worker} answered none of 200 connections")

    def ledger_rows(self) -> list[tuple[str, str]]:
        with sqlite3.connect(self.home / "data" / "usage.db") as conn:
            return conn.execute("SELECT id, client FROM requests").fetchall()


@pytest.fixture(scope="module")
def fake():
    with FakeServerThread(FakeOpenAI()) as fo:
        yield fo


@pytest.fixture(autouse=True)
def _reset(fake):
    fake.reset()


def _config(port: int, fo, extra: str = "") -> str:
    return f'port: {port}\nproviders:\n  openai: {{base_url: "{fo.base_url}", api_key: env:OK}}\n{PRICES}{extra}'


def _gone(pids: list[int], timeout: float = 20) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids):
            return True
        time.sleep(0.1)
    return False


def test_two_workers_serve_one_port_one_ledger_one_event_socket(fake):
    port = free_port()
    eng = WorkersEngine(_config(port, fake), port).start()
    try:
        workers = eng.workers()
        assert len({w.pid for w in workers}) == 2 and eng.proc.pid not in {w.pid for w in workers}
        status = eng.api("GET", "/v0/status").json()
        assert [w["pid"] for w in status["workers"]] == sorted(w.pid for w in workers) or \
            {w["pid"] for w in status["workers"]} == {w.pid for w in workers}  # fmt: skip
        sub = eng.subscribe()
        hello = sub.wait_for("hello")
        assert hello["pid"] == eng.proc.pid, "subscribers get the supervisor's hello"
        ids: dict[str, set[str]] = {"0": set(), "1": set()}
        for _ in range(40):
            r = eng.chat()
            assert r.status_code == 200
            ids[r.headers["X-ProxyPal-Worker"]].add(r.headers["X-ProxyPal-Request-Id"])
        if not ids["0"] or not ids["1"]:
            ids[eng.chat_on("1" if ids["0"] else "0").headers["X-ProxyPal-Worker"]].add("")
        all_ids = {i for s in ids.values() for i in s if i}
        for i in all_ids:
            sub.wait_for("request.finished", lambda e, i=i: e["id"] == i)
        seen = {e["id"] for e in sub.events if e["type"] == "request.finished"}
        assert ids["0"] & seen and ids["1"] & seen, "the subscriber sees events of both workers"
        stats = sub.wait_for("stats", lambda e: e["requests"] >= len(all_ids))
        assert stats["requests"] == len(seen), "one stats stream for the whole engine"
        sub.close()
        pids = [w.pid for w in workers]
        assert eng.stop() == 0
        assert _gone(pids), "SIGTERM to the supervisor stops every worker"
        rows = eng.ledger_rows()
        assert len(rows) == len({r[0] for r in rows}) == len(fake.requests), "exactly one ledger row per request"
        assert all_ids <= {r[0] for r in rows}
    finally:
        if eng.proc.poll() is None:
            eng.stop()


def test_kill_9_of_the_supervisor_makes_the_workers_exit_and_keep_their_rows(fake):
    port = free_port()
    eng = WorkersEngine(_config(port, fake), port).start()
    pids = [w.pid for w in eng.workers()]
    done = {eng.chat_on(w).headers["X-ProxyPal-Request-Id"] for w in ("0", "1")}
    os.kill(eng.proc.pid, signal.SIGKILL)
    eng.proc.wait(5)
    assert _gone(pids), "workers exit when their supervisor is killed"
    assert done <= {r[0] for r in eng.ledger_rows()}


def test_a_cooldown_caused_through_one_worker_is_honoured_by_the_other(fake):
    port = free_port()
    with WorkersEngine(_config(port, fake), port) as eng:
        fake.script(status=429, retry_after=60)
        first = eng.chat_on("0")
        assert first.status_code == 429
        sent = len(fake.requests)
        time.sleep(1.0)  # the promise: honoured by every worker within a second
        other = eng.chat_on("1")
        assert other.status_code == 429 and other.headers.get("Retry-After")
        assert len(fake.requests) == sent, "worker 1 did not send a request for the cooling credential"
        assert eng.chat_on("0").status_code == 429
        assert len(fake.requests) == sent


def test_a_client_budget_holds_across_workers(fake):
    port = free_port()
    clients = "clients:\n  - {name: intern, key: env:INTERN_KEY, monthly_budget_usd: 0.5}\n"
    eng = WorkersEngine(_config(port, fake, clients), port, env={"INTERN_KEY": "sk-intern"})
    auth = {"Authorization": "Bearer sk-intern"}
    with eng:
        answered: list[tuple[str, int]] = []
        # Sequential requests, so none is in flight when the next starts: not one may overspend.
        for _ in range(20):
            fake.script(usage=Usage(input_tokens=100, output_tokens=100))
            r = eng.chat(auth)
            answered.append((r.headers["X-ProxyPal-Worker"], r.status_code))
        assert [s for _, s in answered].count(200) == 3, f"$0.20 each against $0.50: three are served: {answered}"
        assert {w for w, s in answered if s == 429} == {"0", "1"}, "both workers refuse the spent budget"
        assert len(fake.requests) == 3
        spent = eng.api("GET", "/v0/status").json()["budgets"][0]["spent"]
        assert spent == pytest.approx(0.6)


def test_config_put_through_one_worker_reaches_both(fake):
    port = free_port()
    with WorkersEngine(_config(port, fake), port) as eng:
        assert eng.chat_on("0", model="Quick").status_code == 404
        text = _config(port, fake, "models:\n  Quick: {openai: gpt-4o-mini}\n")
        assert eng.api("PUT", "/v0/config", content=text).json()["ok"] is True
        deadline = time.time() + 30  # the other worker's file watcher picks the new file up (slow on a loaded machine)
        while {eng.chat_on(w, model="Quick").status_code for w in ("0", "1")} != {200}:
            assert time.time() < deadline, "the new alias did not reach both workers"
            time.sleep(0.1)
        status = [eng.api("GET", "/v0/status").json() for _ in range(6)]
        assert all(len(s["workers"]) == 2 and s["config_ok"] for s in status)
        assert {s["supervisor_pid"] for s in status} == {eng.proc.pid}


def test_a_worker_that_dies_is_replaced_and_its_rows_are_replayed(fake):
    port = free_port()
    with WorkersEngine(_config(port, fake), port) as eng:
        before = {w.pid for w in eng.workers()}
        done = eng.chat_on("1").headers["X-ProxyPal-Request-Id"]
        victim = next(w for w in eng.workers() if w.cmdline()[w.cmdline().index("--worker-index") + 1] == "1")
        victim.kill()
        deadline = time.time() + 45  # backoff, then a fresh process start: slow on a loaded 2-core machine
        while not (len(eng.workers()) == 2 and {w.pid for w in eng.workers()} != before):
            assert time.time() < deadline, "the dead worker was not replaced:\n" + "".join(list(eng.stderr_lines)[-40:])
            time.sleep(0.1)
        assert victim.pid not in {w.pid for w in eng.workers()}
        assert eng.chat_on("1").status_code == 200, "the new worker 1 serves"
        assert eng.stop() == 0
    assert done in {r[0] for r in eng.ledger_rows()}, "a killed worker's row is in the ledger (committed or replayed)"


def test_ctrl_c_to_the_process_group_stops_every_worker_cleanly(fake):
    port = free_port()
    eng = WorkersEngine(_config(port, fake), port).start()
    pids = [w.pid for w in eng.workers()]
    done = {eng.chat_on(w).headers["X-ProxyPal-Request-Id"] for w in ("0", "1")}
    os.killpg(eng.proc.pid, signal.SIGINT)  # what a terminal sends on Ctrl+C
    assert eng.proc.wait(30) == 0
    assert _gone(pids)
    assert done <= {r[0] for r in eng.ledger_rows()}
    assert not list((eng.home / "data" / "journal").iterdir()), "every worker shut down cleanly (no journal left)"
