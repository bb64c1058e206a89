"""Upstream errors an Anthropic client (Claude Code) must get in the type and wording it recovers by."""

from __future__ import annotations

import json

import pytest

from proxy_engine.translate import get_translator

OVERFLOWS = [
    # OpenAI Responses names no sizes, only its code
    ("openai_responses", 400, {"error": {"message": "Your input exceeds the context window of this model.",
                                         "type": "invalid_request_error", "code": "context_length_exceeded"}},
     "prompt is too long: Your input exceeds the context window of this model."),
    ("openai_chat", 400, {"error": {"message": "This model's maximum context length is 8192 tokens. However, your "
                                    "messages resulted in 9001 tokens.", "type": "invalid_request_error",
                                    "param": "messages", "code": "context_length_exceeded"}},
     "prompt is too long: 9001 tokens > 8192 maximum"),
    # the prompt fits; the completion it asked for does not: Claude Code lowers max_tokens instead of compacting
    ("openai_chat", 400, {"error": {"message": "This model's maximum context length is 8192 tokens. However, you "
                                    "requested 9192 tokens (7192 in the messages, 2000 in the completion). Please "
                                    "reduce the length of the messages or completion.", "type": "invalid_request_error",
                                    "param": "messages", "code": "context_length_exceeded"}},
     "input length and `max_tokens` exceed context limit: 7192 + 2000 > 8192, decrease input length or `max_tokens` "
     "and try again"),
    ("openai_chat", 400, {"object": "error", "type": "BadRequestError", "message": "Requested token count exceeds the "
                          "model's maximum context length of 262144 tokens. You requested a total of 262462 tokens: "
                          "230462 tokens from the input messages and 32000 tokens for the completion."},
     "input length and `max_tokens` exceed context limit: 230462 + 32000 > 262144, decrease input length or "
     "`max_tokens` and try again"),
    ("gemini", 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "The input token count "
                               "(2000000) exceeds the maximum number of tokens allowed (1048576)."}},
     "prompt is too long: 2000000 tokens > 1048576 maximum"),
    ("bedrock", 400, {"message": "Input is too long for requested model."},
     "prompt is too long: Input is too long for requested model."),
]  # fmt: skip


@pytest.mark.parametrize(("upstream", "status", "body", "wording"), OVERFLOWS)
def test_context_overflow_becomes_prompt_is_too_long(upstream: str, status: int, body: dict, wording: str) -> None:
    out_status, out = get_translator("anthropic", upstream).error(status, json.dumps(body).encode())
    assert out_status == 400
    assert json.loads(out) == {"type": "error", "error": {"type": "invalid_request_error", "message": wording}}


@pytest.mark.parametrize(
    ("upstream", "status", "body", "want", "etype"),
    [("bedrock", 429, {"message": "Too many requests, please wait before trying again."}, 429, "rate_limit_error"),
     ("bedrock", 503, {"message": "Bedrock is unable to process your request."}, 529, "overloaded_error"),
     ("gemini", 429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "quota"}}, 429,
      "rate_limit_error"),
     ("openai_chat", 500, {"error": {"message": "oops", "type": "server_error"}}, 502, "api_error")],
)  # fmt: skip
def test_rate_limits_and_overloads(upstream: str, status: int, body: dict, want: int, etype: str) -> None:
    out_status, out = get_translator("anthropic", upstream).error(status, json.dumps(body).encode())
    assert out_status == want and json.loads(out)["error"]["type"] == etype


def test_an_openai_client_keeps_its_own_code_for_an_overflow() -> None:
    err = {"type": "invalid_request_error", "message": "prompt is too long: 5 tokens > 4 maximum"}
    body = json.dumps({"type": "error", "error": err}).encode()
    status, out = get_translator("openai_chat", "anthropic").error(400, body)
    assert status == 400 and json.loads(out)["error"]["code"] == "context_length_exceeded"
