"""Reshaping conversations for targets with stricter rules than the client's."""

from __future__ import annotations

import re
from functools import lru_cache

from .ir import Message, Part, Text, ToolResult

_OPENAI_REASONING = re.compile(r"^(o\d|gpt-5|codex)", re.I)


@lru_cache(maxsize=256)  # asked on every request to an OpenAI upstream, for a handful of model names
def is_openai_reasoning_model(model: str) -> bool:
    """o-series and gpt-5 reject temperature/top_p and take max_completion_tokens."""
    return bool(_OPENAI_REASONING.match(model.rsplit("/", 1)[-1]))


def hoist_system(system: list[str], messages: list[Message]) -> tuple[list[str], list[Message]]:
    """Leading system messages join the system prompt; later ones stay where they are."""
    system = list(system)
    i = 0
    while i < len(messages) and messages[i].role == "system":
        text = "".join(p.text for p in messages[i].parts if isinstance(p, Text))
        if text:
            system.append(text)
        i += 1
    return system, messages[i:]


def system_note(text: str) -> Text:
    """A mid-conversation system message, for a target whose turns can only be user or assistant."""
    return Text(text=f"<system>\n{text}\n</system>")


def inline_system(messages: list[Message]) -> list[Message]:
    """Turn remaining system messages into user turns and merge neighbours of the same role."""
    out: list[Message] = []
    for msg in messages:
        if msg.role == "system":
            text = "".join(p.text for p in msg.parts if isinstance(p, Text))
            if not text:
                continue
            msg = Message(role="user", parts=[system_note(text)])
        if out and out[-1].role == msg.role:
            out[-1] = Message(role=msg.role, parts=_merge(out[-1].parts, msg.parts))
        else:
            out.append(Message(role=msg.role, parts=list(msg.parts)))
    return out


def _merge(first: list[Part], second: list[Part]) -> list[Part]:
    """Tool results lead a user turn (Anthropic requires it), the rest keeps its order."""
    parts = [*first, *second]
    results = [p for p in parts if isinstance(p, ToolResult)]
    if not results:
        return parts
    return [*results, *(p for p in parts if not isinstance(p, ToolResult))]
