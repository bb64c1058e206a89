"""The block bookkeeping every client stream encoder shares.

Upstream events arrive as IR events (text, thinking, tool call deltas). Each client dialect
frames them differently, but all of them open a block, fill it, and close it before the next
one starts; this base class tracks that, so each encoder only says how to frame each step.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from .context import Context
from .ir import (
    Event,
    Finish,
    FinishReason,
    Start,
    StreamError,
    TextDelta,
    ThinkingDelta,
    ThinkingSignature,
    ToolDelta,
    ToolStart,
    Usage,
    UsageUpdate,
    apply_usage,
)


class BlockEncoder(ABC):
    def __init__(self, ctx: Context, model: str) -> None:
        self.ctx = ctx
        self.model = model
        self.upstream_id: str | None = None
        self.usage = Usage()
        self.saw_usage = False
        self.usage_rev = 0  # bumped on every usage update, so encoders can cache its rendering
        self.reason: FinishReason | None = None
        self.stop_sequence: str | None = None
        self.block: str | None = None  # "text" | "thinking" | "tool"
        self.tool_key: object = None
        self.tools_seen = 0
        self.started = False
        self.done = False
        self.error: tuple[int, str] | None = None  # (status, message) once the stream ended in an error

    def answered_by(self, model: str) -> None:
        """The upstream's first event named the model that answers: the reply names it too (docs/DESIGN.md,
        the `model` rule). Encoders that render the model into cached bytes re-render them here."""
        self.model = model

    # ---- framing hooks (subclasses) ----
    def on_start(self) -> bytes:
        return b""

    def open_text(self) -> bytes:
        return b""

    @abstractmethod
    def text(self, delta: str) -> bytes: ...

    def text_literal(self, literal: bytes) -> bytes:
        """`text` of a delta given as its JSON string literal, one with nothing escaped (so exactly the
        bytes `quote` gives for it): encoders that only quote the delta use the bytes as they came."""
        return self.text(literal[1:-1].decode())

    def close_text(self) -> bytes:
        return b""

    def open_thinking(self) -> bytes:
        return b""

    def thinking(self, delta: str) -> bytes:
        return b""

    def close_thinking(self, sig: ThinkingSignature | None) -> bytes:
        return b""

    @abstractmethod
    def open_tool(self, ev: ToolStart) -> bytes: ...

    @abstractmethod
    def tool_args(self, key: object, delta: str) -> bytes: ...

    def close_tool(self) -> bytes:
        return b""

    @abstractmethod
    def on_end(self, reason: FinishReason) -> bytes: ...

    @abstractmethod
    def on_error(self, message: str, status: int) -> bytes: ...

    # ---- driver ----
    def feed(self, events: list[Event]) -> bytes:
        if not events or self.done:
            return b""
        if len(events) == 1:  # the usual case: one token in, one event out
            return self._one(events[0])
        return b"".join([self._one(ev) for ev in events])

    def _ensure_start(self) -> bytes:
        if self.started:
            return b""
        self.started = True
        return self.on_start()

    def _close(self, sig: ThinkingSignature | None = None) -> bytes:
        block, self.block = self.block, None
        if block == "text":
            return self.close_text()
        if block == "thinking":
            return self.close_thinking(sig)
        if block == "tool":
            return self.close_tool()
        return b""

    def _one(self, ev: Event) -> bytes:
        if self.done:
            return b""
        kind = type(ev)
        # Fast paths for the per-token events inside an open block of their kind.
        if kind is TextDelta and self.block == "text":
            return self.text(ev.text) if ev.text else b""
        if kind is ToolDelta and self.started:
            return self.tool_args(ev.key, ev.arguments) if ev.arguments else b""
        if kind is ThinkingDelta and self.block == "thinking":
            return self.thinking(ev.text) if ev.text else b""
        if isinstance(ev, UsageUpdate):
            apply_usage(self.usage, ev)
            self.saw_usage = True
            self.usage_rev += 1
            return b""
        if isinstance(ev, Start):
            # Only strings: an upstream's `"model": true` must not reach the encoders' byte templates.
            if isinstance(ev.id, str) and ev.id:
                self.upstream_id = ev.id
            if isinstance(ev.model, str) and ev.model and not self.started:
                self.answered_by(ev.model)
            return b""
        if isinstance(ev, Finish):
            self.reason, self.stop_sequence = ev.reason, ev.stop_sequence
            return b""
        if isinstance(ev, StreamError):
            return self.fail(ev.message, ev.status)
        out = self._ensure_start()
        if isinstance(ev, TextDelta):
            if not ev.text:
                return out
            if self.block != "text":
                out += self._close() + self.open_text()
                self.block = "text"
            return out + self.text(ev.text)
        if isinstance(ev, ThinkingDelta):
            if not ev.text:
                return out
            if self.block != "thinking":
                out += self._close() + self.open_thinking()
                self.block = "thinking"
            return out + self.thinking(ev.text)
        if isinstance(ev, ThinkingSignature):
            if self.block != "thinking":
                out += self._close() + self.open_thinking()
                self.block = "thinking"
            return out + self._close(ev)
        if isinstance(ev, ToolStart):
            out += self._close() + self.open_tool(ev)
            self.block, self.tool_key = "tool", ev.key
            self.tools_seen += 1
            return out
        if isinstance(ev, ToolDelta):
            if not ev.arguments:
                return out
            return out + self.tool_args(ev.key, ev.arguments)
        return out

    def final_reason(self) -> FinishReason:
        reason = self.reason or "stop"
        if reason == "stop" and self.tools_seen:
            return "tool_calls"
        return reason

    def finish(self) -> bytes:
        """Close everything; a stream that ended without its final event still ends validly."""
        if self.done:
            return b""
        out = self._ensure_start() + self._close()
        self.done = True
        return out + self.on_end(self.final_reason())

    def fail(self, message: str, status: int = 502) -> bytes:
        if self.done:
            return b""
        self.done = True
        self.error = (status, message)
        return self.on_error(message, status)
