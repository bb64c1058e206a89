"""Client for the engine's management API (`/healthz`, `/v0/*`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp


class ApiError(Exception):
    """The engine answered with an error, or could not be reached."""

    def __init__(self, message: str, status: int | None = None, payload: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.payload = payload


def read_management_key(path: Path) -> str | None:
    """The key the engine created on first run; None until it exists."""
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def connect_host(host: str) -> str:
    """Where to connect for a listen host: wildcard binds are reached via loopback."""
    if host in ("0.0.0.0", "", "*"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def base_url(host: str, port: int) -> str:
    h = connect_host(host)
    return f"http://[{h}]:{port}" if ":" in h else f"http://{h}:{port}"


class ManagementClient:
    """Thin async wrapper; one `aiohttp.ClientSession` for the client's lifetime."""

    def __init__(self, base: str, key_file: Path | None = None, timeout: float = 5.0) -> None:
        self.base = base.rstrip("/")
        self.key_file = key_file
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _headers(self) -> dict[str, str]:
        key = read_management_key(self.key_file) if self.key_file else None
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _ensure(self) -> aiohttp.ClientSession:
        if self._closed:  # a call still in flight when its owner closed us must not open a new session
            raise ApiError(f"the client for {self.base} is closed")
        if self._session is None or self._session.closed:
            # The engine is local: never route its calls (and the management key) through HTTP(S)_PROXY.
            self._session = aiohttp.ClientSession(timeout=self._timeout, trust_env=False)
        return self._session

    async def close(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        data: str | None = None,
        json: dict[str, Any] | None = None,
        ok: tuple[int, ...] = (200,),
        limit: float | None = None,
    ) -> Any:
        """One call; `limit` overrides the client's timeout (short probes while locating)."""
        session = self._ensure()
        timeout = aiohttp.ClientTimeout(total=limit) if limit is not None else self._timeout
        headers = self._headers()
        if data is not None:
            headers["Content-Type"] = "application/yaml"
        try:
            async with session.request(
                method, self.base + path, data=data, json=json, headers=headers, timeout=timeout
            ) as resp:
                try:
                    payload = await resp.json(content_type=None)
                except (ValueError, aiohttp.ContentTypeError):
                    payload = None
                if resp.status not in ok:
                    raise ApiError(_error_text(payload, resp.status), resp.status, payload)
                return payload
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise ApiError(f"cannot reach the engine at {self.base}: {e.__class__.__name__}") from e

    async def healthz(self, limit: float | None = None) -> dict[str, Any]:
        return await self.request("GET", "/healthz", limit=limit)

    async def status(self, limit: float | None = None) -> dict[str, Any]:
        return await self.request("GET", "/v0/status", limit=limit)

    async def auth_status(self) -> dict[str, Any]:
        return await self.request("GET", "/v0/auth/status")

    async def quota(self) -> dict[str, Any]:
        return await self.request("GET", "/v0/quota")

    async def clear_cooldowns(
        self, provider: str | None = None, credential: str | None = None, model: str | None = None
    ) -> dict[str, Any]:
        """Clear cooldowns; no filter clears every one. Answers {cleared: n}."""
        wanted = {"provider": provider, "credential": credential, "model": model}
        body = {k: v for k, v in wanted.items() if v is not None}
        return await self.request("POST", "/v0/auth/cooldowns/clear", json=body)

    async def say_leaving(self, reason: str, pid: int, stopping: bool, limit: float = 1.0) -> dict[str, Any]:
        """Tell the engine why this TUI leaves unasked (it logs it); short, so leaving never waits long."""
        body = {"reason": reason, "pid": pid, "stopping": stopping}
        return await self.request("POST", "/v0/control/leaving", json=body, limit=limit)

    async def shutdown(self) -> dict[str, Any]:
        """Ask the engine to stop as on SIGTERM (for an engine this TUI attached to, not started)."""
        return await self.request("POST", "/v0/shutdown")

    async def usage(self, group: str, since: float | None = None) -> dict[str, Any]:
        query = f"?group={group}" + (f"&since={int(since)}" if since is not None else "")
        return await self.request("GET", "/v0/usage" + query)

    async def history(self, by: str, group: str, since: float | None = None) -> dict[str, Any]:
        """Usage per period and group over everything the ledger holds (or since an epoch)."""
        query = f"?by={by}&group={group}" + (f"&from={int(since)}" if since is not None else "")
        return await self.request("GET", "/v0/history" + query)

    async def recent_requests(self, limit: int = 200) -> dict[str, Any]:
        """The ledger's newest finished requests, to refill the feed after a restart or on attach."""
        return await self.request("GET", f"/v0/requests?limit={limit}")

    async def sessions(self, limit: int = 200) -> dict[str, Any]:
        """The ledger's agent sessions, latest first."""
        return await self.request("GET", f"/v0/sessions?limit={limit}")

    async def session_requests(self, session: str, limit: int = 500) -> dict[str, Any]:
        """One agent session's requests from the ledger, newest first."""
        return await self.request("GET", "/v0/requests?" + urlencode({"session": session, "limit": limit}))

    async def capture(self, request_id: str) -> dict[str, Any]:
        """A request's flight-recorder capture: its stages, bodies parsed as JSON or SSE events."""
        return await self.request("GET", f"/v0/requests/{request_id}/capture")

    async def search_captures(self, text: str, limit: int = 50) -> dict[str, Any]:
        """Stored captures holding `text`, newest first, each with where it matched (stage and excerpt)."""
        return await self.request("GET", "/v0/captures?" + urlencode({"q": text, "limit": limit}))

    async def capture_fixture(self, request_id: str) -> dict[str, Any]:
        """The capture as a redacted regression fixture, to write to a file."""
        return await self.request("GET", f"/v0/requests/{request_id}/fixture")

    async def replay(self, request_id: str, model: str | None, provider: str | None) -> dict[str, Any]:
        """Send the captured request again (optionally elsewhere); answers the new id and the diff."""
        body = {"model": model or None, "provider": provider or None}
        return await self.request("POST", f"/v0/requests/{request_id}/replay", json=body, limit=300)

    async def reload_config(self) -> dict[str, Any]:
        return await self.request("POST", "/v0/config/reload", ok=(200, 422))


def _error_text(payload: Any, status: int) -> str:
    if isinstance(payload, dict):
        err = payload.get("error")
        if isinstance(err, dict):
            return str(err.get("message") or err)
        if err:
            return str(err)
    return f"HTTP {status}"
