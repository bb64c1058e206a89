"""A LoginUI driven by the test: it plays the user who opens URLs, pastes redirects and types codes."""

from __future__ import annotations

import asyncio

from tests.logins.helpers import fetch_authorize
from tests.logins.oauth_server import FakeIdP


class ScriptedUI:
    def __init__(self, idp: FakeIdP, *, paste: bool = False, paste_text: str | None = None, device: str = "allow"):
        self.idp = idp
        self.paste = paste  # the user copies the redirect URL from the browser and pastes it
        self.paste_text = paste_text  # paste exactly this instead
        self.device = device  # "allow" | "deny" | "ignore"
        self.urls: list[str] = []
        self.device_codes: list[tuple[str, str]] = []
        self.messages: list[str] = []
        self._pasted: asyncio.Queue[str | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []

    def show_authorize_url(self, url: str, *, browser_opened: bool, listening: bool) -> None:
        self.urls.append(url)
        self.messages.append(f"authorize browser_opened={browser_opened} listening={listening}")
        if self.paste_text is not None:
            self._pasted.put_nowait(self.paste_text)
        elif self.paste:
            self._tasks.append(asyncio.ensure_future(self._copy_from_browser(url)))
        else:
            self._pasted.put_nowait(None)  # nothing to paste (like EOF on stdin)

    async def _copy_from_browser(self, url: str) -> None:
        await self._pasted.put(await fetch_authorize(url))

    def show_device_code(self, verification_uri: str, user_code: str, complete_uri: str | None) -> None:
        self.device_codes.append((verification_uri, user_code))
        if self.device != "ignore":
            self.idp.approve_device(user_code, allow=self.device == "allow")

    async def read_redirect(self) -> str | None:
        return await self._pasted.get()

    def status(self, message: str) -> None:
        self.messages.append(message)
