"""Providers: every provider and credential with its state; add an API key through a masked input."""

from __future__ import annotations

import time
from collections.abc import Iterable

from textual import on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from proxypal_tui.core.secrets import KeyringStatus
from proxypal_tui.screens.base import ProxyPalScreen

KEY_PROVIDERS = ("anthropic", "openai", "gemini")
COLUMNS = ("Provider", "Kind", "Credential", "Type", "State", "Source", "Cooldown")


class ProvidersScreen(ProxyPalScreen):
    TITLE_TEXT = "Providers"
    BINDINGS = [
        Binding(
            "a",
            "add_key",
            "Add API key",
            id="providers.add_key",
            tooltip="Store a provider's API key in the OS keyring and reference it from the config.",
        ),
        Binding(
            "g", "refresh", "Refresh", id="providers.refresh", tooltip="Ask the engine for credential states."
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._drawn = -1

    def compose_body(self) -> ComposeResult:
        yield Static("", id="keyring-note")
        yield DataTable(id="providers-table", cursor_type="row", zebra_stripes=True)
        yield Label("OAuth and device-code logins arrive with the auth feature.", id="providers-hint")

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one(DataTable)
        for label in COLUMNS:
            table.add_column(label, key=label.lower())
        table.focus()

    def redraw(self) -> None:
        app = self.pp
        note = app.keyring.message if app.keyring.usable else f"⚠ {app.keyring.message}"
        self.query_one("#keyring-note", Static).update(note)
        self.query_one("#keyring-note").set_class(not app.keyring.usable, "warn")
        live = app.live
        if live.providers_version == self._drawn:
            return
        self._drawn = live.providers_version
        table = self.query_one(DataTable)
        table.clear()
        now = app.now()
        for row in sorted(live.providers.values(), key=lambda r: r.name):
            creds = row.credentials or []
            if not creds:
                table.add_row(row.name, row.kind, "—", "", "missing", "", "", key=f"{row.name}/")
            for c in creds:
                cooldown = ""
                if c.cooldown_until and c.cooldown_until > now:
                    left = int(c.cooldown_until - now)
                    cooldown = f"{c.cooldown_model or 'all'} {left}s ({c.cooldown_reason})".strip()
                state = c.state + (f": {c.message}" if c.message else "")
                table.add_row(
                    row.name, row.kind, c.id, c.type, state, c.source, cooldown, key=f"{row.name}/{c.id}"
                )

    def action_add_key(self) -> None:
        app = self.pp
        choices = sorted({*KEY_PROVIDERS, *app.key_based_providers()})
        app.push_screen(AddKeyScreen(choices, app.keyring), self._key_entered)

    def _key_entered(self, result: tuple[str, str] | None) -> None:
        if result is not None:
            provider, secret = result
            self.pp.store_api_key(provider, secret)

    def action_refresh(self) -> None:
        self.pp.load_auth_status()

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Add API key", "Store a provider key in the OS keyring", self.action_add_key)
        yield SystemCommand("Refresh providers", "Ask the engine for credential states", self.action_refresh)


class AddKeyScreen(ModalScreen[tuple[str, str] | None]):
    """Pick a provider and paste its key; the key is masked and never shown again."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="add_key.cancel", tooltip="Close without storing anything."),
    ]

    def __init__(self, providers: list[str], keyring: KeyringStatus) -> None:
        super().__init__()
        self._providers = providers
        self._keyring = keyring

    def compose(self) -> ComposeResult:
        with Vertical(id="add-key"):
            yield Label("Add an API key", id="add-key-title")
            yield Select(
                [(p, p) for p in self._providers],
                prompt="provider",
                id="add-key-provider",
                value=self._providers[0] if self._providers else Select.BLANK,
            )
            yield Input(placeholder="paste the API key", password=True, id="add-key-secret")
            note = "Kept in the OS keyring (service 'proxypal'); the config gets api_key: keyring:<provider>."
            yield Static(note if self._keyring.usable else f"⚠ {self._keyring.message}", id="add-key-note")
            with Horizontal(id="add-key-buttons"):
                yield Button(
                    "Store key", variant="primary", id="add-key-save", disabled=not self._keyring.usable
                )
                yield Button("Cancel", id="add-key-cancel")

    def on_mount(self) -> None:
        self.query_one("#add-key-secret", Input).focus()

    @on(Input.Submitted, "#add-key-secret")
    @on(Button.Pressed, "#add-key-save")
    def _save(self) -> None:
        if not self._keyring.usable:
            self.notify(self._keyring.message, severity="error")
            return
        provider = self.query_one("#add-key-provider", Select).value
        secret = self.query_one("#add-key-secret", Input).value
        if not isinstance(provider, str) or not secret.strip():
            self.notify("Choose a provider and paste a key.", severity="warning")
            return
        self.dismiss((provider, secret))

    @on(Button.Pressed, "#add-key-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def cooldown_left(until: float | None, now: float | None = None) -> float:
    return max(0.0, (until or 0.0) - (now if now is not None else time.time()))
