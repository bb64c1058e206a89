"""Log in to a provider from the TUI: pick a login, then follow it.

Browser logins show the authorize URL (copy it, or open the browser when one is on this
machine and we are not over SSH) and take the redirect URL pasted back, for when the browser
cannot reach this machine's callback. Device-code logins show the code to type. The work is
done by `proxypal-engine login … --json` in a subprocess; this dialog only shows its lines.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from proxypal_tui.core.login import LoginChoice, LoginEvent, LoginRequest, can_open_browser, open_in_browser
from proxypal_tui.messages import LoginFinished
from proxypal_tui.options import AppOptions
from proxypal_tui.screens.cli_dialog import CliDialog

WAITING = "Waiting for the login to finish… (escape cancels)"


class LoginScreen(CliDialog):
    BINDINGS = [
        Binding("escape", "close", "Close", id="login.close", tooltip="Close; a login in progress is cancelled."),
        Binding("ctrl+y", "copy", "Copy", id="login.copy", tooltip="Copy the URL or the device code."),
        Binding(
            "ctrl+o", "open_browser", "Browser", id="login.open", tooltip="Open the URL in this machine's browser."
        ),
    ]

    def __init__(self, options: AppOptions, choices: tuple[LoginChoice, ...], preselect: str | None = None) -> None:
        super().__init__(options)
        self.choices = choices
        self.preselect = preselect
        self.choice: LoginChoice | None = None
        self.copy_text = ""
        self.browser_url = ""
        self.browser_ok = can_open_browser()

    def compose(self) -> ComposeResult:
        with Vertical(id="login", classes="dialog"):
            yield Label("Log in to a provider", id="login-title")
            yield OptionList(
                *[Option(c.title, id=f"{c.provider}:{c.method}") for c in self.choices], id="login-choices"
            )
            yield Input(placeholder="path of the service-account JSON key file, then Enter", id="login-file")
            yield Static("", id="login-info")
            yield Input(placeholder="paste the redirect URL from the browser here, then Enter", id="login-paste")
            yield Static("", id="login-status")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Copy ^y", id="login-copy", compact=True)
                yield Button("Open browser ^o", id="login-open", compact=True)
                yield Button("Close", id="login-close", compact=True)

    def on_mount(self) -> None:
        for wid in ("#login-file", "#login-paste", "#login-copy", "#login-open", "#login-info"):
            self.query_one(wid).display = False
        choices = self.query_one("#login-choices", OptionList)
        wanted = next((i for i, c in enumerate(self.choices) if c.provider == self.preselect), 0)
        choices.highlighted = wanted
        choices.focus()
        self._status("Choose how to log in, then Enter. Logins are stored by proxypal-engine, never shown here.")

    # ---- choosing ---------------------------------------------------------------------------------

    @on(OptionList.OptionSelected, "#login-choices")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.choice = self.choices[event.option_index]
        if self.choice.method == "service_account":
            file_input = self.query_one("#login-file", Input)
            file_input.display = True
            file_input.focus()
            return
        self.start(LoginRequest(self.choice.provider, self.choice.method))

    @on(Input.Submitted, "#login-file")
    def _file_given(self, event: Input.Submitted) -> None:
        path = Path(event.value.strip()).expanduser()
        if not event.value.strip() or not path.is_file():
            self._status(f"No such file: {escape(str(path))}", bad=True)
            return
        assert self.choice is not None
        self.start(LoginRequest(self.choice.provider, "service_account", service_account=str(path)))

    def start(self, request: LoginRequest) -> None:
        self.query_one("#login-choices").display = False
        self.query_one("#login-file").display = False
        title = self.choice.title if self.choice else request.provider
        self.query_one("#login-title", Label).update(f"Log in: {title}")
        self._status(WAITING)
        self.run_cli(request)

    # ---- the login's lines ------------------------------------------------------------------------

    def login_authorize_url(self, event: LoginEvent) -> None:
        url = str(event.get("url", ""))
        after = (
            "When you finish in a browser on this machine, the login completes by itself. "
            if event.get("listening")
            else ""
        )
        self._info(
            f"Open this URL in a browser and log in:\n\n{escape(url)}\n\n{after}"
            "If the browser ends on a page that does not load (over SSH), copy that page's full address "
            "from the address bar and paste it below."
        )
        self._offer(url, url)
        paste = self.query_one("#login-paste", Input)
        paste.display = True
        paste.focus()

    def login_device_code(self, event: LoginEvent) -> None:
        uri = str(event.get("verification_uri", ""))
        code = str(event.get("user_code", ""))
        direct = str(event.get("verification_uri_complete") or "")
        text = f"Open {escape(uri)} and enter the code:\n\n    [b]{escape(code)}[/b]\n"
        if direct:
            text += f"\n(or open {escape(direct)} directly)"
        self._info(text)
        self._offer(code, direct or uri)
        self.query_one("#login-copy", Button).focus()

    def login_status(self, event: LoginEvent) -> None:
        self._status(escape(str(event.get("message", ""))))

    def login_engine(self, event: LoginEvent) -> None:
        self._status(escape(str(event.get("message", ""))))

    def login_done(self, event: LoginEvent) -> None:
        who = event.get("account") or event.get("credential") or ""
        line = f"✓ Logged in to {event.get('provider')} as {who} (credential {event.get('credential')})."
        if event.get("project"):
            line += f"\nProject: {event.get('project')}"
        self._info(escape(line))
        self.query_one("#login-paste").display = False
        self.query_one("#login-copy").display = False
        self.query_one("#login-open").display = False
        self._status("Done. The engine uses this login now. Escape closes.")
        self.query_one("#login-close", Button).focus()
        self.app.post_message(LoginFinished(event))

    def login_error(self, event: LoginEvent) -> None:
        self._status(f"✗ {escape(str(event.get('message', 'the login failed')))}", bad=True)
        self.query_one("#login-paste").display = False
        choices = self.query_one("#login-choices", OptionList)
        choices.display = True  # try again, or escape
        choices.focus()

    # ---- user actions -----------------------------------------------------------------------------

    @on(Input.Submitted, "#login-paste")
    async def _pasted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        event.input.value = ""  # it carries a one-time code: do not leave it on screen
        if not text:
            return
        if self.process is None:
            self._status("The login is not running any more.", bad=True)
            return
        await self.process.send_line(text)
        self._status("Checking the pasted address…")

    @on(Button.Pressed, "#login-copy")
    def action_copy(self) -> None:
        if self.copy_text:
            self.app.copy_to_clipboard(self.copy_text)
            self.notify("Copied to the clipboard (if your terminal allows it).", title="Log in")

    @on(Button.Pressed, "#login-open")
    async def action_open_browser(self) -> None:
        if not (self.browser_ok and self.browser_url):
            self.notify("No browser on this machine: copy the URL instead.", severity="warning")
            return
        if not await asyncio.to_thread(open_in_browser, self.browser_url):
            self.notify("The browser did not open: copy the URL instead.", severity="warning")

    @on(Button.Pressed, "#login-close")
    def action_close(self) -> None:
        self.close()

    # ---- drawing ----------------------------------------------------------------------------------

    def _offer(self, copy_text: str, url: str) -> None:
        self.copy_text, self.browser_url = copy_text, url
        self.query_one("#login-copy").display = True
        self.query_one("#login-open").display = self.browser_ok

    def _info(self, markup: str) -> None:
        info = self.query_one("#login-info", Static)
        info.display = True
        info.update(markup)

    def _status(self, markup: str, bad: bool = False) -> None:
        status = self.query_one("#login-status", Static)
        status.update(markup)
        status.set_class(bad, "bad")
