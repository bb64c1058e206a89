"""A scripted stand-in for the engine: the event protocol on a real Unix socket, the management API
over real HTTP (aiohttp on 127.0.0.1), and a config watcher that answers with `config.reloaded`.

It runs in its own thread and event loop so synchronous snapshot tests (which run the app in
another loop) can use it too. Scripts are plain data: the hello snapshot, usage rows, auth status.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from proxy_engine.config import ConfigError, parse_config_text
from proxy_engine.paths import Paths
from proxy_engine.protocol import encode_event
from proxy_engine.recorder.match import first_match


@dataclass
class Script:
    recent: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    day_rows: list[dict[str, Any]] = field(default_factory=list)
    hour_rows: list[dict[str, Any]] = field(default_factory=list)
    history_rows: list[dict[str, Any]] = field(default_factory=list)  # /v0/history, for any by/group
    member_rows: list[dict[str, Any]] = field(default_factory=list)  # /v0/usage?group=member's `members`
    providers: list[dict[str, Any]] = field(default_factory=list)
    quota: list[dict[str, Any]] = field(default_factory=list)  # /v0/quota credentials, each with windows
    store: dict[str, Any] = field(default_factory=lambda: {"backend": "test store", "notice": None, "error": None})
    uptime_s: float = 754.0
    pid: int | None = None
    version: str = "0.1.0"
    ts: float = 0.0
    listen: str | None = None  # what hello/status report; defaults to the real address
    captures: dict[str, dict[str, Any]] = field(default_factory=dict)  # request id -> GET .../capture
    replay: dict[str, Any] | None = None  # the answer of POST /v0/requests/{id}/replay


class ScriptedEngine:
    def __init__(self, paths: Paths, port: int, script: Script, key: str = "mgmt-test-key") -> None:
        self.paths = paths
        self.port = port
        self.script = script
        self.key = key
        self.socket_path = paths.events_socket(port)
        self.requests: list[tuple[str, str]] = []
        self.subscribers: list[asyncio.StreamWriter] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self._watch: asyncio.Task[None] | None = None

    @property
    def listen(self) -> str:
        return self.script.listen or f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.paths.ensure()
        key_file = self.paths.management_key_file
        key_file.write_text(self.key)
        os.chmod(key_file, 0o600)
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/v0/status", self._status)
        app.router.add_get("/v0/auth/status", self._auth_status)
        app.router.add_get("/v0/quota", self._quota)
        app.router.add_post("/v0/auth/cooldowns/clear", self._clear_cooldowns)
        app.router.add_post("/v0/auth/reload", self._reload_auth)
        app.router.add_get("/v0/usage", self._usage)
        app.router.add_get("/v0/requests", self._recent)
        app.router.add_get("/v0/history", self._history)
        app.router.add_get("/v0/sessions", self._sessions)
        app.router.add_get("/v0/config", self._get_config)
        app.router.add_post("/v0/config/reload", self._reload)
        app.router.add_get("/v0/requests/{id}/capture", self._capture)
        app.router.add_get("/v0/captures", self._search_captures)
        app.router.add_get("/v0/requests/{id}/fixture", self._capture)
        app.router.add_post("/v0/requests/{id}/replay", self._replay)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        if self.port == 0:
            self.port = self._runner.addresses[0][1]
            self.socket_path = self.paths.events_socket(self.port)
        self.socket_path.unlink(missing_ok=True)
        self._server = await asyncio.start_unix_server(self._subscriber, path=str(self.socket_path))
        os.chmod(self.socket_path, 0o600)
        self._watch = asyncio.ensure_future(self._watch_config())

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        for w in list(self.subscribers):
            w.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._runner is not None:
            await self._runner.cleanup()
        self.socket_path.unlink(missing_ok=True)

    # ---- events -------------------------------------------------------------------------------

    def hello(self) -> bytes:
        s = self.script
        fields = {
            "version": s.version,
            "pid": s.pid,
            "listen": self.listen,
            "config_path": str(self.paths.config_file),
            "events_socket": str(self.socket_path),
            "snapshot": {"recent": s.recent, "stats": s.stats},
        }
        return encode_event("hello", fields, ts=s.ts or None)

    async def _subscriber(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(self.hello())
        await writer.drain()
        self.subscribers.append(writer)
        try:
            await reader.read()  # subscribers never send; EOF means they left
        finally:
            if writer in self.subscribers:
                self.subscribers.remove(writer)
            writer.close()

    async def broadcast(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        data = b"".join(encode_event(t, f, ts=f.pop("ts", None) or self.script.ts or None) for t, f in events)
        for w in list(self.subscribers):
            w.write(data)
            await w.drain()

    async def _watch_config(self) -> None:
        path = self.paths.config_file
        last = path.stat().st_mtime_ns if path.exists() else 0
        while True:
            await asyncio.sleep(0.05)
            now = path.stat().st_mtime_ns if path.exists() else 0
            if now != last:
                last = now
                ok, errors = self._validate()
                await self.broadcast([("config.reloaded", {"ok": ok, "errors": errors, "path": str(path)})])

    def _validate(self) -> tuple[bool, list[dict[str, Any]]]:
        path = self.paths.config_file
        try:
            parse_config_text(path.read_text(), str(path))
        except ConfigError as e:
            return False, [i.as_dict() for i in e.issues]
        return True, []

    # ---- management API -----------------------------------------------------------------------

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path_qs))
        if request.path != "/healthz":
            given = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if not hmac.compare_digest(given.encode(), self.key.encode()):
                return web.json_response({"error": {"message": "bad management key"}}, status=401)
        return await handler(request)

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "version": self.script.version})

    async def _status(self, request: web.Request) -> web.Response:
        host, _, port = self.listen.rpartition(":")
        return web.json_response(
            {
                "version": self.script.version,
                "pid": self.script.pid,
                "listen": self.listen,
                "host": host,
                "port": int(port),
                "config_path": str(self.paths.config_file),
                "events_socket": str(self.socket_path),
                "started_at": self.script.ts - self.script.uptime_s,
                "uptime_s": self.script.uptime_s,
                "config_ok": True,
                "config_errors": [],
                "stats": self.script.stats,
            }
        )

    async def _quota(self, request: web.Request) -> web.Response:
        return web.json_response({"now": self.script.ts, "credentials": self.script.quota})

    async def _auth_status(self, request: web.Request) -> web.Response:
        return web.json_response({"store": self.script.store, "providers": self.script.providers})

    async def _clear_cooldowns(self, request: web.Request) -> web.Response:
        """Like the engine: clear what matches, then one auth.changed per credential touched."""
        body = await request.json() if request.can_read_body else {}
        self.requests.append(("clear", str(sorted(body.items()))))
        cleared, touched = 0, []
        for p in self.script.providers:
            for c in p.get("credentials") or []:
                if body.get("provider") not in (None, p["name"]) or body.get("credential") not in (None, c["id"]):
                    continue
                if c.get("cooldowns"):
                    cleared += len(c["cooldowns"])
                    c["cooldowns"] = []
                    c["state"] = "valid" if c.get("state") == "cooling" else c.get("state")
                    touched.append((p["name"], c["id"]))
        await self.broadcast(
            [("auth.changed", {"provider": p, "credential": c, "state": "valid", "message": "cooldowns cleared"})
             for p, c in touched]
        )  # fmt: skip
        return web.json_response({"cleared": cleared})

    async def _reload_auth(self, request: web.Request) -> web.Response:
        self.requests.append(("reload", ""))
        return web.json_response({"ok": True, "logins": 0})

    async def _usage(self, request: web.Request) -> web.Response:
        group = request.query.get("group", "day")
        rows = {"day": self.script.day_rows, "hour": self.script.hour_rows}.get(group, [])
        extra = {"members": self.script.member_rows} if group == "member" else {}
        return web.json_response({"group": group, "rows": rows, **extra})

    async def _history(self, request: web.Request) -> web.Response:
        """The scripted rows, labelled with the group asked for (the real engine computes them from its ledger).

        With `from` (the dashboard's per-minute charts and today's split) the rows are computed from the
        scripted recent requests, as the engine computes them from its ledger.
        """
        group = request.query.get("group", "provider")
        by = request.query.get("by", "day")
        if "from" in request.query:
            rows = _aggregate(self.script.recent, by, group, float(request.query["from"]))
            return web.json_response({"by": by, "group": group or None, "rows": rows})
        rows = [
            {group: r.get("name", "-"), **{k: v for k, v in r.items() if k != "name"}} for r in self.script.history_rows
        ]
        return web.json_response({"by": by, "group": group, "rows": rows})

    async def _recent(self, request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", "100"))
        rows = list(reversed(self.script.recent))
        if "session" in request.query:
            rows = [r for r in rows if r.get("session") == request.query["session"]]
        return web.json_response({"requests": rows[:limit]})

    async def _sessions(self, request: web.Request) -> web.Response:
        """The scripted records summed per session, latest first (the real engine asks its ledger)."""
        out: dict[str, dict[str, Any]] = {}
        for r in sorted(self.script.recent, key=lambda r: r["ts_start"]):
            if not r.get("session"):
                continue
            s = out.setdefault(r["session"], {"session": r["session"], "requests": 0, "errors": 0, "input_tokens": 0,
                                              "output_tokens": 0, "cost_usd": 0.0, "models": [],
                                              "first_seen": r["ts_start"]})  # fmt: skip
            s["requests"] += 1
            s["errors"] += r["status"] >= 400
            s["input_tokens"] += r["input_tokens"]
            s["output_tokens"] += r["output_tokens"]
            s["cost_usd"] += r["cost_usd"] or 0.0
            s["models"] += [] if r["model"] in s["models"] else [r["model"]]
            s.update(last_seen=r["ts_start"], agent=r.get("agent"), client=r["client"])
        rows = sorted(out.values(), key=lambda s: -s["last_seen"])
        return web.json_response({"sessions": rows})

    async def _capture(self, request: web.Request) -> web.Response:
        doc = self.script.captures.get(request.match_info["id"])
        if doc is None:
            return web.json_response({"error": "no capture for this request"}, status=404)
        return web.json_response(doc)

    async def _search_captures(self, request: web.Request) -> web.Response:
        """As the engine: the scripted captures holding `q`, each with where (the engine's own matcher)."""
        q = request.query.get("q", "")
        rows = []
        for rid, doc in self.script.captures.items():
            found = first_match(doc["stages"], q)
            if found is not None:
                rows.append({"id": rid, "ts": doc.get("ts", 0.0), **(doc.get("meta") or {}), "match": found})
        return web.json_response({"captures": rows})

    async def _replay(self, request: web.Request) -> web.Response:
        self.requests.append(("replay", await request.text()))
        if self.script.replay is None or request.match_info["id"] not in self.script.captures:
            return web.json_response({"error": "no capture for this request"}, status=404)
        return web.json_response(self.script.replay)

    async def _get_config(self, request: web.Request) -> web.Response:
        ok, errors = self._validate()
        text = self.paths.config_file.read_text()
        return web.json_response({"path": str(self.paths.config_file), "text": text, "ok": ok, "errors": errors})

    async def _reload(self, request: web.Request) -> web.Response:
        ok, errors = self._validate()
        return web.json_response({"ok": ok, "errors": errors}, status=200 if ok else 422)


class StandinThread:
    """Runs a ScriptedEngine in a background thread; `send` is safe from any thread or loop."""

    def __init__(self, engine: ScriptedEngine) -> None:
        self.engine = engine
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="scripted-engine", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.engine.start())
        except BaseException as exc:  # re-raised in the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.engine.close())
        self._loop.close()

    def start(self) -> ScriptedEngine:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("scripted engine did not start")
        if self._error is not None:
            raise RuntimeError("scripted engine failed to start") from self._error
        return self.engine

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def send(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        asyncio.run_coroutine_threadsafe(self.engine.broadcast(events), self._loop).result(10)

    def subscribers(self) -> int:
        return len(self.engine.subscribers)


def _aggregate(records: list[dict[str, Any]], by: str, group: str, since: float) -> list[dict[str, Any]]:
    """`/v0/history` rows (requests, tokens, cost) from request records, per minute (epoch) or day."""
    out: dict[tuple[Any, str], dict[str, Any]] = {}
    for r in records:
        ts = float(r.get("ts_start") or 0)
        if ts < since:
            continue
        period: Any = int(ts // 60 * 60) if by == "minute" else time.strftime("%Y-%m-%d", time.localtime(ts))
        name = {"provider": r.get("provider"), "model": r.get("model") or r.get("model_requested")}.get(group, "")
        empty = {"period": period, "requests": 0, "errors": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}
        row = out.setdefault((period, name or "-"), empty)
        if group:
            row[group] = name or "-"
        row["requests"] += 1
        row["errors"] += int((r.get("status") or 0) >= 400)
        row["input_tokens"] += int(r.get("input_tokens") or 0)
        row["output_tokens"] += int(r.get("output_tokens") or 0)
        row["cost_usd"] += float(r.get("cost_usd") or 0.0)
    return list(out.values())
