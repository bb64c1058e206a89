"""The ProxyPal TUI app: screens, keys, and the glue between workers and the live stores.

Workers (engine supervision, management calls, theme watching) post typed Messages;
handlers here update the stores; screens redraw from the stores on one timer.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App, SystemCommand
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from proxy_engine.paths import make_private_dirs
from proxy_engine.protocol import BudgetAlert, ConfigReloaded, QuotaAlert, RequestFinished
from proxypal_tui.app_workers import BackgroundWork
from proxypal_tui.bindings import APP_BINDINGS
from proxypal_tui.commands import app_commands
from proxypal_tui.core.api import ApiError, ManagementClient
from proxypal_tui.core.doctor import doctor_command
from proxypal_tui.core.engine_state import EngineState, EngineStatus
from proxypal_tui.core.logbook import LogLine
from proxypal_tui.core.process import ProcessUsage, ProcessWatch
from proxypal_tui.core.quota import reset_clock as quota_reset_clock
from proxypal_tui.core.secret_store_unlock import with_passphrase
from proxypal_tui.core.session import ConfigOutcome, Session
from proxypal_tui.core.settings import save_theme
from proxypal_tui.core.state import LiveState
from proxypal_tui.core.supervisor import EngineSupervisor, SupervisorOptions
from proxypal_tui.hangup import Departure, ExitCode, TerminalGuard
from proxypal_tui.messages import (
    ApiFailed,
    AuthStatusLoaded,
    ConfigReloadResult,
    CooldownsCleared,
    EngineEvents,
    EngineStatusChanged,
    HistoryLoaded,
    LoginFinished,
    MembersLoaded,
    QuotaLoaded,
    RecentRequestsLoaded,
    SessionRequestsLoaded,
    SessionsLoaded,
    ThemesReloaded,
    UsageLoaded,
)
from proxypal_tui.options import AppOptions
from proxypal_tui.screens.base import ProxyPalScreen
from proxypal_tui.screens.capture_search import CaptureSearchScreen
from proxypal_tui.screens.config import ConfigScreen
from proxypal_tui.screens.dashboard import DashboardScreen
from proxypal_tui.screens.doctor import DoctorScreen
from proxypal_tui.screens.help import HelpScreen
from proxypal_tui.screens.history import HistoryScreen
from proxypal_tui.screens.logs import LogsScreen
from proxypal_tui.screens.members import MembersScreen
from proxypal_tui.screens.providers import ProvidersScreen
from proxypal_tui.screens.requests import RequestsScreen
from proxypal_tui.themes import DEFAULT_THEME, bundled_theme_dirs, load_themes, user_theme_dir

TOOLS_MODULE = "proxypal_tui.tools.screen"
EXIT_DEADLINE_MARGIN_S = 10.0  # after a hang-up or SIGTERM: the engine's stop grace, then this, then exit anyway


def tools_available() -> bool:
    try:
        return importlib.util.find_spec(TOOLS_MODULE) is not None
    except ImportError:
        return False


def _tools_screen_for(session: Session) -> Callable[[], Screen[Any]]:
    def make() -> Screen[Any]:
        from proxypal_tui.screens.tools import ToolsPage  # lazy: keeps start-up light

        return ToolsPage(session)

    return make


class ProxyPalApp(BackgroundWork, App[int]):
    TITLE = "ProxyPal"
    CSS_PATH = ["tcss/app.tcss", "tcss/dashboard.tcss", "tcss/screens.tcss", "tcss/history.tcss", "tcss/members.tcss"]
    PAGES: dict[str, type[ProxyPalScreen]] = {
        "dashboard": DashboardScreen,
        "requests": RequestsScreen,
        "providers": ProvidersScreen,
        "config": ConfigScreen,
        "logs": LogsScreen,
        "history": HistoryScreen,
        "members": MembersScreen,
    }  # added as modes, each page built with the session
    DEFAULT_MODE = "dashboard"
    BINDINGS = APP_BINDINGS

    def __init__(self, options: AppOptions) -> None:
        super().__init__()
        self.options = options
        self.config_path = options.config_path
        self.session = Session(options, lambda: self.supervisor.pump.dropped)
        self._watch = ProcessWatch()
        self._leaving = False
        self._passphrase_unapplied = False  # a session passphrase the running engine has not got yet
        self.detached_pid: int | None = None  # the engine left running by a detach, for the goodbye line
        self._reload_waiter: asyncio.Future[ConfigReloaded] | None = None
        self._signal_tasks: set[asyncio.Task[None]] = set()
        self.terminal_guard: TerminalGuard | None = None
        self.supervisor = EngineSupervisor(
            SupervisorOptions(
                config_path=options.config_path,
                paths=options.paths,
                attach_only=options.attach_only,
                exit_with_parent=not options.keep_engine,
                command=options.engine_command,
                env=options.engine_env,
                ready_timeout=options.settings.ready_timeout_s,
                stop_grace=options.settings.stop_grace_s,
                backoff=options.backoff,
                clock=options.clock,
            ),
            on_status=lambda status: self.post_message(EngineStatusChanged(status)),
            on_events=lambda events: self.post_message(EngineEvents(events)),
            on_output=self._engine_output,
        )
        for mode, page in self.PAGES.items():
            self.add_mode(mode, partial(page, self.session))
        self.tools_enabled = tools_available()
        if self.tools_enabled:
            self.add_mode("tools", _tools_screen_for(self.session))
        self._theme_names = self._register_themes()
        wanted = options.settings.theme
        self.theme = wanted if wanted in self.available_themes else DEFAULT_THEME
        self.set_keymap(options.settings.keymap)
        self.read_config_info()

    # ---- the session's state, as the app's handlers and the tests use it ----------------------------

    def now(self) -> float:
        return self.session.now()

    @property
    def live(self) -> LiveState:
        return self.session.live

    @property
    def engine_status(self) -> EngineStatus:
        return self.session.engine_status

    @engine_status.setter
    def engine_status(self, status: EngineStatus) -> None:
        self.session.engine_status = status

    @property
    def engine_usage(self) -> ProcessUsage | None:
        return self.session.engine_usage

    @property
    def feed_paused(self) -> bool:
        return self.session.feed_paused

    @property
    def config_outcome(self) -> ConfigOutcome | None:
        return self.session.config_outcome

    def read_config_info(self) -> None:
        """Budgets, providers and address from the config file (kept as they were if it is invalid)."""
        self.session.config.reload()

    # ---- lifecycle ------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.supervise()
        self.set_interval(self.options.redraw_interval, self.redraw_now, name="redraw")
        self.set_interval(1.0, self._sample_engine, name="engine-sample")
        self.set_interval(self.options.usage_interval, self._refresh_usage, name="usage")
        self.set_interval(self.options.redraw_interval, self._refresh_auth_if_stale, name="auth-stale")
        if self.options.watch_themes:
            make_private_dirs(user_theme_dir(self.config_path))
            self.watch_themes()
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        if not self.is_headless:  # a real terminal (tests drive a headless app: their signals are pytest's)
            deadline = self.options.settings.stop_grace_s + EXIT_DEADLINE_MARGIN_S
            self.terminal_guard = TerminalGuard(asyncio.get_running_loop(), self._on_departure, deadline)
            self.terminal_guard.install()

    async def on_unmount(self) -> None:
        """Whatever ended the app, an engine we started does not outlive it (unless kept or detached)."""
        if not self._leaving:
            self._leaving = True
            await self.supervisor.shutdown(stop_engine=not self.options.keep_engine)

    def _on_departure(self, departure: Departure) -> None:
        """SIGHUP, SIGTERM or a closed terminal: leave exactly as `q` does, with an exit code that says why."""
        task = asyncio.ensure_future(self._leave(stop_engine=not self.options.keep_engine, departure=departure))
        self._signal_tasks.add(task)
        task.add_done_callback(self._signal_tasks.discard)

    def redraw_now(self) -> None:
        """Redraw the visible page from the stores: the only place views are refreshed.

        With a dialog open, the page under it (still visible around it) keeps updating.
        """
        screen = next((s for s in reversed(self.screen_stack) if isinstance(s, ProxyPalScreen)), None)
        if screen is not None and screen.is_mounted:
            try:
                screen.redraw_all()
            except NoMatches:
                return  # the screen is being torn down (app exit): nothing left to draw into

    def _sample_engine(self) -> None:
        if self.options.sample_engine:
            pid = self.engine_status.pid if self.engine_status.state is EngineState.READY else None
            self.session.engine_usage = self._watch.sample(pid)

    def _engine_output(self, line: str) -> None:
        # Same event loop as the app: a bounded append, drawn later by the Logs screen.
        self.live.logs.add_stderr(self.now(), line)

    # ---- workers ----------------------------------------------------------------------------------

    @work(exclusive=True, exit_on_error=False, group="engine")
    async def supervise(self) -> None:
        await self.supervisor.run()

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        """The one place background failures are handled: log, tell the user, keep running."""
        worker = event.worker
        if event.state is not WorkerState.ERROR:
            return
        error = worker.error
        self.live.logs.add(LogLine(self.now(), "error", f"tui.{worker.group}", f"{worker.name} failed: {error!r}"))
        self.notify(f"{worker.group}: {error}", title="Background task failed", severity="error")
        if worker.group == "engine":
            self.engine_status = EngineStatus(EngineState.FAILED, message=f"supervision failed: {error}")

    # ---- messages ---------------------------------------------------------------------------------

    @on(EngineStatusChanged)
    def _status_changed(self, message: EngineStatusChanged) -> None:
        if self.session.set_engine_status(message.status):
            self._refresh_usage()
            self.load_auth_status()
            self.load_recent_requests()
        if message.status.state in (EngineState.CRASHED, EngineState.FAILED):
            self._log_exit(message.status)
        if message.status.state in (EngineState.FAILED, EngineState.BLOCKED):  # crashes show in the panel
            self.notify(message.status.message, title=f"Engine {message.status.state.value}", severity="error")
        self.redraw_now()

    @on(EngineEvents)
    def _events(self, message: EngineEvents) -> None:
        try:
            for ev in self.live.apply(message.events):
                self._urgent.get(ev.TYPE, lambda _e: None)(ev)
        finally:
            self.supervisor.pump.done()

    @property
    def _urgent(self) -> dict[str, Any]:
        return {
            "config.reloaded": self._config_reloaded,
            "budget.alert": self._budget_alert,
            "quota.alert": self._quota_alert,
        }

    def _config_reloaded(self, ev: ConfigReloaded) -> None:
        if ev.warnings:
            self.notify("\n".join(ev.warnings), title="Config warning", severity="warning")
        waiter = self._reload_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(ev)  # the save worker reports it
        else:
            self._note_reload_event(ev)

    def _budget_alert(self, ev: BudgetAlert) -> None:
        self.notify(
            f"{ev.scope}: {ev.threshold:.0%} of the budget reached (${ev.spent:.2f} of ${ev.limit:.2f})",
            title=f"Budget alert: {ev.threshold:.0%}",
            severity="error" if ev.threshold >= 1.0 else "warning",
        )
        self._refresh_usage()  # the budget bar shows the ledger's total at once, not in up to 30 s

    def _quota_alert(self, ev: QuotaAlert) -> None:
        resets = f"; resets {quota_reset_clock(ev.resets_at, self.now())}" if ev.resets_at else ""
        self.notify(
            f"{ev.provider}/{ev.credential}: {ev.window} window {ev.used_percent:.0f}% used{resets}",
            title=f"Quota alert: {ev.threshold:g}%",
            severity="error" if ev.threshold >= 95 else "warning",
        )

    @on(ConfigReloadResult)
    def _config_result(self, message: ConfigReloadResult) -> None:
        self.read_config_info()
        if message.ok and self.engine_status.state is EngineState.READY:
            self.load_auth_status()  # the providers (and their keys) may have changed with the config
        if message.source == "saved":
            summary = "Saved. The engine is not running; it will use this config when it starts."
        elif message.ok and message.source == "event":
            summary = "The config file changed on disk · the engine reloaded it ✓"  # not our save
        elif message.ok:
            summary = "Saved · the engine reloaded the config ✓"
        else:
            summary = f"The engine rejected the config ({len(message.errors)} problem(s)); it keeps the old one."
        self.session.record_config_outcome(message.ok, message.errors, summary)
        if not message.ok:
            self.notify(summary, title="Config", severity="error")
        self.redraw_now()

    def _log_exit(self, status: EngineStatus) -> None:
        """A crash leaves a trace in Logs: how it ended, then its last stderr lines."""
        now = self.now()
        self.live.logs.add(LogLine(now, "error", "tui.supervisor", status.message, source="tui"))
        for line in status.log_tail:
            self.live.logs.add(LogLine(now, "error", "engine", f"  | {line}", source="tui"))

    @on(RecentRequestsLoaded)
    def _recent_loaded(self, message: RecentRequestsLoaded) -> None:
        self.live.feed.merge_history(RequestFinished.from_dict(r) for r in message.records)

    @on(UsageLoaded)
    def _usage_loaded(self, message: UsageLoaded) -> None:
        self.live.set_usage(message.usage.day_rows, message.usage.hour_rows, message.usage.ledger)

    @on(HistoryLoaded)
    def _history_loaded(self, message: HistoryLoaded) -> None:
        if message.error:
            self.session.history.failed(message.error)
        else:
            self.session.history.load(message.by, message.group, message.rows)

    @on(MembersLoaded)
    def _members_loaded(self, message: MembersLoaded) -> None:
        if message.error:
            self.session.members.failed(message.error)
        else:
            self.session.members.load(message.rows)

    @on(SessionsLoaded)
    def _sessions_loaded(self, message: SessionsLoaded) -> None:
        if message.error:
            self.session.session_history.failed(message.error)
        else:
            self.session.session_history.load_sessions(message.rows)

    @on(SessionRequestsLoaded)
    def _session_requests_loaded(self, message: SessionRequestsLoaded) -> None:
        if message.error:
            self.session.session_history.failed(message.error)
        else:
            self.session.session_history.load_requests(message.session, message.rows)

    @on(AuthStatusLoaded)
    def _auth_loaded(self, message: AuthStatusLoaded) -> None:
        self.live.auth.load(message.answer)
        self.load_quota()  # the credentials may have changed: their quota windows with them

    @on(QuotaLoaded)
    def _quota_loaded(self, message: QuotaLoaded) -> None:
        self.live.quota.load(message.answer)

    @on(ApiFailed)
    def _api_failed(self, message: ApiFailed) -> None:
        self.live.logs.add(LogLine(self.now(), "warning", "tui.api", f"{message.what}: {message.error}"))

    @on(CooldownsCleared)
    def _cooldowns_cleared(self, message: CooldownsCleared) -> None:
        self.notify(f"Cleared {message.cleared} cooldown(s) of {message.scope}", title="Cooldowns")

    @on(LoginFinished)
    def _login_finished(self, message: LoginFinished) -> None:
        """A login, key or logout went through: show the engine's view of it, and edit the config if asked."""
        self.read_config_info()
        self.load_auth_status()
        if message.reference is not None:
            provider, ref = message.reference
            error = self.reference_key(provider, ref)
            if error:
                self.notify(error, title=f"Config not changed for {provider}", severity="warning")
            else:
                self.notify(f"The config now says providers.{provider}.api_key: {ref}", title="Config")

    @on(ThemesReloaded)
    def _themes_reloaded(self, message: ThemesReloaded) -> None:
        self._theme_names = self._register_themes()
        if self.theme in self._theme_names:
            self.refresh_css()
        for err in message.errors:
            self.notify(err, title="Theme file", severity="warning")

    def management_client(self) -> ManagementClient | None:
        """The engine's management API while one runs: for screens that fetch on demand (the capture view)."""
        return self.supervisor.api

    def search_captures(self, text: str = "") -> None:
        """`/` on the Requests screen, ctrl+f in a capture: search every stored capture."""
        self.push_screen(CaptureSearchScreen(self.session, self.supervisor.api, text))

    # ---- actions ----------------------------------------------------------------------------------

    def action_show(self, mode: str) -> None:
        if mode == "tools" and not self.tools_enabled:
            self.notify("The Tools screen is not installed in this build.", severity="warning")
            return
        self.switch_mode(mode)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "show" and parameters == ("tools",):
            return self.tools_enabled
        return True

    def action_help(self) -> None:
        """Keys of this screen and the app (not the focused widget's cursor keys), as the keymap has them."""
        screen = self.screen
        rows = [
            (self.get_key_display(b.binding), b.binding.description, b.binding.tooltip)
            for key, b in screen.active_bindings.items()
            if key == self.COMMAND_PALETTE_BINDING
            or (b.binding.id and (b.node is screen or b.node is self))  # ours: every one has an id
        ]
        self.push_screen(HelpScreen(rows))

    async def action_quit(self) -> None:
        await self._leave(stop_engine=not self.options.keep_engine)

    async def action_detach(self) -> None:
        self.detached_pid = self.engine_status.pid if self.engine_status.running else None
        await self._leave(stop_engine=False)

    async def _leave(self, stop_engine: bool, departure: Departure | None = None) -> None:
        if self._leaving:
            return
        self._leaving = True
        if stop_engine and self.engine_status.owned:
            self.notify("Stopping the engine…", timeout=self.options.settings.stop_grace_s + 1)
        reason = departure.reason if departure is not None else None
        await self.supervisor.shutdown(stop_engine=stop_engine, leaving_reason=reason)
        code = int(departure.code) if departure is not None else int(ExitCode.OK)
        self.exit(code, return_code=code)

    def action_next_theme(self) -> None:
        names = self._theme_names or [DEFAULT_THEME]
        current = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(current + 1) % len(names)]

    def action_start_engine(self) -> None:
        self.supervisor.request_start()

    def action_stop_engine(self) -> None:
        if not self.supervisor.request_stop():
            self.stop_attached_engine()

    @work(exclusive=True, exit_on_error=False, group="engine-stop")
    async def stop_attached_engine(self) -> None:
        """An engine this TUI did not start is asked to stop through `POST /v0/shutdown` (graceful)."""
        api = self.supervisor.api
        if api is None:
            self.notify("No engine answers; nothing to stop.", severity="warning")
            return
        try:
            answer = await api.shutdown()
        except ApiError as e:
            self.post_message(ApiFailed("engine stop", str(e)))
            return
        self.notify(f"The engine (pid {answer.get('pid')}) is stopping.", title="Engine")

    def action_restart_engine(self) -> None:
        if not self.supervisor.request_restart():
            self.restart_attached_engine()

    @work(exclusive=True, exit_on_error=False, group="engine-stop")
    async def restart_attached_engine(self) -> None:
        """Stop the attached engine (`POST /v0/shutdown`); the supervisor then starts one of its own.

        The new engine is this TUI's (it stops when the TUI quits; Detach leaves it running), since
        the TUI cannot start a process where the old one ran. With --attach it only waits for one.
        """
        api = self.supervisor.api
        if api is None:
            self.notify("No engine answers; nothing to restart.", severity="warning")
            return
        try:
            answer = await api.shutdown()
        except ApiError as e:
            self.post_message(ApiFailed("engine restart", str(e)))
            return
        then = "waiting for it to be started again" if self.options.attach_only else "starting this TUI's own engine"
        self.notify(f"The attached engine (pid {answer.get('pid')}) is stopping; {then}.", title="Engine")
        self.supervisor.request_start()

    def use_session_passphrase(self, passphrase: str) -> str:
        """Give the engine and login runs `PROXYPAL_PASSPHRASE` (memory and environment only); say what follows."""
        env = with_passphrase(self.options.engine_env, passphrase)
        self.options.engine_env = env
        self.supervisor.opts.env = env
        if self.engine_status.running and not self.engine_status.owned:
            return (
                "the attached engine was not started here: give it PROXYPAL_PASSPHRASE where it runs, "
                "or use Restart engine so this TUI starts its own with it"
            )
        self._passphrase_unapplied = True
        return "the engine restarts with it once the key is stored"

    def apply_session_passphrase(self) -> None:
        """Restart our engine so it opens the secrets with the session's passphrase.

        Called once the key is stored: an engine restarted sooner could read the store before the key
        is in it, and the login's reload call would miss it while the engine is down.
        """
        if self._passphrase_unapplied:
            self._passphrase_unapplied = False
            self.supervisor.request_restart()

    def action_doctor(self) -> None:
        self.push_screen(DoctorScreen(doctor_command(self.config_path), self.options.engine_env, self.config_path))

    def action_clear_feed(self) -> None:
        self.live.feed.clear()
        self.redraw_now()

    def action_copy_endpoint(self) -> None:
        url = f"http://{self.session.endpoint_listen()}"
        self.copy_to_clipboard(url)
        self.notify(f"Copied {url}", title="Endpoint")

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from app_commands(self, self.session)
        palette = getattr(screen, "palette_commands", None)
        if callable(palette):
            yield from palette()
        yield from super().get_system_commands(screen)

    # ---- themes -----------------------------------------------------------------------------------

    @property
    def theme_names(self) -> list[str]:
        """ProxyPal's themes (bundled and the user's), in the order the theme key cycles them."""
        return list(self._theme_names)

    @property
    def _theme_dirs(self) -> list[Path]:
        dirs = self.options.theme_dirs if self.options.theme_dirs is not None else bundled_theme_dirs()
        return [*dirs, user_theme_dir(self.config_path)]

    def _register_themes(self) -> list[str]:
        loaded = load_themes(self._theme_dirs)
        for theme in loaded.themes:
            self.register_theme(theme)
        return [t.name for t in loaded.themes]

    def _remember_theme(self, theme: Any) -> None:
        if self.options.settings_file is not None:
            try:
                save_theme(self.options.settings_file, theme.name)
            except (OSError, ValueError) as e:
                self.live.logs.add(LogLine(self.now(), "warning", "tui", f"could not save the theme choice: {e}"))

    def _refresh_auth_if_stale(self) -> None:
        if self.live.auth.stale and self.engine_status.state is EngineState.READY:
            self.live.auth.stale = False  # one reload per burst of events
            self.load_auth_status()

    def _refresh_usage(self) -> None:
        if self.engine_status.state is EngineState.READY:
            self.load_usage()
