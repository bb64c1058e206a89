"""Request validation for the OpenAI fake: the structural rules the real API enforces with a 400.

Unknown extra fields are accepted (openai-compatible servers and proxies pass them through).
"""

from __future__ import annotations

import re
from typing import Any

from .base import InvalidRequest

FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
IMAGE_DATA_URL = re.compile(r"^data:image/[a-z0-9.+-]+;base64,[A-Za-z0-9+/]+={0,2}$")
CHAT_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
CHAT_PART_TYPES = {"text", "image_url", "input_audio", "file", "refusal"}
RESP_INPUT_PARTS = {"input_text", "input_image", "input_file", "input_audio"}
RESP_OUTPUT_PARTS = {"output_text", "refusal"}
RESP_ROLES = {"user", "system", "developer", "assistant"}


def _one_of(value: Any, allowed: set[str]) -> bool:
    """Membership that a JSON object or array (unhashable) fails instead of crashing the fake."""
    return isinstance(value, str) and value in allowed


def _require_model(body: dict[str, Any]) -> None:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("you must provide a model parameter", "model")


def _check_stream_fields(body: dict[str, Any]) -> None:
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("Invalid type for 'stream': expected a boolean", "stream")
    if body.get("stream_options") is not None and not stream:
        raise InvalidRequest(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options"
        )


def _check_chat_content(content: Any, where: str, role: str) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list) or not content:
        raise InvalidRequest(f"Invalid '{where}.content': expected a string or a non-empty array", where)
    for j, part in enumerate(content):
        if isinstance(part, dict) and "cache_control" in part:  # Anthropic's; OpenAI caches by itself
            raise InvalidRequest(f"Unrecognized request argument supplied: {where}.content[{j}].cache_control")
        if not isinstance(part, dict) or not _one_of(part.get("type"), CHAT_PART_TYPES):
            raise InvalidRequest(f"Invalid '{where}.content[{j}].type'", f"{where}.content[{j}].type")
        ptype = part["type"]
        if ptype == "text" and not isinstance(part.get("text"), str):
            raise InvalidRequest(f"Missing required parameter: '{where}.content[{j}].text'.")
        if ptype == "image_url":
            url = (part.get("image_url") or {}).get("url")
            if not isinstance(url, str):
                raise InvalidRequest(f"Missing required parameter: '{where}.content[{j}].image_url.url'.")
            if not (url.startswith(("http://", "https://")) or IMAGE_DATA_URL.match(url)):
                raise InvalidRequest(
                    f"Invalid '{where}.content[{j}].image_url.url': expected a URL or a base64 image data URL."
                )
        if role != "user" and ptype not in ("text", "refusal"):
            raise InvalidRequest(f"Invalid '{where}.content[{j}].type': only text is allowed for role {role}")


def _check_chat_tool_calls(calls: Any, where: str) -> list[str]:
    if not isinstance(calls, list) or not calls:
        raise InvalidRequest(f"Invalid '{where}.tool_calls': expected a non-empty array", where)
    ids = []
    for j, call in enumerate(calls):
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(call, dict) or not isinstance(call.get("id"), str) or not isinstance(fn, dict):
            raise InvalidRequest(f"Missing required parameter: '{where}.tool_calls[{j}].id/function'.")
        if call.get("type", "function") != "function":
            raise InvalidRequest(f"Invalid '{where}.tool_calls[{j}].type'")
        if not isinstance(fn.get("name"), str) or not isinstance(fn.get("arguments"), str):
            raise InvalidRequest(
                f"Invalid '{where}.tool_calls[{j}].function': name and arguments (a JSON string) are required"
            )
        ids.append(call["id"])
    return ids


def validate_chat(body: dict[str, Any]) -> None:
    """POST /v1/chat/completions."""
    _require_model(body)
    _check_stream_fields(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array", "messages")
    pending: list[str] = []  # tool_call ids still waiting for a tool message
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict) or not _one_of(msg.get("role"), CHAT_ROLES):
            raise InvalidRequest(f"Invalid value for '{where}.role'", f"{where}.role")
        role = msg["role"]
        if role != "tool" and pending:
            raise InvalidRequest(
                "An assistant message with 'tool_calls' must be followed by tool messages responding to "
                f"each 'tool_call_id'. The following tool_call_ids did not have response messages: {pending}",
                f"{where}.role",
            )
        if role == "assistant":
            if msg.get("tool_calls") is not None:
                pending = _check_chat_tool_calls(msg["tool_calls"], where)
            elif msg.get("content") is None and msg.get("function_call") is None:
                raise InvalidRequest(f"Missing required parameter: '{where}.content'.", f"{where}.content")
            if msg.get("content") is not None:
                _check_chat_content(msg["content"], where, role)
        elif role == "tool":
            call_id = msg.get("tool_call_id")
            if not isinstance(call_id, str):
                raise InvalidRequest(f"Missing required parameter: '{where}.tool_call_id'.")
            if call_id not in pending:
                raise InvalidRequest(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                    "message with 'tool_calls'.",
                    f"{where}.role",
                )
            pending.remove(call_id)
            _check_chat_content(msg.get("content"), where, role)
        else:
            _check_chat_content(msg.get("content"), where, role)
    if pending:
        raise InvalidRequest(f"tool_call_ids did not have response messages: {pending}", "messages")
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise InvalidRequest("Invalid type for 'tools': expected an array", "tools")
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict) or tool.get("type") not in ("function", "custom"):
                raise InvalidRequest(f"Invalid value for 'tools[{i}].type'", f"tools[{i}].type")
            spec = tool.get(tool["type"])
            if not isinstance(spec, dict) or not FUNCTION_NAME.match(str(spec.get("name", ""))):
                raise InvalidRequest(
                    f"Invalid 'tools[{i}].{tool['type']}.name': must match ^[a-zA-Z0-9_-]{{1,64}}$",
                    f"tools[{i}]",
                )


def validate_completions(body: dict[str, Any]) -> None:
    """POST /v1/completions (legacy)."""
    _require_model(body)
    _check_stream_fields(body)
    prompt = body.get("prompt")
    if not isinstance(prompt, (str, list)):
        raise InvalidRequest("Missing required parameter: 'prompt'.", "prompt")


def _check_resp_message(item: dict[str, Any], where: str) -> None:
    role = item.get("role")
    if not _one_of(role, RESP_ROLES):
        raise InvalidRequest(f"Invalid value for '{where}.role'", f"{where}.role")
    content = item.get("content")
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise InvalidRequest(f"Missing required parameter: '{where}.content'.", f"{where}.content")
    allowed = RESP_OUTPUT_PARTS if role == "assistant" else RESP_INPUT_PARTS
    for j, part in enumerate(content):
        ptype = part.get("type") if isinstance(part, dict) else None
        if not _one_of(ptype, allowed):
            raise InvalidRequest(
                f"Invalid value: '{ptype}'. Supported values are: {', '.join(sorted(allowed))}.",
                f"{where}.content[{j}].type",
            )
        if ptype in ("input_text", "output_text") and not isinstance(part.get("text"), str):
            raise InvalidRequest(f"Missing required parameter: '{where}.content[{j}].text'.")


def validate_responses(body: dict[str, Any]) -> None:
    """POST /v1/responses."""
    _require_model(body)
    _check_stream_fields(body)
    if "input" not in body:
        raise InvalidRequest("Missing required parameter: 'input'.", "input")
    items = body["input"]
    if not isinstance(items, (str, list)):
        raise InvalidRequest("Invalid type for 'input': expected a string or an array", "input")
    if body.get("instructions") is not None and not isinstance(body["instructions"], str):
        raise InvalidRequest("Invalid type for 'instructions': expected a string", "instructions")
    call_ids: set[str] = set()
    for i, item in enumerate(items if isinstance(items, list) else []):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise InvalidRequest(f"Invalid type for '{where}': expected an object", where)
        itype = item.get("type", "message")
        if itype == "message":
            _check_resp_message(item, where)
        elif itype == "function_call":
            for key in ("call_id", "name", "arguments"):
                if not isinstance(item.get(key), str):
                    raise InvalidRequest(f"Missing required parameter: '{where}.{key}'.", f"{where}.{key}")
            call_ids.add(item["call_id"])
        elif itype == "function_call_output":
            if not isinstance(item.get("call_id"), str) or "output" not in item:
                raise InvalidRequest(f"Missing required parameter: '{where}.call_id/output'.", where)
            if item["call_id"] not in call_ids and not body.get("previous_response_id"):
                raise InvalidRequest(
                    f"No tool call found for function call output with call_id {item['call_id']}.", where
                )
        elif itype == "reasoning" and not isinstance(item.get("summary"), list):
            raise InvalidRequest(f"Missing required parameter: '{where}.summary'.", f"{where}.summary")
    for i, tool in enumerate(body.get("tools") or []):
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise InvalidRequest(f"Missing required parameter: 'tools[{i}].type'.", f"tools[{i}].type")
        if tool["type"] == "function" and not FUNCTION_NAME.match(str(tool.get("name", ""))):
            raise InvalidRequest(f"Missing required parameter: 'tools[{i}].name'.", f"tools[{i}].name")


def validate_compact(body: dict[str, Any]) -> None:
    """POST /v1/responses/compact: a model and the history as a list of items; it never streams."""
    _require_model(body)
    if "stream" in body:
        raise InvalidRequest("Unknown parameter: 'stream'.", "stream")
    if not isinstance(body.get("input"), list):
        raise InvalidRequest("Invalid type for 'input': expected an array", "input")
    validate_responses({k: v for k, v in body.items() if k not in ("tools", "parallel_tool_calls")})
