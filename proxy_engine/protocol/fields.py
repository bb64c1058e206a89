"""Lenient readers: a field of the wrong type becomes its default, never an exception."""

from __future__ import annotations

from typing import Any


def _str(v: Any, default: str = "") -> str:
    return default if v is None else str(v)


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)


def _int(v: Any, default: int = 0) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def _float(v: Any, default: float = 0.0) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


def _opt_float(v: Any) -> float | None:
    return None if v is None else _float(v)


def _opt_int(v: Any) -> int | None:
    return None if v is None else _int(v)


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []
