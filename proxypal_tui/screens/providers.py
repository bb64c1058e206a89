"""Providers: every provider and credential with its state, cooldowns, quota and errors; logins and keys.

States come from `/v0/auth/status` and stay current through `auth.changed` and
`credential.cooldown` events; quota windows (drawn as bars, under the table for every credential
and in the detail pane for the highlighted one) from `/v0/quota` and `quota.updated`. Logins, keys
and logouts run `proxypal-engine` as a subprocess (the dialogs in `screens/login.py` and
`screens/add_key.py`); cooldowns are cleared through the management API.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual import on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.content import Content
from textual.widgets import DataTable, Static
from textual.widgets.data_table import RowDoesNotExist

from proxy_engine.config import KEY_KINDS_OFFERED
from proxypal_tui.core import formatting as fmt
from proxypal_tui.core.credentials import CredentialBoard, CredentialRow, ProviderRow
from proxypal_tui.core.login import LOGIN_CHOICES, LoginRequest
from proxypal_tui.core.quota import QuotaBar, QuotaBoard, bar_line
from proxypal_tui.core.session import Session
from proxypal_tui.screens.add_key import AddKeyScreen
from proxypal_tui.screens.base import ProxyPalScreen
from proxypal_tui.screens.confirm import ConfirmScreen
from proxypal_tui.screens.login import LoginScreen

KEY_PROVIDERS = KEY_KINDS_OFFERED  # offered by name even before config lists them
COLUMNS = ("Provider", "Credential", "Type", "State", "Cooldowns")  # the source is in the detail pane
STATE_WIDTH = len("refreshing")
STATE_STYLE = {  # theme variables, so every theme colours states its own way
    "valid": "$text-success",
    "cooling": "$text-warning",
    "expiring": "$text-warning",
    "refreshing": "$text-accent",
    "expired": "$text-error",
    "error": "$text-error",
    "missing": "$text-error",
}


def short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def cooldown_cell(cred: CredentialRow, now: float) -> str:
    active = cred.active_cooldowns(now)
    if not active:
        return ""
    first = active[0]
    cell = f"{short(first.model or 'all', 14)} {fmt.duration(first.left(now))}"
    return cell + (f" +{len(active) - 1}" if len(active) > 1 else "")


def quota_text(quota: QuotaBoard, now: float) -> Text:
    """One line per window of every credential that has readings: `claude/ann 5h ▇▇▇▇▁ 63% · resets …`."""
    names = {key: short(f"{key[0]}/{key[1]}", 24) for key in quota.windows}
    width = max(map(len, names.values()), default=0)
    lines = []
    for key, bars in sorted(quota.windows.items()):
        for i, bar in enumerate(bars):  # the credential is named once, on its first window
            lines.append(Text(f"{(names[key] if i == 0 else '').ljust(width)}  {bar_line(bar, now)}"))
    return Text("\n").join(lines)


def detail_text(row: ProviderRow | None, cred: CredentialRow | None, now: float, bars: Iterable[QuotaBar] = ()) -> Text:
    """The highlighted credential: what it is, its state and message, quota, and each cooldown with time left."""
    if row is None:
        return Text("No provider selected. ↑/↓ move; o logs in, a adds an API key.", style="italic")
    head = f"{row.name} ({row.kind})" + (f" · {row.strategy}" if row.strategy else "")
    head += f" · {row.base_url}" if row.base_url else ""
    if cred is None:
        return Text.assemble((head, "bold"), "\nNo credential: press a to add an API key or o to log in.")
    lines = [Text(head, style="bold")]
    what = f"{cred.label or cred.id} · {cred.type or '?'} · source {cred.source or '—'} · priority {cred.priority}"
    if cred.expires_at:
        what += f" · expires {fmt.clock_time(cred.expires_at)}"
    lines.append(Text(what))
    state = Text.assemble(("state ", "bold"), cred.shown_state(now))
    if cred.message:
        state.append(f" — {cred.message}")
    lines.append(state)
    lines += [Text.assemble(("quota ", "bold"), bar_line(bar, now)) for bar in bars]
    active = cred.active_cooldowns(now)
    for cd in active:
        why = cd.reason + (f" (HTTP {cd.status})" if cd.status else "")
        lines.append(
            Text(
                f"cooldown {cd.model or 'every model'}: {why or 'cooling down'}, "
                f"{fmt.duration(cd.left(now))} left (until {fmt.clock_time(cd.until)})"
            )
        )
    if active:
        lines.append(Text("x clears this credential's cooldowns, X clears all.", style="italic"))
    return Text("\n").join(lines)


class ProvidersScreen(ProxyPalScreen):
    TITLE_TEXT = "Providers"
    BINDINGS = [
        Binding(
            "a",
            "add_key",
            "Add key",
            id="providers.add_key",
            tooltip="Store a provider's API key (masked input) in the secret store; optionally reference it.",
        ),
        Binding(
            "o",
            "login",
            "Log in",
            id="providers.login",
            tooltip="Log in with a browser (or by pasting the redirect URL), a device code or a key file.",
        ),
        Binding(
            "x",
            "clear_cooldowns",
            "Clear",
            id="providers.clear",
            tooltip="Clear the highlighted credential's cooldowns.",
        ),
        Binding("X", "clear_all", "Clear all", id="providers.clear_all", tooltip="Clear every cooldown."),
        Binding(
            "u",
            "logout",
            "Log out",
            id="providers.logout",
            show=False,
            tooltip="Forget the highlighted login or stored API key.",
        ),
        Binding(
            "g",
            "refresh",
            "Refresh",
            show=False,
            id="providers.refresh",
            tooltip="Ask the engine for credential states.",
        ),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._drawn: tuple[int, int] | None = None
        self._selected: str | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("", id="store-note")
        yield DataTable(id="providers-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="quota-bars")
        yield Static(detail_text(None, None, 0), id="credential-detail")

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one(DataTable)
        for label in COLUMNS:
            # DataTable does not measure Content cells: the styled State column gets its width up front.
            table.add_column(label, key=label.lower(), width=STATE_WIDTH if label == "State" else None)
        table.focus()

    @property
    def board(self) -> CredentialBoard:
        return self.session.live.auth

    def redraw(self) -> None:
        board = self.board
        now = self.session.now()
        self._draw_store_note()
        # Redraw on news, and once a second while a cooldown counts down.
        key = (board.version, int(now) if board.any_cooling(now) else 0)
        if key != self._drawn:
            self._drawn = key
            self._fill_table(now)
        self._draw_quota(now)
        self._show_detail()

    def _draw_quota(self, now: float) -> None:
        quota = self.session.live.quota
        panel = self.query_one("#quota-bars", Static)
        panel.display = bool(quota.windows)
        if quota.windows:
            panel.update(quota_text(quota, now))

    def _draw_store_note(self) -> None:
        store = self.board.store
        note = self.query_one("#store-note", Static)
        if not self.board.loaded:
            text = "Waiting for the engine's credential states…"
        elif store.error:
            text = f"⚠ The engine cannot open its secret store: {store.error}"
        else:
            text = f"Secrets: {store.backend or 'unknown store'}" + (f" — {store.notice}" if store.notice else "")
        note.update(Text(text))  # engine-supplied text: never parsed as markup
        note.set_class(bool(store.error or store.notice), "warn")

    def _fill_table(self, now: float) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for row in sorted(self.board.providers.values(), key=lambda r: r.name):
            if not row.credentials:
                table.add_row(short(row.name, 12), "—", "", Content.styled("none", "italic"), "", key=f"{row.name}/")
            for c in row.credentials:
                table.add_row(
                    short(row.name, 12),
                    short(c.label or c.id, 20),
                    c.type,
                    Content.styled(c.shown_state(now), STATE_STYLE.get(c.shown_state(now), "")),
                    cooldown_cell(c, now),
                    key=c.key,
                )
        if self._selected is not None:
            try:
                table.move_cursor(row=table.get_row_index(self._selected), animate=False)
            except RowDoesNotExist:  # that credential is gone (logged out, or a new login replaced it)
                self._selected = None

    @on(DataTable.RowHighlighted, "#providers-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._selected = str(event.row_key.value)
        self._show_detail()

    def selection(self) -> tuple[ProviderRow | None, CredentialRow | None]:
        key = self._selected
        if key is None:
            return None, None
        name = key.split("/", 1)[0]
        return self.board.providers.get(name), self.board.find(key)

    def _show_detail(self) -> None:
        row, cred = self.selection()
        bars = self.session.live.quota.of(row.name, cred.id) if row is not None and cred is not None else []
        self.query_one("#credential-detail", Static).update(detail_text(row, cred, self.session.now(), bars))

    # ---- actions ----------------------------------------------------------------------------------

    def action_add_key(self) -> None:
        choices = sorted({*KEY_PROVIDERS, *self.session.key_based_providers()})
        row, _ = self.selection()
        first = row.name if row is not None and row.name in choices else None
        self.app.push_screen(AddKeyScreen(self.session.options, choices, self.board.store, first))

    def action_login(self) -> None:
        row, _ = self.selection()
        wanted = row.login if row is not None and row.login else None
        self.app.push_screen(LoginScreen(self.session.options, LOGIN_CHOICES, wanted))

    def action_clear_cooldowns(self) -> None:
        row, cred = self.selection()
        if row is None or cred is None:
            self.notify("Highlight a credential first (↑/↓).", severity="warning")
            return
        self.actions.clear_cooldowns(row.name, cred.id)

    def action_clear_all(self) -> None:
        self.actions.clear_cooldowns()

    def action_logout(self) -> None:
        row, cred = self.selection()
        request = logout_request(row, cred)
        if request is None or cred is None or row is None:
            self.notify("Only stored logins and keyring: keys can be forgotten here.", severity="warning")
            return
        question = f"Forget {row.name}'s credential {cred.label or cred.id}? Requests stop using it."

        def answered(yes: bool | None) -> None:
            if yes:
                self.actions.run_logout(request)

        self.app.push_screen(ConfirmScreen(question), answered)

    def action_refresh(self) -> None:
        self.actions.load_auth_status()

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Add API key", "Store a provider key in the secret store", self.action_add_key)
        yield SystemCommand("Log in to a provider", "Browser, device code or key file", self.action_login)
        yield SystemCommand("Clear all cooldowns", "Every credential may be used again", self.action_clear_all)
        yield SystemCommand("Refresh providers", "Ask the engine for credential states", self.action_refresh)


def logout_request(row: ProviderRow | None, cred: CredentialRow | None) -> LoginRequest | None:
    """What `proxypal-engine logout` needs to forget this credential; None for env: keys and the like."""
    if row is None or cred is None:
        return None
    if cred.type in ("oauth", "service_account") and cred.source.startswith("login:"):
        login = cred.source.removeprefix("login:") or row.login
        label = "" if cred.state == "missing" else cred.id
        return LoginRequest(login, "logout", label=label) if label else None
    if cred.source.startswith("keyring:"):
        return LoginRequest(cred.source.removeprefix("keyring:"), "logout_key")
    return None
