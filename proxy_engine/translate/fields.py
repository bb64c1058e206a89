"""Lenient field reading: a wrongly typed JSON field reads as absent instead of failing the request."""

from __future__ import annotations

from typing import Any


def get(d: dict, *names: str, default: Any = None) -> Any:
    """The first present key: Gemini clients may send camelCase or snake_case."""
    for name in names:
        if name in d and d[name] is not None:
            return d[name]
    return default


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)  # Gemini's int64 fields arrive as strings in proto JSON
    return None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def str_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def as_obj(value: Any) -> dict:
    """`value` when it is a JSON object, else an empty one: a wrongly typed field reads as absent."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []
