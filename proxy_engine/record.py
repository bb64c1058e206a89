"""One request's record, filled in along the request path and written once at the end."""

from __future__ import annotations

import functools
import re
import time
from typing import Any, Protocol

from proxy_engine.protocol import RequestFinished, RequestStarted
from proxy_engine.request_ids import new_request_id
from proxy_engine.usage.tokens import Usage

_AGENTS = (
    ("claude-cli", "claude-code"), ("codex", "codex"), ("geminicli", "gemini-cli"), ("aider", "aider"),
    ("opencode", "opencode"), ("amp", "amp"), ("continue", "continue"), ("cursor", "cursor"),
    ("anthropic/python", "anthropic-sdk"), ("openai/python", "openai-sdk"), ("google-genai", "genai-sdk"),
)  # fmt: skip


# The longest model name a request may send, and the most any recorded string keeps: a 10 MB
# model name must not be stored twice per ledger row, sent in every event and echoed back.
MODEL_NAME_MAX = 256
_SURROGATE = re.compile("[\ud800-\udfff]")
TEXT_MAX = 256
ERROR_MESSAGE_MAX = 4096


def bounded(text: str | None, limit: int = TEXT_MAX) -> str | None:
    """`text` cut to `limit` characters (marked with an ellipsis) and storable as UTF-8; None stays None.

    A JSON `\\ud800` escape or an undecodable header leaves a lone surrogate, which SQLite and
    every UTF-8 writer refuse; it becomes U+FFFD.
    """
    if text is None:
        return None
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    if not text.isascii():
        text = _SURROGATE.sub("\ufffd", text)
    return text


class NamedProvider(Protocol):
    """What a record notes of the provider an attempt went to (kept apart from `providers`)."""

    name: str
    kind: str


class _Text:
    """A slot for text that came from outside: stored bounded and encodable, whoever sets it."""

    def __init__(self, limit: int = TEXT_MAX) -> None:
        self.limit = limit

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = "_" + name
        member = getattr(owner, self.slot)  # the slot's own descriptor: a C call, no attribute lookup
        self.load, self.store = member.__get__, member.__set__

    def __get__(self, obj: object, owner: type | None = None) -> str | _Text | None:
        return self if obj is None else self.load(obj)

    def __set__(self, obj: object, value: str | None) -> None:
        if type(value) is str and value.isascii() and len(value) <= self.limit:
            self.store(obj, value)  # what `bounded` keeps as it is, without its call: the usual text
        else:
            self.store(obj, bounded(value, self.limit) if isinstance(value, str) else value)


@functools.lru_cache(maxsize=256)
def _agent_text(user_agent: str) -> str:
    """The record's agent name: one client sends the same User-Agent on every request, so cache it."""
    return bounded(agent_of(user_agent)) or ""


def agent_of(user_agent: str) -> str:
    ua = user_agent.lower()[:512]
    for needle, name in _AGENTS:
        if needle in ua:
            return name
    return ua.split("/", 1)[0][:32] if ua else ""


class RequestRecord:
    __slots__ = (
        "_agent",
        "_client",
        "_credential",
        "_error_code",
        "_error_message",
        "_model",
        "_model_requested",
        "_provider",
        "_session",
        "attempts",
        "cost_usd",
        "dialect_in",
        "dialect_out",
        "id",
        "include_usage_requested",
        "member",
        "paid_fallback",
        "provider_kind",
        "recorded",
        "status",
        "stream",
        "t0",
        "t_first",
        "team",
        "ts_start",
        "usage",
    )  # fmt: skip

    agent = _Text()
    client = _Text()
    credential = _Text()
    error_code = _Text()
    error_message = _Text(ERROR_MESSAGE_MAX)
    model = _Text()
    model_requested = _Text()
    provider = _Text()
    session = _Text()  # the agent session (request_path/sessions.py), None when the client sent none

    def __init__(self, dialect_in: str, user_agent: str) -> None:
        self.ts_start = ts = time.time()
        self.id = new_request_id(ts)  # time-ordered: the ledger's primary key
        self.t0 = time.perf_counter()
        self.t_first: float | None = None
        self._client = ""
        self._agent = _agent_text(user_agent)
        self.dialect_in = dialect_in
        self.dialect_out: str | None = None
        self._model_requested = None
        self._provider = None
        self.provider_kind = ""
        self._model = None
        self._credential = None
        self._session = None
        self.member: str | None = None  # the member key's id when a member key called (members/access.py)
        self.team: str | None = None
        self.stream = False
        self.status = 0
        self.usage: Usage | None = None
        self.cost_usd: float | None = None
        self.attempts = 0
        self._error_code = None
        self._error_message = ""
        self.include_usage_requested = False
        self.paid_fallback = False  # served (or last tried) by a paid provider after a subscription/free start
        self.recorded = False  # finished once, before the reply's last byte when it streams

    def attempt(self, provider: NamedProvider, model: str, dialect_out: str) -> None:
        self.attempts += 1
        self.provider, self.provider_kind, self.model, self.dialect_out = (
            provider.name,
            provider.kind,
            model,
            dialect_out,
        )

    def attempt_name(self, provider: str, model: str) -> None:
        self.provider, self.model = provider, model

    def first_byte(self) -> None:
        self.t_first = time.perf_counter()

    def fail(self, status: int, code: str, message: str) -> None:
        self.status, self.error_code, self.error_message = status, code, message

    def started_event(self) -> RequestStarted:
        return RequestStarted(
            id=self.id, ts_start=self.ts_start, client=self.client, agent=self.agent, dialect_in=self.dialect_in,
            model_requested=self.model_requested, provider=self.provider, model=self.model, stream=self.stream,
            session=self.session,
        )  # fmt: skip

    def started_dict(self) -> dict[str, Any]:
        """The `request.started` payload as a dict, built in one step (equal to `started_event().to_dict()`,
        held so by tests/test_record_dict.py): it is sent for every request while a subscriber listens."""
        return {
            "id": self.id,
            "ts_start": self.ts_start,
            "client": self._client,
            "agent": self._agent,
            "dialect_in": self.dialect_in,
            "model_requested": self._model_requested,
            "provider": self._provider,
            "model": self._model,
            "stream": self.stream,
            "session": self._session,
            "replica": "",
        }

    def finished_event(self) -> RequestFinished:
        """The typed `request.finished` event (the request path sends `as_dict`, which this reads back)."""
        return RequestFinished.from_dict(self.as_dict())

    def as_dict(self) -> dict[str, Any]:
        """The `request.finished` payload as a dict: the event, the ledger row and the stats input.

        Built in one step rather than through the typed event (`finished_event` reads it back; the tests in
        tests/test_record_dict.py hold the round trip exact): it runs once per request.
        """
        u = self.usage
        t_first = self.t_first
        code = self._error_code
        return {
            "id": self.id,
            "ts_start": self.ts_start,
            "client": self._client,
            "agent": self._agent,
            "dialect_in": self.dialect_in,
            "dialect_out": self.dialect_out,
            "model_requested": self._model_requested,
            "provider": self._provider,
            "model": self._model,
            "credential": self._credential,
            "stream": self.stream,
            "status": self.status or 500,
            "latency_ms": round((time.perf_counter() - self.t0) * 1000, 2),
            "ttfb_ms": round((t_first - self.t0) * 1000, 2) if t_first else None,
            "input_tokens": u.input_tokens if u else 0,
            "output_tokens": u.output_tokens if u else 0,
            "cache_read_tokens": u.cache_read_tokens if u else 0,
            "cache_write_tokens": u.cache_write_tokens if u else 0,
            "cost_usd": self.cost_usd,
            "attempts": self.attempts,
            "error": {"code": code, "message": self._error_message} if code else None,
            "paid_fallback": self.paid_fallback,
            "session": self._session,
            "member": self.member,
            "team": self.team,
            "replica": "",
        }
