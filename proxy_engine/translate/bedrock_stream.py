"""Bedrock ConverseStream events -> IR events.

The proxy decodes the binary event stream (dialects.eventstream) into one dict per event, keyed by
the event type: {"contentBlockDelta": {"delta": {...}, "contentBlockIndex": 0}}. Text and reasoning
blocks have no start event; only tool calls do. Usage arrives in `metadata`, after `messageStop`.
Exceptions arrive as {"exception": {"type", "message"}} (or keyed by their own type).
"""

from __future__ import annotations

from proxy_engine.usage.upstream import from_bedrock

from .bedrock import ME, finish_reason
from .context import Context
from .fields import as_int, as_obj
from .ids import new_id
from .ir import (
    Event,
    Finish,
    Start,
    StreamError,
    TextDelta,
    ThinkingDelta,
    ThinkingSignature,
    ToolDelta,
    ToolStart,
    UsageUpdate,
)

EXCEPTION_STATUS = {
    "internalServerException": 500,
    "modelStreamErrorException": 502,
    "validationException": 400,
    "throttlingException": 429,
    "serviceUnavailableException": 503,
    "modelTimeoutException": 504,
    "accessDeniedException": 403,
}


def _status(kind: str) -> int:
    key = kind[:1].lower() + kind[1:]  # the JSON protocol's error names start upper-case
    return EXCEPTION_STATUS.get(key, 502)


class BedrockStreamDecoder:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.blocks: dict[int, dict] = {}  # contentBlockIndex -> {"kind", "sig", "text", "redacted"}

    def feed(self, event: dict) -> list[Event]:
        out: list[Event] = []
        for kind, payload in event.items():
            out.extend(self._one(kind, as_obj(payload)))
        return out

    def _block(self, index: int, kind: str) -> dict:
        block = self.blocks.get(index)
        if block is None:
            block = {"kind": kind, "sig": "", "text": False, "redacted": False}
            self.blocks[index] = block
        return block

    def _one(self, kind: str, payload: dict) -> list[Event]:
        if kind == "messageStart":
            return [Start(id=None, model=self.ctx.model or None)]
        if kind == "contentBlockStart":
            index = as_int(payload.get("contentBlockIndex")) or 0
            use = as_obj(as_obj(payload.get("start")).get("toolUse"))
            if not use:
                return []
            self._block(index, "tool")
            call_id = str(use.get("toolUseId") or new_id("tooluse_"))
            return [ToolStart(key=index, id=call_id, name=str(use.get("name", "")))]
        if kind == "contentBlockDelta":
            return self._delta(as_int(payload.get("contentBlockIndex")) or 0, as_obj(payload.get("delta")))
        if kind == "contentBlockStop":
            block = self.blocks.pop(as_int(payload.get("contentBlockIndex")) or 0, None)
            if block and block["kind"] == "reasoning" and not block["redacted"] and (block["sig"] or block["text"]):
                return [ThinkingSignature(signature=block["sig"] or None, source=ME)]
            return []
        if kind == "messageStop":
            seq = as_obj(payload.get("additionalModelResponseFields")).get("stop_sequence")
            return [
                Finish(
                    reason=finish_reason(payload.get("stopReason")), stop_sequence=seq if isinstance(seq, str) else None
                )
            ]
        if kind == "metadata":
            usage = from_bedrock(payload.get("usage"))
            return [UsageUpdate(**usage.as_dict())] if usage is not None else []
        if kind == "exception":
            etype = str(payload.get("type") or "exception")
            message = str(payload.get("message") or "Bedrock stream error")
            return [StreamError(message=message, status=_status(etype), kind=etype)]
        if kind.endswith("Exception"):
            message = str(payload.get("message") or payload.get("Message") or kind)
            return [StreamError(message=message, status=_status(kind), kind=kind)]
        return []  # event types added later

    def _delta(self, index: int, delta: dict) -> list[Event]:
        if isinstance(delta.get("text"), str):
            return [TextDelta(text=delta["text"])]
        if isinstance(delta.get("toolUse"), dict):
            if self.blocks.get(index, {}).get("kind") != "tool":
                return []  # arguments for a call that never started cannot be placed
            return [ToolDelta(key=index, arguments=str(delta["toolUse"].get("input") or ""))]
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, dict):
            block = self._block(index, "reasoning")
            if isinstance(reasoning.get("text"), str):
                block["text"] = block["text"] or bool(reasoning["text"])
                return [ThinkingDelta(text=reasoning["text"])]
            if isinstance(reasoning.get("signature"), str):
                block["sig"] += reasoning["signature"]
                return []
            if reasoning.get("redactedContent") is not None:
                block["redacted"] = True
                return [ThinkingSignature(signature=None, source=ME, redacted=str(reasoning["redactedContent"]))]
        return []

    def finish(self) -> list[Event]:
        return []
