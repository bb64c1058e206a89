"""The small parts: Gemini schema cleaning, errors, token estimates, signatures and pass-through cleaning."""

from __future__ import annotations

import json

import pytest

from proxy_engine.translate import (
    count_tokens_response,
    error_body,
    estimate_input_tokens,
    get_translator,
    sanitize_passthrough,
)
from proxy_engine.translate.estimate import image_tokens, text_tokens
from proxy_engine.translate.ir import Image
from proxy_engine.translate.passthrough import might_need_sanitizing
from proxy_engine.translate.schema_clean import from_gemini, to_gemini
from proxy_engine.translate.thinking import Signature, is_wrapped, unwrap, wrap
from tests.fakes.gemini_validate import SCHEMA_FIELDS
from tests.translate.kit import PNG_1PX


def _keys(schema: dict) -> set[str]:
    keys = set(schema)
    for sub in (schema.get("properties") or {}).values():
        keys |= _keys(sub)
    if isinstance(schema.get("items"), dict):
        keys |= _keys(schema["items"])
    for sub in schema.get("anyOf") or []:
        keys |= _keys(sub)
    return keys


MCP_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "$defs": {
        "Pos": {
            "type": "object",
            "properties": {"line": {"type": "integer", "format": "uint32"}},
            "required": ["line", "ghost"],
        },
        "Node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}}},
    },
    "properties": {
        "path": {"type": "string", "format": "uri", "examples": ["a.py"]},
        "start": {"$ref": "#/$defs/Pos", "description": "where"},
        "mode": {"const": "fast"},
        "level": {"enum": [1, 2, 3]},
        "tags": {"type": "array", "items": {"type": ["string", "null"]}, "minItems": 1, "uniqueItems": True},
        "either": {"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]},
        "both": {
            "allOf": [
                {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                {"properties": {"b": {"type": "number", "exclusiveMinimum": 0}}},
            ]
        },
        "tree": {"$ref": "#/$defs/Node"},
        "loose": {"type": "object", "additionalProperties": {"type": "string"}},
        "pair": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]},
    },
    "required": ["path", "missing"],
}


def test_gemini_schema_keeps_only_the_documented_subset() -> None:
    out = to_gemini(MCP_SCHEMA)
    assert _keys(out) <= set(SCHEMA_FIELDS)
    props = out["properties"]
    assert out["type"] == "OBJECT" and out["required"] == ["path"]
    assert props["path"] == {"type": "STRING", "example": "a.py"}
    assert props["start"]["description"] == "where"
    assert props["start"]["properties"]["line"] == {"type": "INTEGER"} and props["start"]["required"] == ["line"]
    assert props["mode"] == {"enum": ["fast"], "type": "STRING", "format": "enum"}
    assert props["level"]["enum"] == ["1", "2", "3"]
    assert props["tags"] == {"type": "ARRAY", "minItems": 1, "items": {"type": "STRING", "nullable": True}}
    assert props["either"] == {"nullable": True, "anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]}
    assert props["both"]["properties"] == {"a": {"type": "STRING"}, "b": {"type": "NUMBER"}}
    assert props["tree"]["properties"]["child"]["type"] == "OBJECT"  # recursion cut, not infinite
    assert props["loose"] == {"type": "OBJECT"}
    assert props["pair"]["items"] == {"type": "STRING"}
    assert MCP_SCHEMA["properties"]["mode"] == {"const": "fast"}  # input untouched


def test_gemini_schema_back_to_json_schema() -> None:
    gem = {
        "type": "OBJECT",
        "properties": {
            "n": {"type": "INTEGER", "nullable": True, "minItems": "2"},
            "e": {"type": "STRING", "format": "enum", "enum": ["a"]},
        },
        "required": ["n"],
        "propertyOrdering": ["n", "e"],
    }
    assert from_gemini(gem) == {
        "type": "object",
        "required": ["n"],
        "properties": {
            "n": {"type": ["integer", "null"], "minItems": 2},
            "e": {"type": "string", "enum": ["a"]},
        },
    }


# ---- errors ----


GEMINI_429 = b'{"error": {"code": 429, "message": "Rate limit reached", "status": "RESOURCE_EXHAUSTED"}}'
UPSTREAM_ERRORS = {
    "openai": b'{"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}',
    "anthropic": b'{"type": "error", "error": {"type": "rate_limit_error", "message": "Rate limit reached"}}',
    "gemini": GEMINI_429,
    "gemini_array": b"[" + GEMINI_429 + b"]",
    "text": b"Rate limit reached",
}


@pytest.mark.parametrize("source", list(UPSTREAM_ERRORS))
@pytest.mark.parametrize("client", ["openai_chat", "openai_responses", "anthropic", "gemini"])
def test_upstream_errors_in_the_clients_shape(client: str, source: str) -> None:
    tr = get_translator(client, "openai_chat" if client != "openai_chat" else "gemini")
    status, body = tr.error(429, UPSTREAM_ERRORS[source])
    data = json.loads(body)
    assert status == 429
    if client == "anthropic":
        assert data == {
            "type": "error",
            "error": {"type": "rate_limit_error", "message": "Rate limit reached"},
        }
    elif client == "gemini":
        assert data["error"] == {"code": 429, "message": "Rate limit reached", "status": "RESOURCE_EXHAUSTED"}
    else:
        assert data["error"]["message"] == "Rate limit reached" and data["error"]["type"] == "rate_limit_exceeded"


def test_overloaded_is_503_for_non_anthropic_clients_and_529_for_anthropic() -> None:
    body = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    assert get_translator("openai_chat", "anthropic").error(529, body)[0] == 503
    status, out = get_translator("anthropic", "gemini").error(503, b'{"error":{"code":503,"message":"busy"}}')
    assert status == 529 and json.loads(out)["error"]["type"] == "overloaded_error"


def test_error_body_for_proxy_made_errors() -> None:
    assert json.loads(error_body("anthropic", 404, "no such model")) == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "no such model"},
    }
    assert json.loads(error_body("gemini", 401, "bad key"))["error"]["status"] == "UNAUTHENTICATED"
    assert json.loads(error_body("openai_chat", 400, "bad"))["error"]["type"] == "invalid_request_error"


# ---- token estimates ----


def test_text_token_estimate_is_in_a_sane_range() -> None:
    sentence = "The quick brown fox jumps over the lazy dog."  # 10 tokens with cl100k
    assert 8 <= text_tokens(sentence) <= 14
    assert 800 <= text_tokens(sentence * 100) <= 1400
    assert text_tokens("你好世界") == 4


def test_image_estimate_reads_png_size() -> None:
    assert image_tokens(Image(media_type="image/png", data=PNG_1PX)) == 1
    assert image_tokens(Image(url="https://x/y.png")) == 1200


@pytest.mark.parametrize("client", ["openai_chat", "openai_responses", "anthropic", "gemini"])
def test_estimates_agree_across_dialects(client: str) -> None:
    from tests.translate.kit import client_body

    n = estimate_input_tokens(client, client_body(client, "tool_result"))
    assert 20 <= n <= 300
    bigger = estimate_input_tokens(client, client_body(client, "image"))
    assert bigger > 1200  # one URL image at the default plus text


def test_gemini_count_tokens_wrapping_a_generate_request() -> None:
    inner = {"contents": [{"role": "user", "parts": [{"text": "hello world " * 50}]}]}
    assert estimate_input_tokens("gemini", {"generateContentRequest": inner}) == estimate_input_tokens("gemini", inner)


def test_count_tokens_bodies() -> None:
    assert count_tokens_response("anthropic", 42) == {"input_tokens": 42}
    assert count_tokens_response("gemini", 42) == {"totalTokens": 42}
    assert count_tokens_response("openai_responses", 42) == {
        "object": "response.input_tokens",
        "input_tokens": 42,
    }


# ---- signatures and pass-through ----


@pytest.mark.parametrize(
    "sig", [Signature("gemini", signature="abc+/=="), Signature("anthropic", redacted="R", text="t")]
)
def test_wrapped_signatures_survive_url_safe_reencoding(sig: Signature) -> None:
    token = wrap(sig)
    assert is_wrapped(token)
    json.dumps(token)
    __import__("base64").b64decode(token, validate=True)  # google-genai types signatures as bytes
    urlsafe = token.replace("+", "-").replace("/", "_").rstrip("=")
    assert unwrap(token, "x") == sig == unwrap(urlsafe, "x")
    assert unwrap("bare", "openai_responses") == Signature("openai_responses", signature="bare")


def test_passthrough_removes_foreign_thinking_for_anthropic() -> None:
    foreign = wrap(Signature("gemini", signature="G"))
    body = {
        "model": "m",
        "max_tokens": 9000,
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "messages": [
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "t", "signature": foreign},
                    {"type": "tool_use", "id": "a", "name": "f", "input": {}},
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "r"}]},
        ],
    }
    raw = json.dumps(body).encode()
    assert might_need_sanitizing("anthropic", raw)
    clean = sanitize_passthrough("anthropic", body)
    assert clean is not None and "thinking" not in clean
    assert clean["messages"][1]["content"] == [{"type": "tool_use", "id": "a", "name": "f", "input": {}}]
    assert body["messages"][1]["content"][0]["signature"] == foreign  # original untouched
    native = {
        "model": "m",
        "max_tokens": 9,
        "messages": [{"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "REAL"}]}],
    }
    assert sanitize_passthrough("anthropic", native) is None
    assert not might_need_sanitizing("anthropic", json.dumps(native).encode())


def test_an_empty_signature_is_noticed_in_either_spelling() -> None:
    """Unsigned thinking (a translated reply gave none) must be cleaned whatever the client's JSON spacing."""
    assert might_need_sanitizing("anthropic", b'{"messages":[{"content":[{"type":"thinking","signature":""}]}]}')
    assert might_need_sanitizing("anthropic", b'{"messages": [{"content": [{"type": "thinking", "signature": ""}]}]}')
    signed = b'{"messages": [{"content": [{"type": "thinking", "signature": "S1"}]}]}'
    assert not might_need_sanitizing("anthropic", signed)
    assert not might_need_sanitizing("anthropic", b'{"messages": [{"content": "the signature: is empty"}]}')


def test_passthrough_for_gemini_and_responses() -> None:
    foreign = wrap(Signature("anthropic", signature="A", text="t"))
    gem = {
        "contents": [
            {
                "role": "model",
                "parts": [
                    {"text": "t", "thought": True, "thoughtSignature": foreign},
                    {"functionCall": {"name": "f"}, "thoughtSignature": foreign},
                ],
            }
        ]
    }
    clean = sanitize_passthrough("gemini", gem)
    assert clean["contents"][0]["parts"] == [
        {"functionCall": {"name": "f"}, "thoughtSignature": "skip_thought_signature_validator"}
    ]
    rs = {
        "input": [
            {"type": "reasoning", "summary": [], "encrypted_content": foreign},
            {"role": "user", "content": "x"},
        ]
    }
    assert sanitize_passthrough("openai_responses", rs)["input"] == [{"role": "user", "content": "x"}]
    assert sanitize_passthrough("openai_chat", rs) is None


def test_the_cheap_look_scans_each_dialect_for_what_its_cleaner_removes() -> None:
    """Gemini and the Responses API are cleaned of wrapped tokens only; OpenAI chat has no cleaner to ask."""
    from proxy_engine.translate.passthrough import WRAP_MARK

    wrapped = b'{"contents": [{"parts": [{"thoughtSignature": "' + WRAP_MARK + b'xyz"}]}]}'
    assert might_need_sanitizing("gemini", wrapped)
    assert might_need_sanitizing("openai_responses", wrapped)
    assert not might_need_sanitizing("openai_chat", wrapped)
    assert sanitize_passthrough("openai_chat", json.loads(wrapped)) is None  # nothing it could have done
    empty = b'{"messages": [{"content": [{"type": "thinking", "signature": ""}]}]}'
    assert might_need_sanitizing("anthropic", empty)
    assert not might_need_sanitizing("gemini", empty)
