"""Gemini puts the model and the method in the path: `models/{model}:{method}`."""

from __future__ import annotations

GEMINI_ACTIONS = ("generateContent", "streamGenerateContent", "countTokens", "embedContent", "batchEmbedContents")


def gemini_target(tail: str) -> tuple[str, str | None]:
    """`{model}:{method}` split into model and method; the method is None when there is no colon."""
    model, _, action = tail.rpartition(":")
    return (model, action) if model else (tail, None)


def vertex_model_tail(path: str) -> str | None:
    """`.../publishers/google/models/{model}:{method}` (Vertex style) to `{model}:{method}`, else None."""
    head, sep, tail = path.rpartition("models/")
    if not sep or (head and not head.endswith("/")):
        return None
    return tail
