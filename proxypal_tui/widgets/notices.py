"""Panels that explain a situation: the engine is not ready, or this is the first run."""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from textual.widgets import Static

from proxypal_tui.core.engine_state import EngineState, EngineStatus

_TITLES = {
    EngineState.LOCATING: "Looking for the engine",
    EngineState.STARTING: "Starting the engine",
    EngineState.DISCONNECTED: "Engine connection lost",
    EngineState.CRASHED: "The engine crashed",
    EngineState.RESTARTING: "The engine crashed — restarting",
    EngineState.FAILED: "The engine keeps crashing — gave up",
    EngineState.BLOCKED: "The port is taken",
    EngineState.STOPPING: "Stopping the engine",
    EngineState.STOPPED: "The engine is stopped",
}
_HINTS = {
    EngineState.FAILED: "Fix the cause (log lines above, or the Config screen), then ctrl+p → Start engine.",
    EngineState.BLOCKED: "Change `port:` in the Config screen, or stop that program yourself.",
    EngineState.STOPPED: "ctrl+p → Start engine.",
}


class EngineNotice(Static):
    """Shown above a screen's content whenever the engine is not ready."""

    COMPONENT_CLASSES = {"dim"}

    def show(self, status: EngineStatus) -> None:
        ready = status.state is EngineState.READY
        self.display = not ready
        if ready:
            return
        self.set_class(status.state in (EngineState.CRASHED, EngineState.FAILED, EngineState.BLOCKED), "bad")
        self.border_title = _TITLES.get(status.state, status.state.value)
        text = Text(status.message or status.state.value)
        if status.log_tail:
            text.append("\n")
            text.append("\n".join(status.log_tail[-8:]), style=self.get_component_rich_style("dim"))
        hint = _HINTS.get(status.state)
        if hint:
            text.append("\n" + hint)
        self.update(text)


ONBOARDING = """\
[b]Welcome to ProxyPal.[/b] Your config: [b]{path}[/b]

[b]1. Connect a provider:[/b] press [b]p[/b], then [b]a[/b] to add an API key or [b]o[/b] to log in.
[b]2. Point a tool here:[/b]  press [b]t[/b], or run proxypal-tui tools apply NAME
[b]3. Watch it work:[/b]      requests show up here and under [b]r[/b].

Proxy: [b]http://{listen}[/b]    Client keys: [b]{client_keys}[/b]
Help: [b]?[/b]    Everything: [b]ctrl+p[/b]"""


class OnboardingPanel(Static):
    def show(self, path: str, listen: str, client_keys: str) -> None:
        self.update(ONBOARDING.format(path=escape(path), listen=escape(listen), client_keys=escape(client_keys)))
