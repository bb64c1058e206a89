"""A dialog that runs one `proxypal-engine login/logout … --json` and reacts to its lines.

The subprocess lives in a worker owned by the dialog: closing the dialog cancels the worker,
and the worker stops the subprocess on its way out. Its lines arrive as `LoginProgress`
messages and are routed by type to the subclass's `login_<type>` methods (login_done, ...).
"""

from __future__ import annotations

from textual import on, work
from textual.screen import ModalScreen

from proxypal_tui.core.login import LoginEvent, LoginProcess, LoginRequest, engine_cli
from proxypal_tui.messages import LoginProgress
from proxypal_tui.options import AppOptions


class CliDialog(ModalScreen[None]):
    def __init__(self, options: AppOptions) -> None:
        super().__init__()
        self.options = options
        self.process: LoginProcess | None = None

    @work(exclusive=True, exit_on_error=False, group="login")
    async def run_cli(self, request: LoginRequest, secret: str | None = None) -> None:
        opts = self.options
        argv = request.argv(opts.login_cli or engine_cli(), opts.config_path)
        try:
            proc = await LoginProcess.start(argv, opts.engine_env, lambda ev: self.post_message(LoginProgress(ev)))
        except OSError as e:
            self.post_message(LoginProgress(LoginEvent("error", {"message": f"cannot run proxypal-engine: {e}"})))
            return
        self.process = proc
        try:
            if secret is not None:
                await proc.send_secret(secret)
            await proc.wait()
        finally:
            if self.process is proc:  # a newer run (a retry) may have taken its place
                self.process = None
            await proc.cancel()  # a no-op when it finished; stops it when the dialog closed first

    @on(LoginProgress)
    def _progress(self, message: LoginProgress) -> None:
        handler = getattr(self, f"login_{message.event.type}", None)
        if callable(handler):
            handler(message.event)

    def close(self) -> None:
        self.workers.cancel_group(self, "login")
        self.dismiss(None)
