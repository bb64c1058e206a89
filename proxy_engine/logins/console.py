"""Terminal side of a login: prints URLs and device codes, reads a pasted redirect URL.

`JsonLoginUI` is the same conversation for a program running `login --json` (the TUI): one JSON
object per line on stdout, the pasted redirect URL still read from stdin.

stdin is read on a daemon thread so the event loop keeps serving the callback listener
while the user may paste instead (handy over SSH when the browser runs on another machine).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from typing import TextIO


def has_terminal() -> bool:
    """True if a controlling terminal exists (getpass would prompt there, not on piped stdin)."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


class ConsoleLoginUI:
    def __init__(self, out: TextIO | None = None, inp: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.inp = inp or sys.stdin
        self._line: asyncio.Future[str | None] | None = None

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def show_authorize_url(self, url: str, *, browser_opened: bool, listening: bool) -> None:
        if browser_opened:
            self._print("Your browser was opened to log in. If it did not open, visit:")
        else:
            self._print("Open this URL in a browser (on any machine) and log in:")
        self._print(f"\n  {url}\n")
        if listening:
            self._print(
                "Waiting for the browser to return here. If it ends on an error page (say, over SSH),\n"
                "copy the full URL from its address bar and paste it here, then press Enter:"
            )
        else:
            self._print("After logging in, the browser goes to a localhost address that will not load. Copy that")
            self._print("full URL from the address bar (or the code the page shows), paste it here, press Enter:")

    def show_device_code(self, verification_uri: str, user_code: str, complete_uri: str | None) -> None:
        self._print(f"Open {verification_uri} and enter the code:\n\n  {user_code}\n")
        if complete_uri:
            self._print(f"(or open {complete_uri} directly)")
        self._print("Waiting for approval...")

    def status(self, message: str) -> None:
        self._print(message)

    async def read_redirect(self) -> str | None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[str | None] = loop.create_future()

        def deliver(value: str | None) -> None:
            if not fut.done():
                fut.set_result(value)

        def reader() -> None:
            try:
                line = self.inp.readline()
            except (OSError, ValueError):
                line = ""
            try:
                loop.call_soon_threadsafe(deliver, line if line else None)
            except RuntimeError:  # the loop finished first (login done via the listener)
                return

        threading.Thread(target=reader, name="proxypal-paste-reader", daemon=True).start()
        return await fut


def emit_json(out: TextIO, kind: str, **fields: object) -> None:
    """One line of the `--json` conversation: {"type": kind, ...fields}. Never given a secret."""
    print(json.dumps({"type": kind, **fields}, separators=(",", ":")), file=out, flush=True)


class JsonLoginUI(ConsoleLoginUI):
    """Lines a UI can parse: authorize_url, device_code, status (then the CLI adds store, done or error)."""

    def show_authorize_url(self, url: str, *, browser_opened: bool, listening: bool) -> None:
        emit_json(self.out, "authorize_url", url=url, listening=listening, browser_opened=browser_opened)

    def show_device_code(self, verification_uri: str, user_code: str, complete_uri: str | None) -> None:
        emit_json(
            self.out,
            "device_code",
            verification_uri=verification_uri,
            user_code=user_code,
            verification_uri_complete=complete_uri,
        )

    def status(self, message: str) -> None:
        emit_json(self.out, "status", message=message)
