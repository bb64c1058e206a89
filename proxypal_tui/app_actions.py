"""What screens and the command palette may ask of the app, named without importing the app.

`proxypal_tui.app` imports every screen; a screen importing the app back would make a cycle.
Screens read state from the `Session` they are given and ask for work through this protocol.
"""

from __future__ import annotations

from typing import Protocol

from proxypal_tui.core.login import LoginRequest


class AppActions(Protocol):
    """The app's background work and actions that screens and palette commands start."""

    tools_enabled: bool
    theme: str

    @property
    def theme_names(self) -> list[str]: ...

    def save_config(self, text: str) -> object: ...

    def clear_cooldowns(self, provider: str | None = None, credential: str | None = None) -> object: ...

    def run_logout(self, request: LoginRequest) -> object: ...

    def load_auth_status(self) -> object: ...

    def use_session_passphrase(self, passphrase: str) -> str: ...

    def apply_session_passphrase(self) -> None: ...

    def action_start_engine(self) -> None: ...

    def action_stop_engine(self) -> None: ...

    def action_restart_engine(self) -> None: ...

    def action_show(self, mode: str) -> None: ...

    def action_clear_feed(self) -> None: ...

    def action_copy_endpoint(self) -> None: ...

    async def action_detach(self) -> None: ...
