"""Agent sessions for the TUI: the live feed grouped by session, and History's per-session view.

The engine names each request's session (the `session` field of `request.started`/`request.finished`,
read from the agent's headers). The Requests screen groups its bounded live feed by it; History reads
the ledger through `GET /v0/sessions` and `GET /v0/requests?session=ID`, so a restart loses nothing.
No Textual here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from proxy_engine.protocol import RequestFinished
from proxypal_tui.core.feed import FeedRow


@dataclass
class SessionSummary:
    """One agent session: what it cost and used, and when it was last seen."""

    session: str
    agent: str = ""
    client: str = ""
    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    models: list[str] = field(default_factory=list)
    first_seen: float = 0.0
    last_seen: float = 0.0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> SessionSummary | None:
        """A row of `GET /v0/sessions`, read leniently; None for a row without a session."""
        if not isinstance(d, dict) or not d.get("session"):
            return None
        models = d.get("models")
        return cls(
            session=str(d["session"]),
            agent=str(d.get("agent") or ""),
            client=str(d.get("client") or ""),
            requests=_int(d.get("requests")),
            errors=_int(d.get("errors")),
            input_tokens=_int(d.get("input_tokens")),
            output_tokens=_int(d.get("output_tokens")),
            cost_usd=_float(d.get("cost_usd")),
            models=[str(m) for m in models] if isinstance(models, list) else [],
            first_seen=_float(d.get("first_seen")),
            last_seen=_float(d.get("last_seen")),
        )


def _int(v: Any) -> int:
    try:
        return int(v or 0)
    except (TypeError, ValueError):
        return 0


def _float(v: Any) -> float:
    try:
        return float(v or 0.0)
    except (TypeError, ValueError):
        return 0.0


def group_by_session(rows: Iterable[FeedRow]) -> list[SessionSummary]:
    """The feed's requests that name a session, one summary per session, the latest seen first."""
    by_id: dict[str, SessionSummary] = {}
    for r in rows:
        if not r.session:
            continue
        s = by_id.get(r.session)
        if s is None:
            s = by_id[r.session] = SessionSummary(r.session, first_seen=r.ts_start, last_seen=r.ts_start)
        if r.ts_start >= s.last_seen or not s.agent:
            s.agent, s.client = r.agent or s.agent, r.client or s.client
        s.first_seen, s.last_seen = min(s.first_seen, r.ts_start), max(s.last_seen, r.ts_start)
        s.requests += 1
        s.errors += 1 if r.status is not None and r.status >= 400 else 0
        s.input_tokens += r.input_tokens
        s.output_tokens += r.output_tokens
        s.cost_usd += r.cost_usd or 0.0
        model = r.model or r.model_requested
        if model and model not in s.models:
            s.models.append(model)
    return sorted(by_id.values(), key=lambda s: (-s.last_seen, s.session))


@dataclass
class SessionHistory:
    """History's session view: the ledger's sessions, and the requests of the one chosen (None: the list).

    `version` counts answers and choices, so the screen redraws only when it changes.
    """

    sessions: list[SessionSummary] = field(default_factory=list)
    chosen: str | None = None
    requests: list[FeedRow] = field(default_factory=list)
    version: int = 0
    error: str = ""

    def choose(self, session: str | None) -> None:
        """Show this session's requests (once they are loaded), or the list again with None."""
        if session != self.chosen:
            self.chosen, self.requests = session, []
        self.version += 1

    def load_sessions(self, rows: list[dict[str, Any]]) -> None:
        self.sessions = [s for s in map(SessionSummary.from_api, rows) if s is not None]
        self.error = ""
        self.version += 1

    def load_requests(self, session: str, rows: list[dict[str, Any]]) -> None:
        if session != self.chosen:
            return  # an answer for a session no longer shown
        self.requests = [FeedRow.from_finished(RequestFinished.from_dict(r)) for r in rows if isinstance(r, dict)]
        self.error = ""
        self.version += 1

    def failed(self, error: str) -> None:
        self.error = error
        self.version += 1
