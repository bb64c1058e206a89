"""Embeddings between OpenAI's `POST /v1/embeddings` and Gemini's `:embedContent` / `:batchEmbedContents`.

Both sides reduce to one list of texts, an optional output size and, for Gemini, a task type and
title. OpenAI's `dimensions` is Gemini's `outputDimensionality`. Token-array input (OpenAI) has no
Gemini form and is refused; `encoding_format: base64` (the openai SDK's default) is answered as
OpenAI does: little-endian float32 values, base64-encoded. The Gemini API reports no tokens for
embeddings unless it sends `usageMetadata`, so the proxy then records its own estimate.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from typing import Any

from .errors import TranslationError, UpstreamMalformed
from .estimate import text_tokens

OPENAI_EMBEDDINGS = "openai_embeddings"  # the OpenAI embeddings dialect; Gemini's is "gemini" + an action
GEMINI_EMBED_ACTIONS = ("embedContent", "batchEmbedContents")
EMBED_ACTIONS = ("embeddings", *GEMINI_EMBED_ACTIONS)
_OPENAI_FIELDS = frozenset({"model", "input", "dimensions", "encoding_format", "user"})
_GEMINI_FIELDS = frozenset({"model", "content", "taskType", "title", "outputDimensionality", "embedContentConfig"})
_GEMINI_CONFIG_FIELDS = ("taskType", "title", "outputDimensionality")


@dataclass(frozen=True, slots=True)
class EmbeddingAsk:
    """What an embeddings request asks for, whatever dialect it came in."""

    texts: list[str]
    dimensions: int | None = None
    task_type: str | None = None
    title: str | None = None
    encoding: str = "float"  # how an OpenAI client wants the vectors
    single: bool = False  # one input (OpenAI string input, Gemini embedContent)


def _bad(message: str) -> TranslationError:
    return TranslationError(message, 400)


def _dimensions(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _bad(f"`{name}` must be a positive integer")
    return value


# ----- decoding the client's request ---------------------------------------------------------------------


def decode_openai(body: dict[str, Any]) -> EmbeddingAsk:
    """`{model, input, dimensions?, encoding_format?, user?}`; token arrays cannot be translated."""
    unknown = sorted(set(body) - _OPENAI_FIELDS)
    if unknown:
        raise _bad(f"unrecognized request argument supplied: {', '.join(unknown)}")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise _bad("`encoding_format` must be 'float' or 'base64'")
    raw = body.get("input")
    if isinstance(raw, str):
        texts, single = [raw], True
    elif isinstance(raw, list) and raw and all(isinstance(t, str) for t in raw):
        texts, single = list(raw), False
    elif isinstance(raw, list) and raw and all(isinstance(t, (int, list)) and not isinstance(t, bool) for t in raw):
        raise _bad("token-array `input` can only go to an OpenAI embeddings model; send the text instead")
    else:
        raise _bad("`input` must be a non-empty string or a non-empty array of strings")
    if any(not t for t in texts):
        raise _bad("`input` cannot contain an empty string")
    return EmbeddingAsk(texts, _dimensions(body.get("dimensions"), "dimensions"), encoding=encoding, single=single)


def _content_text(content: Any, where: str) -> str:
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list) or not parts:
        raise _bad(f"`{where}.parts` must be a non-empty array")
    texts = [p.get("text") for p in parts if isinstance(p, dict)]
    if len(texts) != len(parts) or not all(isinstance(t, str) for t in texts):
        raise _bad(f"only text parts can be embedded here (`{where}.parts[].text`)")
    text = "\n".join(t for t in texts if t)
    if not text:
        raise _bad(f"`{where}` has no text to embed")
    return text


def _gemini_one(req: Any, where: str) -> tuple[str, int | None, str | None, str | None]:
    if not isinstance(req, dict):
        raise _bad(f"`{where}` must be an object")
    unknown = sorted(set(req) - _GEMINI_FIELDS)
    if unknown:
        raise _bad(f"Invalid JSON payload received. Unknown name \"{unknown[0]}\" at '{where}'")
    cfg = req.get("embedContentConfig")
    merged = {**req, **(cfg if isinstance(cfg, dict) else {})}
    task, title = merged.get("taskType"), merged.get("title")
    if task is not None and not isinstance(task, str):
        raise _bad(f"`{where}.taskType` must be a string")
    if title is not None and not isinstance(title, str):
        raise _bad(f"`{where}.title` must be a string")
    dims = _dimensions(merged.get("outputDimensionality"), f"{where}.outputDimensionality")
    return _content_text(req.get("content"), f"{where}.content"), dims, task, title


def decode_gemini(action: str, body: dict[str, Any]) -> EmbeddingAsk:
    """`:embedContent` `{content, taskType?, title?, outputDimensionality?}` or `:batchEmbedContents` `{requests}`."""
    if action == "embedContent":
        text, dims, task, title = _gemini_one(body, "request")
        return EmbeddingAsk([text], dims, task, title, single=True)
    requests = body.get("requests")
    if set(body) - {"requests"} or not isinstance(requests, list) or not requests:
        raise _bad("`requests` must be a non-empty array of EmbedContentRequest")
    items = [_gemini_one(r, f"requests[{i}]") for i, r in enumerate(requests)]
    if len({i[1:] for i in items}) > 1:
        raise _bad("every request of a translated batch must share taskType, title and outputDimensionality")
    _, dims, task, title = items[0]
    return EmbeddingAsk([i[0] for i in items], dims, task, title)


# ----- encoding for the upstream -------------------------------------------------------------------------


def openai_request(ask: EmbeddingAsk, model: str) -> dict[str, Any]:
    """An OpenAI embeddings body; vectors come back as floats whatever the client asked (it is re-encoded)."""
    body: dict[str, Any] = {"model": model, "input": ask.texts[0] if ask.single else ask.texts}
    if ask.dimensions is not None:
        body["dimensions"] = ask.dimensions
    body["encoding_format"] = "float"
    return body


def gemini_request(ask: EmbeddingAsk, model: str) -> dict[str, Any]:
    """A `:batchEmbedContents` body: one request per text, each naming the model as the API requires."""
    extra: dict[str, Any] = {}
    if ask.task_type is not None:
        extra["taskType"] = ask.task_type
    if ask.title is not None:
        extra["title"] = ask.title
    if ask.dimensions is not None:
        extra["outputDimensionality"] = ask.dimensions
    name = model if model.startswith("models/") else f"models/{model}"
    return {"requests": [{"model": name, "content": {"parts": [{"text": t}]}, **extra} for t in ask.texts]}


def gemini_same_dialect(action: str, body: dict[str, Any], model: str) -> dict[str, Any]:
    """A Gemini client's own body for a Gemini upstream, with every `model` naming the upstream's model."""
    name = f"models/{model}"
    if action == "batchEmbedContents" and isinstance(body.get("requests"), list):
        reqs = [{**r, "model": name} if isinstance(r, dict) else r for r in body["requests"]]
        return {**body, "requests": reqs}
    return {**body, "model": name} if "model" in body else body


# ----- reading the upstream's reply ----------------------------------------------------------------------


def _vector(values: Any, where: str) -> list[float]:
    if not isinstance(values, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise UpstreamMalformed(f"{where} is not an array of numbers")
    return [float(v) for v in values]


def openai_vectors(obj: dict[str, Any]) -> tuple[list[list[float]], int | None]:
    """Vectors in input order and `usage.prompt_tokens` from an OpenAI embeddings reply (floats)."""
    data = obj.get("data")
    if not isinstance(data, list):
        raise UpstreamMalformed("the embeddings reply has no `data` array")
    items = sorted((d for d in data if isinstance(d, dict)), key=lambda d: d.get("index", 0))
    vectors = [_vector(d.get("embedding"), f"data[{i}].embedding") for i, d in enumerate(items)]
    usage = obj.get("usage")
    tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    return vectors, tokens if isinstance(tokens, int) else None


def gemini_vectors(obj: dict[str, Any]) -> tuple[list[list[float]], int | None]:
    """Vectors from `{embedding: {values}}` or `{embeddings: [{values}]}`, and `usageMetadata` if sent."""
    if isinstance(obj.get("embeddings"), list):
        vectors = [_vector((e or {}).get("values"), f"embeddings[{i}].values") for i, e in enumerate(obj["embeddings"])]
    elif isinstance(obj.get("embedding"), dict):
        vectors = [_vector(obj["embedding"].get("values"), "embedding.values")]
    else:
        raise UpstreamMalformed("the embeddings reply has neither `embedding` nor `embeddings`")
    meta = obj.get("usageMetadata")
    tokens = meta.get("promptTokenCount") if isinstance(meta, dict) else None
    return vectors, tokens if isinstance(tokens, int) else None


def estimate_tokens(ask: EmbeddingAsk) -> int:
    """The proxy's own count when the upstream reports none."""
    return sum(max(1, text_tokens(t)) for t in ask.texts)


# ----- encoding for the client ---------------------------------------------------------------------------


def _base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def openai_reply(ask: EmbeddingAsk, vectors: list[list[float]], model: str, tokens: int) -> dict[str, Any]:
    """The OpenAI `list` of `embedding` objects, floats or base64 as the client asked."""
    encode = _base64 if ask.encoding == "base64" else list
    data = [{"object": "embedding", "index": i, "embedding": encode(v)} for i, v in enumerate(vectors)]
    return {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def gemini_reply(action: str, vectors: list[list[float]], tokens: int) -> dict[str, Any]:
    """`{embedding: {values}}` for embedContent, `{embeddings: [...]}` for a batch, with the token count."""
    usage = {"promptTokenCount": tokens, "totalTokenCount": tokens}
    if action == "embedContent":
        return {"embedding": {"values": vectors[0]}, "usageMetadata": usage}
    return {"embeddings": [{"values": v} for v in vectors], "usageMetadata": usage}


def check_count(ask: EmbeddingAsk, vectors: list[list[float]]) -> None:
    """One vector per text, or the reply cannot be matched to the request."""
    if len(vectors) != len(ask.texts):
        raise UpstreamMalformed(f"the upstream sent {len(vectors)} embeddings for {len(ask.texts)} inputs")
