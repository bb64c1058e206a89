"""Codex CLI's side of the wire, as openai/codex sends it: its headers, its Responses request body,
and its WebSocket mode (one `response.create` message per turn, the events back as JSON messages).

Header and body shapes from openai/codex `codex-rs/core/src/client.rs` and `codex-api/src/common.rs`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiohttp

from tests.request_path.codex_stack import CLIENT_KEY

TERMINAL = ("response.completed", "response.incomplete", "response.failed", "error")
SHELL_TOOL = {
    "type": "function",
    "name": "shell",
    "description": "Runs a shell command and returns its output.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {"command": {"type": "array", "items": {"type": "string"}}},
        "required": ["command"],
        "additionalProperties": False,
    },
}


def codex_headers(session_id: str, *, socket: bool = False, key: str = CLIENT_KEY) -> dict[str, str]:
    headers = {
        "Authorization": f"Bearer {key}",
        "originator": "codex_cli_rs",
        "User-Agent": "codex_cli_rs/0.63.0 (Ubuntu 24.4.0; x86_64) xterm-256color",
        "version": "0.63.0",
        "session-id": session_id,
        "x-client-request-id": session_id,
    }
    if socket:
        headers["OpenAI-Beta"] = "responses_websockets=2026-02-06"
    else:
        headers["Accept"] = "text/event-stream"
    return headers


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def call_output(call_id: str, output: str) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": output}


def codex_body(model: str, items: list[dict[str, Any]], session_id: str) -> dict[str, Any]:
    """A Responses request as Codex builds one (`ResponsesApiRequest`)."""
    return {
        "model": model,
        "instructions": "You are a coding agent running in the Codex CLI.",
        "input": items,
        "tools": [SHELL_TOOL],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": None,
        "store": False,
        "stream": True,
        "include": [],
        "prompt_cache_key": session_id,
    }


class CodexSocket:
    """One Responses WebSocket, used as Codex uses it."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def turn(self, body: dict[str, Any], **extra: Any) -> list[dict[str, Any]]:
        """Send one `response.create` and read its events up to the last one."""
        await self.ws.send_str(json.dumps({"type": "response.create", **body, **extra}))
        events = []
        while True:
            msg = await self.ws.receive(timeout=30)
            assert msg.type == aiohttp.WSMsgType.TEXT, f"expected a JSON text message, got {msg.type}: {msg.data}"
            event = json.loads(msg.data)
            events.append(event)
            if event["type"] in TERMINAL:
                return events


def final(events: list[dict[str, Any]]) -> dict[str, Any]:
    assert events[-1]["type"] == "response.completed", events[-1]
    return events[-1]["response"]


def output_items(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["item"] for e in events if e["type"] == "response.output_item.done"]


def new_session() -> str:
    return str(uuid.uuid4())
