"""Logins as subprocesses: `proxypal-engine login PROVIDER … --json`, read one JSON object per line.

The TUI never imports the engine's auth flows; it runs the same CLI a user would, in its own
session (so it can never prompt on the TUI's terminal), and turns its lines into `LoginEvent`s.
A pasted redirect URL goes to the login's stdin; an API key too, then stdin is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import webbrowser
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STDERR_TAIL = 20
FINAL = frozenset({"done", "error"})


@dataclass(frozen=True)
class LoginChoice:
    provider: str  # the login name the CLI knows (claude, codex, gemini-cli, copilot, qwen, vertex)
    method: str  # browser | device | service_account
    title: str


# What `proxypal-engine login` offers, as the user picks it. The CLI stays the authority: an unknown
# combination comes back as an `error` line.
LOGIN_CHOICES: tuple[LoginChoice, ...] = (
    LoginChoice("claude", "browser", "Claude (Pro/Max) — browser"),
    LoginChoice("codex", "browser", "OpenAI Codex (ChatGPT) — browser"),
    LoginChoice("codex", "device", "OpenAI Codex (ChatGPT) — device code"),
    LoginChoice("gemini-cli", "browser", "Gemini CLI (Google) — browser"),
    LoginChoice("copilot", "device", "GitHub Copilot — device code"),
    LoginChoice("qwen", "device", "Qwen — device code"),
    LoginChoice("vertex", "service_account", "Vertex AI — service-account key file"),
)


@dataclass(frozen=True)
class LoginRequest:
    provider: str
    method: str = "browser"  # browser | paste | device | service_account | api_key | logout | logout_key
    name: str = ""  # keyring name of an API key (default: the provider)
    label: str = ""  # a login's credential id (logout) or a name for it (login)
    project: str = ""
    service_account: str = ""  # path of a service-account key file

    def argv(self, cli: list[str], config: Path | None) -> list[str]:
        """The command line; it never carries a secret (keys and pasted URLs go through stdin)."""
        base = [*cli, *(["--config", str(config)] if config else [])]
        if self.method == "logout":
            return [*base, "logout", self.provider, "--json", *(["--label", self.label] if self.label else [])]
        if self.method == "logout_key":
            return [*base, "logout", self.provider, "--json", "--api-key"]
        argv = [*base, "login", self.provider, "--json"]
        extra = {
            "api_key": ["--api-key-stdin", *(["--name", self.name] if self.name else [])],
            "paste": ["--no-browser"],
            "device": ["--device"] if self.provider == "codex" else [],
            "service_account": ["--service-account", self.service_account],
        }.get(self.method, [])
        argv += extra
        if self.label and self.method != "api_key":
            argv += ["--label", self.label]
        if self.project:
            argv += ["--project", self.project]
        return argv


def engine_cli() -> list[str]:
    """`proxypal-engine` run with this interpreter (venvs just work)."""
    return [sys.executable, "-m", "proxy_engine"]


@dataclass(frozen=True)
class LoginEvent:
    type: str
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> bool:
        return self.type in FINAL

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    @classmethod
    def parse(cls, line: str) -> LoginEvent | None:
        """A line of the CLI's output; None for anything that is not one of its JSON objects."""
        try:
            data = json.loads(line)
        except ValueError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            return None
        kind = data.pop("type")
        return cls(kind, data)


class LoginProcess:
    """One running `login`/`logout`. Events go to `on_event` in order; `wait()` returns the final one."""

    def __init__(self, proc: asyncio.subprocess.Process, on_event: Callable[[LoginEvent], None]) -> None:
        self.proc = proc
        self._on_event = on_event
        self._final: LoginEvent | None = None
        self._stderr: deque[str] = deque(maxlen=STDERR_TAIL)
        self._readers = [asyncio.ensure_future(self._read_stdout()), asyncio.ensure_future(self._read_stderr())]

    @classmethod
    async def start(
        cls, argv: list[str], env: dict[str, str] | None, on_event: Callable[[LoginEvent], None]
    ) -> LoginProcess:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,  # no controlling terminal: it can never prompt on ours
        )
        return cls(proc, on_event)

    async def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            event = LoginEvent.parse(raw.decode("utf-8", "replace"))
            if event is None:
                continue
            if event.final:
                self._final = event
            self._on_event(event)

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            self._stderr.append(raw.decode("utf-8", "replace").rstrip())

    async def send_line(self, text: str) -> None:
        """A line for the login (the pasted redirect URL)."""
        stdin = self.proc.stdin
        if stdin is None or stdin.is_closing():
            return
        stdin.write(text.strip().encode() + b"\n")
        with contextlib.suppress(ConnectionError):
            await stdin.drain()

    async def send_secret(self, secret: str) -> None:
        """The API key for `--api-key-stdin`: written once, then stdin is closed (end of the key)."""
        stdin = self.proc.stdin
        if stdin is None or stdin.is_closing():
            return
        stdin.write(secret.encode())
        with contextlib.suppress(ConnectionError):
            await stdin.drain()
        stdin.close()

    async def wait(self) -> LoginEvent:
        code = await self.proc.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)
        if self._final is not None:
            return self._final
        tail = [ln for ln in self._stderr if ln.strip()]
        why = tail[-1] if tail else f"the login exited with code {code}"
        event = LoginEvent("error", {"message": why, "exit_code": code})
        self._on_event(event)
        return event

    async def cancel(self) -> None:
        """Stop a login still running (the user closed the dialog)."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 3.0)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)


def over_ssh() -> bool:
    return bool(os.environ.get("SSH_CONNECTION") or os.environ.get("SSH_TTY") or os.environ.get("SSH_CLIENT"))


def can_open_browser() -> bool:
    """A graphical browser on this machine that will not take over the terminal (never over SSH)."""
    if over_ssh():
        return False
    if sys.platform == "darwin" or os.name == "nt":
        return True
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False  # webbrowser would fall back to a text browser in this very terminal
    try:
        controller = webbrowser.get()
    except webbrowser.Error:
        return False
    return type(controller) is not webbrowser.GenericBrowser  # that one runs in the foreground


def open_in_browser(url: str) -> bool:
    """Blocking (it may spawn a program): call it from a thread."""
    try:
        return bool(webbrowser.open(url))
    except webbrowser.Error:
        return False
