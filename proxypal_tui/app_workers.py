"""The app's background work: management API calls, config and key writes, theme watching.

Each is an exclusive worker that posts a typed Message with its result; failures of the
unexpected kind reach the app's single `Worker.StateChanged` handler.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work

from proxy_engine.config import ConfigError
from proxy_engine.paths import atomic_write
from proxy_engine.protocol import ConfigReloaded
from proxypal_tui.core.api import ApiError
from proxypal_tui.core.configfile import ConfigEditError, set_provider_api_key
from proxypal_tui.core.engine_state import EngineState, EngineStatus
from proxypal_tui.core.ledger_series import ledger_series
from proxypal_tui.core.login import LoginProcess, LoginRequest, engine_cli
from proxypal_tui.core.session import Session
from proxypal_tui.core.supervisor import EngineSupervisor
from proxypal_tui.messages import (
    ApiFailed,
    AuthStatusLoaded,
    ConfigReloadResult,
    CooldownsCleared,
    HistoryLoaded,
    LoginFinished,
    QuotaLoaded,
    RecentRequestsLoaded,
    SessionRequestsLoaded,
    SessionsLoaded,
    ThemesReloaded,
    UsageLoaded,
    UsageSnapshot,
)
from proxypal_tui.options import AppOptions
from proxypal_tui.theme_watch import watch_theme_dirs
from proxypal_tui.themes import user_theme_dir

if TYPE_CHECKING:
    from textual.app import App

    _Base = App[int]
else:
    _Base = object


class BackgroundWork(_Base):
    """Mixed into ProxyPalApp; kept apart so the app module stays about screens and messages.

    It names what it uses of the app below instead of importing the app class (no import cycle).
    """

    options: AppOptions
    config_path: Path
    session: Session
    supervisor: EngineSupervisor
    _reload_waiter: asyncio.Future[ConfigReloaded] | None

    if TYPE_CHECKING:  # defined by ProxyPalApp

        def now(self) -> float: ...

        def read_config_info(self) -> None: ...

        @property
        def engine_status(self) -> EngineStatus: ...

        @property
        def _theme_dirs(self) -> list[Path]: ...

    @work(exclusive=True, exit_on_error=False, group="usage")
    async def load_usage(self) -> None:
        api = self.supervisor.api
        if api is None:
            return
        now = self.now()
        try:
            days = await api.usage("day", since=now - 40 * 86400)
            hours = await api.usage("hour", since=now - 25 * 3600)
            snapshot = UsageSnapshot(list(days.get("rows") or []), list(hours.get("rows") or []))
        except (ApiError, AttributeError, TypeError) as e:  # unreachable, or a malformed answer
            self.post_message(ApiFailed("usage", str(e)))
            return
        snapshot.ledger = await ledger_series(api, now)
        self.post_message(UsageLoaded(snapshot))

    @work(exclusive=True, exit_on_error=False, group="recent")
    async def load_recent_requests(self) -> None:
        """The ledger's latest requests, so a restarted (or attached) engine's feed loses nothing visible."""
        api = self.supervisor.api
        if api is None:
            return
        try:
            answer = await api.recent_requests(limit=2000)
            records = [r for r in answer.get("requests") or [] if isinstance(r, dict)]
        except (ApiError, AttributeError, TypeError) as e:
            self.post_message(ApiFailed("recent requests", str(e)))
            return
        self.post_message(RecentRequestsLoaded(records))

    @work(exclusive=True, exit_on_error=False, group="history")
    async def load_history(self, by: str, group: str) -> None:
        api = self.supervisor.api
        if api is None:
            self.post_message(HistoryLoaded(by, group, [], "the engine is not running"))
            return
        try:
            rows = (await api.history(by, group)).get("rows")
            if not isinstance(rows, list):
                raise TypeError(f"unexpected answer {type(rows).__name__}")
        except (ApiError, AttributeError, TypeError) as e:
            self.post_message(HistoryLoaded(by, group, [], str(e)))
            return
        self.post_message(HistoryLoaded(by, group, rows))

    @work(exclusive=True, exit_on_error=False, group="sessions")
    async def load_sessions(self) -> None:
        api = self.supervisor.api
        if api is None:
            self.post_message(SessionsLoaded([], "the engine is not running"))
            return
        try:
            rows = (await api.sessions()).get("sessions")
            if not isinstance(rows, list):
                raise TypeError(f"unexpected answer {type(rows).__name__}")
        except (ApiError, AttributeError, TypeError) as e:
            self.post_message(SessionsLoaded([], str(e)))
            return
        self.post_message(SessionsLoaded(rows))

    @work(exclusive=True, exit_on_error=False, group="session-requests")
    async def load_session_requests(self, session: str) -> None:
        api = self.supervisor.api
        if api is None:
            self.post_message(SessionRequestsLoaded(session, [], "the engine is not running"))
            return
        try:
            rows = (await api.session_requests(session)).get("requests")
            if not isinstance(rows, list):
                raise TypeError(f"unexpected answer {type(rows).__name__}")
        except (ApiError, AttributeError, TypeError) as e:
            self.post_message(SessionRequestsLoaded(session, [], str(e)))
            return
        self.post_message(SessionRequestsLoaded(session, rows))

    @work(exclusive=True, exit_on_error=False, group="auth")
    async def load_auth_status(self) -> None:
        api = self.supervisor.api
        if api is None:
            return
        try:
            answer = await api.auth_status()
            if not isinstance(answer, dict):
                raise TypeError(f"unexpected answer {type(answer).__name__}")
        except (ApiError, TypeError) as e:
            self.post_message(ApiFailed("auth status", str(e)))
            return
        self.post_message(AuthStatusLoaded(answer))

    @work(exclusive=True, exit_on_error=False, group="quota")
    async def load_quota(self) -> None:
        api = self.supervisor.api
        if api is None:
            return
        try:
            answer = await api.quota()
            if not isinstance(answer, dict):
                raise TypeError(f"unexpected answer {type(answer).__name__}")
        except (ApiError, TypeError) as e:
            self.post_message(ApiFailed("quota", str(e)))
            return
        self.post_message(QuotaLoaded(answer))

    @work(exclusive=True, exit_on_error=False, group="cooldowns")
    async def clear_cooldowns(self, provider: str | None = None, credential: str | None = None) -> None:
        """POST /v0/auth/cooldowns/clear for one credential, or for all; then reload the states."""
        api = self.supervisor.api
        if api is None:
            self.post_message(ApiFailed("clear cooldowns", "the engine is not running"))
            return
        scope = f"{provider}/{credential}" if provider and credential else (provider or "every credential")
        try:
            answer = await api.clear_cooldowns(provider, credential)
            cleared = int(answer.get("cleared") or 0) if isinstance(answer, dict) else 0
        except (ApiError, TypeError, ValueError) as e:
            self.post_message(ApiFailed("clear cooldowns", str(e)))
            return
        self.post_message(CooldownsCleared(cleared, scope))
        self.load_auth_status()

    def reference_key(self, provider: str, ref: str) -> str | None:
        """Put `api_key: ref` on a provider through the config-save path; the error, if it cannot."""
        config = self.session.config
        try:
            text = config.read_text()
            new_text = set_provider_api_key(text, provider, ref)
            config.check(new_text)
        except (OSError, ConfigEditError, ConfigError) as e:
            return str(e)
        if new_text != text:
            self.save_config(new_text)
        return None

    @work(exclusive=True, exit_on_error=False, group="config-save")
    async def save_config(self, text: str) -> None:
        """Write atomically, then wait for the engine's `config.reloaded` (or ask it to reload)."""
        self._reload_waiter = asyncio.get_running_loop().create_future()
        await asyncio.to_thread(atomic_write, self.config_path, text)
        self.read_config_info()
        if self.engine_status.state is not EngineState.READY or self.supervisor.api is None:
            self.post_message(ConfigReloadResult(True, [], "saved"))
            return
        try:
            ev: ConfigReloaded | None = await asyncio.wait_for(self._reload_waiter, self.options.reload_wait)
        except TimeoutError:
            ev = None  # the engine's watcher did not report: ask it directly
        if ev is not None:
            self._note_reload_event(ev, "written")
            return
        try:
            answer = await self.supervisor.api.reload_config()
            result = ConfigReloadResult(bool(answer.get("ok")), list(answer.get("errors") or []), "api")
        except (ApiError, AttributeError, TypeError) as e:
            self.post_message(ApiFailed("config reload", str(e)))
            return
        self.post_message(result)

    def _note_reload_event(self, ev: ConfigReloaded, source: str = "event") -> None:
        """`source` is "written" when this TUI wrote the file, "event" when someone else changed it."""
        self.post_message(ConfigReloadResult(ev.ok, [e.to_dict() for e in ev.errors], source))

    @work(exclusive=True, exit_on_error=False, group="logout")
    async def run_logout(self, request: LoginRequest) -> None:
        """`proxypal-engine logout … --json` (it tells the engine itself); then reload the states."""
        opts = self.options
        argv = request.argv(opts.login_cli or engine_cli(), opts.config_path)
        try:
            proc = await LoginProcess.start(argv, opts.engine_env, lambda _event: None)
        except OSError as e:
            self.notify(f"cannot run proxypal-engine: {e}", title="Log out", severity="error")
            return
        try:
            final = await proc.wait()
        finally:
            await proc.cancel()
        if final.type != "done":
            self.notify(str(final.get("message", "logout failed")), title="Log out", severity="error")
            return
        removed = ", ".join(str(r) for r in final.get("removed") or [])
        self.notify(f"Forgot {final.get('provider')}: {removed}", title="Log out")
        self.post_message(LoginFinished(final))

    @work(exclusive=True, exit_on_error=False, group="themes")
    async def watch_themes(self) -> None:
        directory = user_theme_dir(self.config_path)
        async for names, errors in watch_theme_dirs(directory, self._theme_dirs):
            self.post_message(ThemesReloaded(names, errors))
