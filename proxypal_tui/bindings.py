"""The app's keys. Every binding has an id (for the user keymap in tui.yaml) and a tooltip."""

from __future__ import annotations

from textual.binding import Binding, BindingType


def _screen_binding(key: str, mode: str, title: str, tooltip: str) -> Binding:
    return Binding(key, f"show('{mode}')", title, id=f"screen.{mode}", tooltip=tooltip)


APP_BINDINGS: list[BindingType] = [
    _screen_binding("d", "dashboard", "Dash", "KPIs, charts, distribution and budgets."),
    _screen_binding("r", "requests", "Reqs", "The live request feed with filter and details."),
    _screen_binding("p", "providers", "Provs", "Credentials, cooldowns and logins; add API keys."),
    _screen_binding("t", "tools", "Tools", "Point coding tools at the proxy."),
    _screen_binding("c", "config", "Config", "Edit and validate the config file."),
    _screen_binding("l", "logs", "Logs", "Engine log lines, by level."),
    _screen_binding("h", "history", "Hist", "Requests, tokens, cost and latency per day, from the ledger."),
    Binding("question_mark", "help", "Help", id="app.help", tooltip="Every key on this screen."),
    Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit; stops the engine only if this TUI started it."),
    Binding(
        "ctrl+d",
        "detach",
        "Detach",
        show=False,
        id="app.detach",
        tooltip="Quit and leave the engine running.",
    ),
    Binding(
        "D",
        "doctor",
        "Doctor",
        show=False,
        id="app.doctor",
        tooltip="Check config, secrets, providers, cooldowns, port, tools and clock, each failure with its fix.",
    ),
    Binding(
        "ctrl+t",
        "next_theme",
        "Theme",
        show=False,
        id="app.next_theme",
        tooltip="Switch to the next theme.",
    ),
]
