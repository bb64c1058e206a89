"""Which client headers a same-dialect call forwards, and which reply headers go back: judged once per spelling."""

from __future__ import annotations

from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from proxy_engine.request_path import headers as header_rules
from proxy_engine.request_path.headers import forwarded_headers, kept_reply_headers


def _forwarded(pairs: list[tuple[str, str]], dialect: str) -> dict[str, str]:
    return forwarded_headers(make_mocked_request("POST", "/v1/x", headers=CIMultiDict(pairs)), dialect, False)


def test_the_verdict_depends_on_the_dialect_and_not_on_the_spelling() -> None:
    pairs = [("Anthropic-Beta", "a"), ("X-Stainless-Lang", "js"), ("x-stainless-os", "Linux"), ("X-App", "cli")]
    for _ in range(2):  # the second call is answered from what the first one judged
        assert _forwarded(pairs, "anthropic") == {
            "Anthropic-Beta": "a", "X-Stainless-Lang": "js", "x-stainless-os": "Linux", "X-App": "cli",
            "anthropic-version": "2023-06-01",
        }  # fmt: skip
        assert _forwarded(pairs, "openai_chat") == {"X-Stainless-Lang": "js", "x-stainless-os": "Linux"}


def test_a_client_anthropic_version_is_kept_in_any_spelling() -> None:
    assert _forwarded([("ANTHROPIC-VERSION", "2024-01-01")], "anthropic") == {"ANTHROPIC-VERSION": "2024-01-01"}


def test_a_header_the_client_named_in_connection_is_not_forwarded() -> None:
    pairs = [("Connection", "keep-alive, X-Stainless-Arch"), ("X-Stainless-Arch", "x64"), ("OpenAI-Beta", "v2")]
    assert _forwarded(pairs, "openai_chat") == {"OpenAI-Beta": "v2"}
    assert _forwarded(pairs[1:], "openai_chat") == {"X-Stainless-Arch": "x64", "OpenAI-Beta": "v2"}


def test_invented_names_past_the_memory_bound_are_still_judged() -> None:
    invented = [(f"X-Invented-{i}", "1") for i in range(header_rules._VERDICTS_MAX + 10)]
    got = _forwarded([*invented, ("X-Stainless-Lang", "py"), ("Forwarded", "for=10.0.0.1")], "gemini")
    assert got == {"X-Stainless-Lang": "py"}
    assert len(header_rules._VERDICTS["gemini"]) <= header_rules._VERDICTS_MAX
    late = _forwarded([("X-Goog-Api-Client", "genai/1"), ("X-Invented-Late", "1")], "gemini")
    assert late == {"X-Goog-Api-Client": "genai/1"}, "a name first seen after the bound is judged, not cached"


def test_reply_headers_kept_for_the_client_are_the_rate_limit_and_request_id_families() -> None:
    reply = CIMultiDict(
        [("X-RateLimit-Remaining-Requests", "9"), ("anthropic-ratelimit-tokens-limit", "1"), ("Request-Id", "r1"),
         ("Set-Cookie", "a=b"), ("Server", "cloudflare"), ("openai-processing-ms", "12"), ("retry-after", "3"),
         ("x-request-id", "q1"), ("CF-RAY", "x"), ("Content-Length", "10")]
    )  # fmt: skip
    want = [("X-RateLimit-Remaining-Requests", "9"), ("anthropic-ratelimit-tokens-limit", "1"), ("Request-Id", "r1"),
            ("openai-processing-ms", "12"), ("retry-after", "3"), ("x-request-id", "q1")]  # fmt: skip
    assert kept_reply_headers(reply) == want
    assert kept_reply_headers(reply) == want, "the second reply is judged from the first one's verdicts"
