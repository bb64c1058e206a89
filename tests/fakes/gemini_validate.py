"""Request validation for the Gemini fake (generateContent / countTokens bodies).

Field names are accepted in camelCase or snake_case, as Google's JSON parser does. Unknown fields are
accepted by default; `strict=True` mimics the live API, which rejects unknown request fields and unknown
keys in function-declaration `parameters` schemas ("Invalid JSON payload received. Unknown name ...").
"""

from __future__ import annotations

import re
from typing import Any

from .base import InvalidRequest

DATA_FIELDS = (
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
)
TOOL_KINDS = (
    "functionDeclarations",
    "googleSearch",
    "googleSearchRetrieval",
    "codeExecution",
    "urlContext",
    "retrieval",
    "fileSearch",
    "computerUse",
    "googleMaps",
)
REQUEST_FIELDS = (
    "contents",
    "tools",
    "toolConfig",
    "safetySettings",
    "systemInstruction",
    "generationConfig",
    "cachedContent",
)
SCHEMA_FIELDS = (
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "default",
    "items",
    "minimum",
    "maximum",
)
FUNCTION_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$")
BASE64 = re.compile(r"^[A-Za-z0-9+/_-]*={0,2}$")


def snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def get(obj: dict[str, Any], camel: str) -> Any:
    """Read a field under its camelCase or snake_case name."""
    return obj[camel] if camel in obj else obj.get(snake(camel))


def _known(names: tuple[str, ...]) -> set[str]:
    return set(names) | {snake(n) for n in names}


def _unknown(obj: dict[str, Any], names: tuple[str, ...], where: str) -> None:
    for key in obj:
        if key not in _known(names):
            raise InvalidRequest(
                f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': Cannot find field."
            )


def _check_part(part: Any, where: str, role: str | None) -> str:
    if not isinstance(part, dict):
        raise InvalidRequest(f"{where}: part must be an object")
    present = [f for f in DATA_FIELDS if get(part, f) is not None]
    if len(present) != 1:
        raise InvalidRequest(
            f"* GenerateContentRequest.{where}.data: required oneof field 'data' must have one initialized field"
        )
    kind = present[0]
    if kind == "text" and not isinstance(part.get("text"), str):
        raise InvalidRequest(f"{where}.text: expected a string")
    if kind == "inlineData":
        data = get(part, "inlineData")
        if not isinstance(data, dict) or not get(data, "mimeType") or not isinstance(data.get("data"), str):
            raise InvalidRequest(f"{where}.inline_data: mime_type and data are required")
        if not BASE64.match(data["data"]):  # proto JSON bytes: standard or URL-safe base64
            raise InvalidRequest(f"Invalid value at '{where}.inline_data.data' (TYPE_BYTES), Base64 decoding failed")
    if kind == "functionCall":
        call = get(part, "functionCall")
        if role == "user" or not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise InvalidRequest(f"{where}.function_call: a named function call is only valid in a model turn")
        if call.get("args") is not None and not isinstance(call["args"], dict):
            raise InvalidRequest(f"{where}.function_call.args: expected an object")
    if kind == "functionResponse":
        resp = get(part, "functionResponse")
        if role == "model" or not isinstance(resp, dict) or not isinstance(resp.get("name"), str):
            raise InvalidRequest(f"{where}.function_response: a named function response is only valid in a user turn")
        if not isinstance(resp.get("response"), dict):
            raise InvalidRequest(f"{where}.function_response.response: expected an object")
    return kind


def _check_contents(contents: Any) -> None:
    if not isinstance(contents, list) or not contents:
        raise InvalidRequest("* GenerateContentRequest.contents: contents is not specified")
    pending_calls = 0
    for i, content in enumerate(contents):
        where = f"contents[{i}]"
        if not isinstance(content, dict):
            raise InvalidRequest(f"{where}: expected an object")
        role = content.get("role")
        if role is None and len(contents) > 1:
            raise InvalidRequest(f"* GenerateContentRequest.{where}.role: Please use a valid role: user, model.")
        if role is not None and role not in ("user", "model"):
            raise InvalidRequest(f"* GenerateContentRequest.{where}.role: Please use a valid role: user, model.")
        parts = content.get("parts")
        if not isinstance(parts, list) or not parts:
            raise InvalidRequest(f"* GenerateContentRequest.{where}.parts: contents.parts must not be empty.")
        kinds = [_check_part(p, f"{where}.parts[{j}]", role) for j, p in enumerate(parts)]
        responses = kinds.count("functionResponse")
        if responses and responses != pending_calls:
            raise InvalidRequest(
                "Please ensure that the number of function response parts is equal to the number of "
                "function call parts of the function call turn."
            )
        if pending_calls and not responses:
            raise InvalidRequest(
                "Please ensure that function call turn comes immediately after a user turn or after a "
                "function response turn."
            )
        pending_calls = kinds.count("functionCall")


def _check_schema(schema: Any, where: str) -> None:
    if not isinstance(schema, dict):
        raise InvalidRequest(f"{where}: expected a schema object")
    _unknown(schema, SCHEMA_FIELDS, where)
    for name, sub in (schema.get("properties") or {}).items():
        _check_schema(sub, f"{where}.properties[{name}]")
    if schema.get("items") is not None:
        _check_schema(schema["items"], f"{where}.items")
    for j, sub in enumerate(get(schema, "anyOf") or []):
        _check_schema(sub, f"{where}.any_of[{j}]")


def _check_tools(tools: Any, strict: bool) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise InvalidRequest("tools: expected a list")
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not any(get(tool, k) is not None for k in TOOL_KINDS):
            raise InvalidRequest(f"tools[{i}]: a tool needs one of {', '.join(TOOL_KINDS)}")
        if strict:
            _unknown(tool, TOOL_KINDS, f"tools[{i}]")
        for j, decl in enumerate(get(tool, "functionDeclarations") or []):
            where = f"tools[{i}].function_declarations[{j}]"
            if not isinstance(decl, dict) or not FUNCTION_NAME.match(str(decl.get("name", ""))):
                raise InvalidRequest(f"* GenerateContentRequest.{where}.name: Invalid function name.")
            params = decl.get("parameters")
            if params is not None and strict:
                _check_schema(params, f"{where}.parameters")
            elif params is not None and not isinstance(params, dict):
                raise InvalidRequest(f"{where}.parameters: expected an object")


def validate_generate(body: dict[str, Any], *, strict: bool = False) -> None:
    """POST models/{model}:generateContent and :streamGenerateContent."""
    if strict:
        _unknown(body, REQUEST_FIELDS, "")
    _check_contents(body.get("contents"))
    system = get(body, "systemInstruction")
    if system is not None:
        parts = system.get("parts") if isinstance(system, dict) else None
        if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) and "text" in p for p in parts):
            raise InvalidRequest("system_instruction: expected a Content with text parts")
    _check_tools(body.get("tools"), strict)
    config = get(body, "generationConfig")
    if config is not None and not isinstance(config, dict):
        raise InvalidRequest("generation_config: expected an object")
    thinking = get(config or {}, "thinkingConfig")
    if thinking is not None:
        if not isinstance(get(thinking, "includeThoughts"), (bool, type(None))):
            raise InvalidRequest("generation_config.thinking_config.include_thoughts: expected a boolean")
        budget = get(thinking, "thinkingBudget")
        if budget is not None and (not isinstance(budget, int) or budget < -1):
            raise InvalidRequest("generation_config.thinking_config.thinking_budget: expected an integer >= -1")


def validate_count_tokens(body: dict[str, Any], *, strict: bool = False) -> None:
    """POST models/{model}:countTokens: either `contents` or a whole `generateContentRequest`."""
    if strict:
        _unknown(body, ("contents", "generateContentRequest"), "")
    inner = get(body, "generateContentRequest")
    if inner is not None:
        if not isinstance(inner, dict):
            raise InvalidRequest("generate_content_request: expected an object")
        validate_generate({k: v for k, v in inner.items() if k != "model"}, strict=strict)
    else:
        _check_contents(body.get("contents"))


def include_thoughts(body: dict[str, Any]) -> bool:
    """Whether the request asked for thought summaries."""
    config = get(body, "generationConfig") or {}
    return bool(get(get(config, "thinkingConfig") or {}, "includeThoughts"))
