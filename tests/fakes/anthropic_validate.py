"""Request validation for the Anthropic fake: the Messages API rules the real service answers 400 to.

Unknown fields (Claude Code's `context_management`, new betas) are accepted. One rule is stricter than the
live API by default: turns must alternate user/assistant starting with user (the live API merges consecutive
same-role turns); pass `strict_alternation=False` to the fake to relax it.
"""

from __future__ import annotations

import re
from typing import Any

from .base import InvalidRequest

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
USER_BLOCKS = {"text", "image", "document", "tool_result", "search_result", "container_upload"}
ASSISTANT_BLOCKS = {
    "text",
    "tool_use",
    "thinking",
    "redacted_thinking",
    "server_tool_use",
    "web_search_tool_result",
    "web_fetch_tool_result",
    "code_execution_tool_result",
    "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result",
    "mcp_tool_use",
    "mcp_tool_result",
    "container_upload",
}


TOOL_RESULT_BLOCKS = {"text", "image", "document", "search_result"}
IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


def _image_source(source: Any, where: str) -> None:
    if not isinstance(source, dict) or source.get("type") not in ("base64", "url", "file"):
        raise InvalidRequest(f"{where}: Field required")
    if source["type"] == "base64":
        if source.get("media_type") not in IMAGE_TYPES:
            raise InvalidRequest(f"{where}.media_type: Input should be {', '.join(sorted(IMAGE_TYPES))}")
        data = source.get("data")
        if not isinstance(data, str) or not data or not BASE64.match(data):
            raise InvalidRequest(f"{where}.data: The image data is not valid base64")
    elif source["type"] == "url" and not str(source.get("url", "")).startswith(("http://", "https://")):
        raise InvalidRequest(f"{where}.url: an http(s) URL is required")


def _text_block(block: dict[str, Any], where: str) -> None:
    text = block.get("text")
    if not isinstance(text, str):
        raise InvalidRequest(f"{where}.text: Field required")
    if not text:
        raise InvalidRequest(f"{where}: text content blocks must be non-empty")


def _check_block(block: Any, where: str, role: str, tool_ids: set[str]) -> None:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise InvalidRequest(f"{where}.type: Field required")
    btype = block["type"]
    allowed = USER_BLOCKS if role == "user" else ASSISTANT_BLOCKS
    if btype not in allowed:
        raise InvalidRequest(f"{where}.type: Input tag '{btype}' is not allowed in a {role} message")
    if btype == "text":
        _text_block(block, where)
    elif btype == "image":
        _image_source(block.get("source"), f"{where}.source")
    elif btype == "tool_use":
        if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
            raise InvalidRequest(f"{where}: tool_use blocks need `id` and `name`")
        if not isinstance(block.get("input"), dict):
            raise InvalidRequest(f"{where}.input: Input should be a valid dictionary")
        tool_ids.add(block["id"])
    elif btype == "tool_result":
        if not isinstance(block.get("tool_use_id"), str):
            raise InvalidRequest(f"{where}.tool_use_id: Field required")
        content = block.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise InvalidRequest(f"{where}.content: Input should be a valid string or list")
        for k, inner in enumerate(content if isinstance(content, list) else []):
            kind = inner.get("type") if isinstance(inner, dict) else None
            if kind not in TOOL_RESULT_BLOCKS:
                raise InvalidRequest(f"{where}.content.{k}.type: Input tag '{kind}' is not allowed in a tool_result")
            if kind == "text":
                _text_block(inner, f"{where}.content.{k}")
            elif kind == "image":
                _image_source(inner.get("source"), f"{where}.content.{k}.source")
    elif btype == "thinking":
        if not isinstance(block.get("thinking"), str) or not isinstance(block.get("signature"), str):
            raise InvalidRequest(f"{where}: thinking blocks need `thinking` and `signature`")
    elif btype == "redacted_thinking" and not isinstance(block.get("data"), str):
        raise InvalidRequest(f"{where}.data: Field required")


def _check_messages(messages: Any, strict_alternation: bool) -> None:
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: at least one message is required")
    pending_tool_ids: set[str] = set()
    previous_role = None
    for i, msg in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant"):
            raise InvalidRequest(f"{where}.role: Input should be 'user' or 'assistant'")
        role = msg["role"]
        if strict_alternation and (role == previous_role or (i == 0 and role != "user")):
            raise InvalidRequest(f"{where}: roles must alternate between 'user' and 'assistant', starting with user")
        previous_role = role
        content = msg.get("content")
        is_final_assistant = role == "assistant" and i == len(messages) - 1
        if isinstance(content, str):
            if not content and not is_final_assistant:
                raise InvalidRequest(
                    f"{where}: all messages must have non-empty content except for the optional final assistant message"
                )
            blocks: list[Any] = []
        elif isinstance(content, list):
            if not content and not is_final_assistant:
                raise InvalidRequest(f"{where}: all messages must have non-empty content")
            blocks = content
        else:
            raise InvalidRequest(f"{where}.content: Input should be a valid string or list")
        tool_ids: set[str] = set()
        result_ids = set()
        for j, block in enumerate(blocks):
            _check_block(block, f"{where}.content.{j}", role, tool_ids)
            if block["type"] == "tool_result":
                result_ids.add(block["tool_use_id"])
        if pending_tool_ids and not pending_tool_ids <= result_ids:
            missing = sorted(pending_tool_ids - result_ids)
            raise InvalidRequest(
                f"{where}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                f"{', '.join(missing)}. Each `tool_use` block must have a corresponding `tool_result` block "
                "in the next message."
            )
        unexpected = result_ids - pending_tool_ids
        if unexpected:
            raise InvalidRequest(
                f"{where}.content: unexpected `tool_use_id` found in `tool_result` blocks: "
                f"{', '.join(sorted(unexpected))}. Each `tool_result` block must have a corresponding "
                "`tool_use` block in the previous message."
            )
        pending_tool_ids = tool_ids


def _check_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise InvalidRequest("system: Input should be a valid string or list of text blocks")
    for j, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise InvalidRequest(f"system.{j}.type: Input tag must be 'text'")
        _text_block(block, f"system.{j}")


def _check_tools(body: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools is None:
        return
    if not isinstance(tools, list):
        raise InvalidRequest("tools: Input should be a valid list")
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not TOOL_NAME.match(str(tool.get("name", ""))):
            raise InvalidRequest(f"tools.{i}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
        if tool.get("type") in (None, "custom") and not isinstance(tool.get("input_schema"), dict):
            raise InvalidRequest(f"tools.{i}.custom.input_schema: Field required")
    choice = body.get("tool_choice")
    if choice is not None:
        if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
            raise InvalidRequest("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
        if choice["type"] == "tool" and not isinstance(choice.get("name"), str):
            raise InvalidRequest("tool_choice.tool.name: Field required")


def _check_thinking(body: dict[str, Any]) -> None:
    thinking = body.get("thinking")
    if thinking is None:
        return
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "disabled", "adaptive"):
        raise InvalidRequest("thinking.type: Input should be 'enabled', 'disabled' or 'adaptive'")
    if thinking["type"] == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            raise InvalidRequest("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
        max_tokens = body.get("max_tokens")
        if isinstance(max_tokens, int) and budget >= max_tokens:
            raise InvalidRequest("`max_tokens` must be greater than `thinking.budget_tokens`.")


def validate_messages(body: dict[str, Any], *, strict_alternation: bool = True) -> None:
    """POST /v1/messages."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise InvalidRequest("model: Field required")
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        raise InvalidRequest("max_tokens: Field required")
    if max_tokens < 1:
        raise InvalidRequest("max_tokens: Input should be greater than or equal to 1")
    if body.get("stream") is not None and not isinstance(body["stream"], bool):
        raise InvalidRequest("stream: Input should be a valid boolean")
    temperature = body.get("temperature")
    if temperature is not None and not (isinstance(temperature, (int, float)) and 0 <= temperature <= 1):
        raise InvalidRequest("temperature: range: 0..1")
    stops = body.get("stop_sequences")
    if stops is not None and not (isinstance(stops, list) and all(isinstance(s, str) for s in stops)):
        raise InvalidRequest("stop_sequences: Input should be a valid list of strings")
    _check_system(body.get("system"))
    _check_messages(body.get("messages"), strict_alternation)
    _check_tools(body)
    _check_thinking(body)


def validate_count_tokens(body: dict[str, Any], *, strict_alternation: bool = True) -> None:
    """POST /v1/messages/count_tokens: like messages, without max_tokens."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise InvalidRequest("model: Field required")
    _check_system(body.get("system"))
    _check_messages(body.get("messages"), strict_alternation)
    _check_tools(body)
