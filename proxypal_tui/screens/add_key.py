"""Add an API key: a masked input whose value goes only to `proxypal-engine login --api-key-stdin`.

The key never reaches the screen, the logs or a command line: it is written to the login's
stdin and the input is cleared at once. On success the dialog can put `api_key: keyring:NAME`
on the provider in the config (through the app's config-save path).
"""

from __future__ import annotations

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from proxypal_tui.core.credentials import SecretStoreInfo
from proxypal_tui.core.login import LoginEvent, LoginRequest
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
            yield Checkbox("Use it: set api_key: keyring:<provider> in the config", True, id="add-key-reference")
            where = self._store.backend or "the engine's secret store"
            note = f"Stored by proxypal-engine in {where}; never shown again."
            if self._store.error:
                note = f"⚠ The engine cannot open its secret store: {self._store.error}"
            yield Static(escape(note), id="add-key-note")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Store key", variant="primary", id="add-key-save", compact=True)
                yield Button("Cancel", id="add-key-cancel", compact=True)

    def on_mount(self) -> None:
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
        self.run_cli(LoginRequest(provider, "api_key", name=provider), secret)

    def login_done(self, event: LoginEvent) -> None:
        ref = str(event.get("ref") or event.get("credential") or "")
        self.app.post_message(LoginFinished(event, self._reference))
        self.notify(f"Stored the {event.get('provider')} key as {ref}.", title="API key")
        self.dismiss(None)

    def login_error(self, event: LoginEvent) -> None:
        self._note(f"✗ Not stored: {escape(str(event.get('message', 'the login failed')))}", bad=True)
        self.query_one("#add-key-secret", Input).focus()

    @on(Button.Pressed, "#add-key-cancel")
    def action_cancel(self) -> None:
        self.close()

    def _note(self, markup: str, bad: bool = False) -> None:
        note = self.query_one("#add-key-note", Static)
        note.update(markup)
        note.set_class(bad, "bad")
