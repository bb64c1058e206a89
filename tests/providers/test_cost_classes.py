"""Each provider's cost class: a default from its kind and how it authenticates, or the config's."""

from __future__ import annotations

import pytest

from proxy_engine.config import parse_config_text
from proxy_engine.providers import build_provider


def _provider(entry: str, secrets: dict[str, str] | None = None):
    cfg = parse_config_text(f"providers:\n  p: {entry}\n")
    return build_provider("p", cfg.providers["p"], secrets or {})


@pytest.mark.parametrize(
    ("entry", "secrets", "expected"),
    [
        ("{kind: anthropic, auth: oauth}", {}, "subscription"),  # a Claude Pro/Max login
        ("{kind: anthropic, api_key: env:K}", {"env:K": "sk"}, "paid"),
        ("{kind: anthropic, auth: oauth, api_key: env:K}", {"env:K": "sk"}, "paid"),  # its keys would bill
        ("{kind: codex}", {}, "subscription"),
        ("{kind: copilot}", {}, "subscription"),
        ("{kind: gemini_cli}", {}, "free"),
        ("{kind: qwen, auth: oauth}", {}, "free"),
        ("{kind: qwen, api_key: env:K}", {"env:K": "sk"}, "paid"),
        ("{kind: openai, api_key: env:K}", {"env:K": "sk"}, "paid"),
        ("{kind: openai, api_key: env:K}", {}, "paid"),  # a key that cannot be read is still a paid key
        ("{kind: gemini, api_key: env:K}", {"env:K": "k"}, "paid"),
        ("{kind: vertex}", {}, "paid"),
        ("{kind: bedrock}", {}, "paid"),
        ("{kind: azure_openai, base_url: 'https://x.example', api_key: env:K}", {"env:K": "k"}, "paid"),
        ("{kind: openai_compatible, base_url: 'http://127.0.0.1:11434/v1'}", {}, "free"),  # local, no key
        ("{kind: openai_compatible, base_url: 'https://llm.example/v1', api_key: env:K}", {"env:K": "k"}, "paid"),
        ("{kind: openai, api_key: env:K, cost_class: free}", {"env:K": "k"}, "free"),
        ("{kind: codex, cost_class: paid}", {}, "paid"),
    ],
)
def test_cost_class(entry, secrets, expected):
    assert _provider(entry, secrets).cost_class == expected


def test_unknown_cost_class_is_a_config_error():
    from proxy_engine.config import ConfigError

    with pytest.raises(ConfigError, match="cost_class"):
        parse_config_text("providers:\n  p: {kind: openai, cost_class: cheap}\n")


def test_friendly_name_options_keep_their_candidates():
    cfg = parse_config_text(
        "providers:\n  a: {kind: codex}\n  b: {kind: openai, api_key: env:K}\n"
        "models:\n  M: {candidates: {a: gpt-5, b: gpt-4o}, allow_paid_fallback: true}\n  N: [a/gpt-5]\n"
    )
    from proxy_engine.config import FriendlyModel, candidate_pairs

    assert isinstance(cfg.models["M"], FriendlyModel) and cfg.models["M"].allow_paid_fallback
    assert list(candidate_pairs(cfg.models["M"])) == [("a", "gpt-5"), ("b", "gpt-4o")]
    assert list(candidate_pairs(cfg.models["N"])) == [("a", "gpt-5")]
