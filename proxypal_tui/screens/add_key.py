"""Add an API key: a masked input whose value goes only to `proxypal-engine login --api-key-stdin`.

The key never reaches the screen, the logs or a command line: it is written to the login's
stdin and the input is cleared at once. On success the dialog can put `api_key: keyring:NAME`
on the provider in the config (through the app's config-save path). When the store is the
encrypted file and no passphrase reached the login (no OS keyring, say over SSH), the dialog offers
a passphrase for this session or the opt-in key file, then stores the key it still holds.
"""

from __future__ import annotations

from typing import cast

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from proxypal_tui.app_actions import AppActions
from proxypal_tui.core.credentials import SecretStoreInfo
from proxypal_tui.core.login import LoginEvent, LoginRequest, engine_cli
from proxypal_tui.core.secret_store_unlock import create_keyfile, needs_passphrase
from proxypal_tui.messages import LoginFinished
from proxypal_tui.options import AppOptions
from proxypal_tui.screens.cli_dialog import CliDialog


class AddKeyScreen(CliDialog):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="add_key.cancel", tooltip="Close without storing anything."),
    ]

    def __init__(
        self, options: AppOptions, providers: list[str], store: SecretStoreInfo, first: str | None = None
    ) -> None:
        super().__init__(options)
        self._providers = providers
        self._store = store
        self._first = first if first in providers else (providers[0] if providers else None)
        self._reference: tuple[str, str] | None = None
        self._pending: tuple[LoginRequest, str] | None = None  # the key, kept until stored or closed

    def compose(self) -> ComposeResult:
        with Vertical(id="add-key", classes="dialog"):
            yield Label("Add an API key", id="add-key-title")
            yield Select(
                [(p, p) for p in self._providers],
                prompt="provider",
                id="add-key-provider",
                value=self._first if self._first else Select.BLANK,
            )
            yield Input(placeholder="paste the API key", password=True, id="add-key-secret")
            yield Checkbox("Set api_key: keyring:<provider> in config", True, id="add-key-reference")
            where = self._store.backend or "the engine's secret store"
            note = f"Stored by proxypal-engine in {where}; never shown again."
            if self._store.error:
                note = f"⚠ The engine cannot open its secret store: {self._store.error}"
            yield Static(escape(note), id="add-key-note")
            with Vertical(id="add-key-unlock"):
                yield Static(
                    "No OS keyring here. Set a passphrase for this session (kept in memory; the engine "
                    "and logins get it as PROXYPAL_PASSPHRASE), or create the opt-in key file "
                    "(anyone who can read it can read your secrets).",
                    id="add-key-unlock-note",
                )
                yield Input(placeholder="passphrase for this session", password=True, id="add-key-passphrase")
                with Horizontal(classes="dialog-buttons"):
                    yield Button("Use passphrase", variant="primary", id="add-key-use-passphrase", compact=True)
                    yield Button("Create key file", id="add-key-keyfile", compact=True)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Store key", variant="primary", id="add-key-save", compact=True)
                yield Button("Cancel", id="add-key-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#add-key-unlock").display = False
        self.query_one("#add-key-secret", Input).focus()

    @on(Input.Submitted, "#add-key-secret")
    @on(Button.Pressed, "#add-key-save")
    def _save(self) -> None:
        if self.process is not None:
            return  # one at a time
        provider = self.query_one("#add-key-provider", Select).value
        secret_input = self.query_one("#add-key-secret", Input)
        secret = secret_input.value.strip()
        if not isinstance(provider, str) or not secret:
            self.notify("Choose a provider and paste a key.", severity="warning")
            return
        secret_input.value = ""  # the key lives on only in the login's stdin
        ref = f"keyring:{provider}"
        wanted = self.query_one("#add-key-reference", Checkbox).value
        self._reference = (provider, ref) if wanted else None
        self._note(f"Storing the key for {escape(provider)}…")
        request = LoginRequest(provider, "api_key", name=provider)
        self._pending = (request, secret)
        self.run_cli(request, secret)

    def _retry(self) -> None:
        # The failed run already said its last word; if it has not quite exited, the new run replaces it.
        if self._pending is not None:
            self._note("Storing the key again…")
            self.run_cli(*self._pending)

    @property
    def _actions(self) -> AppActions:
        return cast(AppActions, self.app)

    def login_done(self, event: LoginEvent) -> None:
        self._pending = None
        self._actions.apply_session_passphrase()
        ref = str(event.get("ref") or event.get("credential") or "")
        self.app.post_message(LoginFinished(event, self._reference))
        self.notify(f"Stored the {event.get('provider')} key as {ref}.", title="API key")
        self.dismiss(None)

    def login_error(self, event: LoginEvent) -> None:
        message = str(event.get("message", "the login failed"))
        if self._pending is not None and needs_passphrase(message):
            self._note("✗ Not stored: the encrypted secrets file needs a passphrase.", bad=True)
            self.query_one("#add-key-unlock").display = True
            self.query_one("#add-key-passphrase", Input).focus()
            return
        self._note(f"✗ Not stored: {escape(message)}", bad=True)
        self._pending = None
        self.query_one("#add-key-secret", Input).focus()

    @on(Input.Submitted, "#add-key-passphrase")
    @on(Button.Pressed, "#add-key-use-passphrase")
    def _use_passphrase(self) -> None:
        field = self.query_one("#add-key-passphrase", Input)
        passphrase = field.value
        field.value = ""  # from here on only the environment of the engine and login runs holds it
        if not passphrase:
            self.notify("Type a passphrase first.", severity="warning")
            return
        outcome = self._actions.use_session_passphrase(passphrase)
        self.notify(f"Passphrase set for this session: {outcome}", title="Secrets")
        self.query_one("#add-key-unlock").display = False
        self._retry()

    @on(Button.Pressed, "#add-key-keyfile")
    def _keyfile_pressed(self) -> None:
        self.run_keyfile()

    @work(exclusive=True, exit_on_error=False, group="keyfile")
    async def run_keyfile(self) -> None:
        """`proxypal-engine auth keyfile`, then the key again: the store now opens without a passphrase."""
        opts = self.options
        self._note("Running proxypal-engine auth keyfile…")
        try:
            outcome = await create_keyfile(opts.login_cli or engine_cli(), opts.config_path, opts.engine_env)
        except OSError as e:
            self._note(f"✗ cannot run proxypal-engine: {escape(str(e))}", bad=True)
            return
        self.notify(outcome.message, title="Key file", severity="information" if outcome.ok else "error")
        if not outcome.ok:
            self._note(f"✗ No key file: {escape(outcome.message)}", bad=True)
            return
        self.query_one("#add-key-unlock").display = False
        self._retry()

    @on(Button.Pressed, "#add-key-cancel")
    def action_cancel(self) -> None:
        self._pending = None
        self._actions.apply_session_passphrase()
        self.close()

    def _note(self, markup: str, bad: bool = False) -> None:
        note = self.query_one("#add-key-note", Static)
        note.update(markup)
        note.set_class(bad, "bad")
