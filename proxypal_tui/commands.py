"""Command palette entries the app offers on every screen (screens add their own)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from textual.app import SystemCommand

from proxypal_tui.app_actions import AppActions
from proxypal_tui.core.session import Session

SCREENS = (
    ("dashboard", "Dashboard", "KPIs, charts and budgets"),
    ("requests", "Requests", "Live request feed"),
    ("providers", "Providers", "Credentials and API keys"),
    ("tools", "Tools", "Point coding tools at the proxy"),
    ("config", "Config", "Edit the config file"),
    ("logs", "Logs", "Engine logs"),
    ("history", "History", "Usage per day, week or month, from the ledger"),
)


def app_commands(app: AppActions, session: Session) -> Iterable[SystemCommand]:
    status = session.engine_status
    if status.owned or not status.running:
        yield SystemCommand("Start engine", "Start the engine (after a stop or a give-up)", app.action_start_engine)
        yield SystemCommand("Stop engine", "Stop the engine this TUI started", app.action_stop_engine)
        yield SystemCommand("Restart engine", "Stop and start the engine again", app.action_restart_engine)
    else:  # attached: the engine runs elsewhere (or was detached from); stop it through its management API
        yield SystemCommand("Stop engine", "Stop the attached engine gracefully", app.action_stop_engine)
        yield SystemCommand(
            "Restart engine", "Stop it; this TUI starts (and owns) a new one", app.action_restart_engine
        )
    for mode, title, help_text in SCREENS:
        if mode != "tools" or app.tools_enabled:
            yield SystemCommand(f"Screen: {title}", help_text, partial(app.action_show, mode))
    for name in app.theme_names:
        yield SystemCommand(f"Theme: {name}", "Switch the colour theme", partial(setattr, app, "theme", name))
    yield SystemCommand("Doctor", "Check everything the proxy needs; each failure with its fix", app.action_doctor)
    yield SystemCommand("Clear feed", "Forget the requests shown so far", app.action_clear_feed)
    yield SystemCommand(
        "Copy endpoint", f"Copy http://{session.endpoint_listen()} to the clipboard", app.action_copy_endpoint
    )
    yield SystemCommand("Detach", "Quit and leave the engine running", app.action_detach)
