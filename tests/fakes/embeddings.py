"""Embeddings and OpenAI's input-token counter, as the fakes serve them.

OpenAI `POST /v1/embeddings` {model, input: string | string[] | int[] | int[][], dimensions?,
encoding_format?: float|base64, user?} -> {object: "list", data: [{object: "embedding", index,
embedding}], model, usage: {prompt_tokens, total_tokens}}; unknown arguments are refused, and
`dimensions` only on text-embedding-3 models. base64 is the float32 little-endian vector.

Gemini `models/{m}:embedContent` {content, taskType?, title?, outputDimensionality?} ->
{embedding: {values}} and `:batchEmbedContents` {requests: [EmbedContentRequest with model
"models/{m}"]} -> {embeddings: [{values}]} (the REST reference documents no token count there).

OpenAI `POST /v1/responses/input_tokens` takes the Responses input fields and answers
{object: "response.input_tokens", input_tokens}.

Vectors are deterministic per text, so a test can tell which input became which vector.
"""

from __future__ import annotations

import base64
import hashlib
import random
import struct
from typing import Any

from .base import InvalidRequest
from .openai_validate import validate_responses

OPENAI_FIELDS = {"model", "input", "dimensions", "encoding_format", "user"}
OPENAI_DEFAULT_DIMS = {"text-embedding-3-large": 3072}
GEMINI_FIELDS = {"model", "content", "taskType", "title", "outputDimensionality", "embedContentConfig"}
GEMINI_TASKS = {"TASK_TYPE_UNSPECIFIED", "RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY",
                "CLASSIFICATION", "CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION",
                "CODE_RETRIEVAL_QUERY"}  # fmt: skip
GEMINI_MAX_DIMS = 3072
INPUT_TOKEN_FIELDS = {"model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "reasoning",
                      "text", "conversation", "previous_response_id", "truncation"}  # fmt: skip


def fake_vector(text: str, dims: int) -> list[float]:
    """The same text always embeds to the same vector (values rounded so JSON round-trips them exactly)."""
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    return [round(rng.uniform(-1.0, 1.0), 6) for _ in range(dims)]


def as_base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def from_base64(data: str) -> list[float]:
    raw = base64.b64decode(data)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


# ----- OpenAI --------------------------------------------------------------------------------------------
def openai_inputs(body: dict[str, Any]) -> list[str]:
    """Validate an embeddings body as OpenAI does; the inputs as texts (token arrays as their repr)."""
    unknown = sorted(set(body) - OPENAI_FIELDS)
    if unknown:
        raise InvalidRequest(f"Unrecognized request argument supplied: {unknown[0]}", unknown[0])
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("you must provide a model parameter", "model")
    if body.get("encoding_format") not in (None, "float", "base64"):
        raise InvalidRequest("'encoding_format' must be one of 'float', 'base64'", "encoding_format")
    dims = body.get("dimensions")
    if dims is not None:
        if isinstance(dims, bool) or not isinstance(dims, int) or dims < 1:
            raise InvalidRequest("'dimensions' must be a positive integer", "dimensions")
        if not model.startswith("text-embedding-3"):
            raise InvalidRequest("This model does not support specifying dimensions.", "dimensions")
    raw = body.get("input")
    if isinstance(raw, str):
        items: list[Any] = [raw]
    elif isinstance(raw, list) and raw:
        items = raw
    else:
        raise InvalidRequest("'input' : input must be a string, an array of strings or of tokens", "input")
    if len(items) > 2048:
        raise InvalidRequest("'input' : maximum 2048 inputs per request", "input")
    if all(isinstance(t, int) and not isinstance(t, bool) for t in items):
        return [repr(items)]  # one input given as tokens
    texts = []
    for t in items:
        if isinstance(t, str) and t:
            texts.append(t)
        elif isinstance(t, list) and t and all(isinstance(x, int) and not isinstance(x, bool) for x in t):
            texts.append(repr(t))
        else:
            raise InvalidRequest("'input' : input must be a non-empty string or array of tokens", "input")
    return texts


def openai_embeddings_json(body: dict[str, Any], texts: list[str], prompt_tokens: int) -> dict[str, Any]:
    model = body["model"]
    dims = body.get("dimensions") or OPENAI_DEFAULT_DIMS.get(model, 1536)
    vectors = [fake_vector(t, dims) for t in texts]
    encode = as_base64 if body.get("encoding_format") == "base64" else list
    data = [{"object": "embedding", "index": i, "embedding": encode(v)} for i, v in enumerate(vectors)]
    return {"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}}  # fmt: skip


def validate_input_tokens(body: dict[str, Any]) -> None:
    """POST /v1/responses/input_tokens: only the fields that shape the input; no stream, no max_output_tokens."""
    unknown = sorted(set(body) - INPUT_TOKEN_FIELDS)
    if unknown:
        raise InvalidRequest(f"Unknown parameter: '{unknown[0]}'.", unknown[0])
    if "model" in body and not (isinstance(body["model"], str) and body["model"]):
        raise InvalidRequest("Invalid type for 'model': expected a string", "model")
    if "input" in body:
        validate_responses({**body, "model": body.get("model") or "counted"})


# ----- Gemini --------------------------------------------------------------------------------------------
def _gemini_request(req: Any, where: str, model: str, need_model: bool) -> tuple[str, int]:
    if not isinstance(req, dict):
        raise InvalidRequest(f"Invalid value at '{where}': expected an EmbedContentRequest")
    unknown = sorted(set(req) - GEMINI_FIELDS)
    if unknown:
        raise InvalidRequest(f'Invalid JSON payload received. Unknown name "{unknown[0]}" at \'{where}\': '
                             "Cannot find field.")  # fmt: skip
    name = req.get("model")
    if (need_model or name is not None) and name != f"models/{model}":
        raise InvalidRequest(f"{where}.model: expected models/{model}, got {name!r}")
    cfg = req.get("embedContentConfig") if isinstance(req.get("embedContentConfig"), dict) else {}
    merged = {**req, **cfg}
    task = merged.get("taskType")
    if task is not None and not (isinstance(task, str) and task in GEMINI_TASKS):
        raise InvalidRequest(f"Invalid value at '{where}.task_type': {merged['taskType']!r}")
    dims = merged.get("outputDimensionality", GEMINI_MAX_DIMS)
    if isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= GEMINI_MAX_DIMS:
        raise InvalidRequest(f"{where}.outputDimensionality must be between 1 and {GEMINI_MAX_DIMS}")
    content = req.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list) or not parts:
        raise InvalidRequest(f"* {where}.content: contents.parts must not be empty.")
    texts = [p.get("text") for p in parts if isinstance(p, dict)]
    if len(texts) != len(parts) or not all(isinstance(t, str) for t in texts):
        raise InvalidRequest(f"{where}.content: only text parts can be embedded")
    return "\n".join(texts), dims


def gemini_embed_json(action: str, body: dict[str, Any], model: str) -> dict[str, Any]:
    """Validate and answer embedContent / batchEmbedContents."""
    if action == "embedContent":
        text, dims = _gemini_request(body, "request", model, need_model=False)
        return {"embedding": {"values": fake_vector(text, dims)}}
    if set(body) != {"requests"} or not isinstance(body["requests"], list) or not body["requests"]:
        raise InvalidRequest("* BatchEmbedContentsRequest.requests: requests must not be empty.")
    out = [_gemini_request(r, f"requests[{i}]", model, need_model=True) for i, r in enumerate(body["requests"])]
    return {"embeddings": [{"values": fake_vector(text, dims)} for text, dims in out]}
