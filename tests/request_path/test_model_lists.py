"""Model lists through the real engine: each dialect's documented shape, with display names, context windows
and output limits taken from the config's `model_info` or genai-prices' catalogue (never a table in code)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from proxy_engine.request_path.model_facts import catalogue_entry
from tests.engine_harness import EngineProcess, free_port

ANTHROPIC = {"anthropic-version": "2023-06-01", "x-api-key": "unused"}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


@pytest.fixture(scope="module")
def engine(fakes: tuple[Any, Any, Any]) -> Iterator[EngineProcess]:
    fo, fa, fg = fakes
    port = free_port()
    config = f"""port: {port}
providers:
  openai: {{base_url: "{fo.base_url}", api_key: env:OK, models: [gpt-4o-mini, my-private-model, unheard-of-model]}}
  anthropic: {{base_url: "{fa.base_url}", api_key: env:AK}}
  gemini: {{base_url: "{fg.base_url}", api_key: env:GK, models: [gemini-2.5-flash]}}
models:
  Smart: {{anthropic: claude-sonnet-4-6, openai: gpt-4o}}
  Rush: ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"]
  Private: {{openai: my-private-model}}
model_info:
  Rush: {{display_name: Rush hour, max_output_tokens: 8192}}
  my-private-model: {{context_window: 32768, max_output_tokens: 4096}}
  anthropic/claude-sonnet-4-6: {{max_output_tokens: 64000}}
"""
    with EngineProcess(config, port) as eng:
        yield eng


def _window(provider: str, model: str) -> int:
    window = catalogue_entry(provider, model)[1]
    assert window, f"genai-prices no longer knows {model}'s context window"
    return window


def _by_id(entries: list[dict[str, Any]], key: str = "id") -> dict[str, dict[str, Any]]:
    return {e[key].removeprefix("models/"): e for e in entries}


def test_anthropic_shape_for_claude_codes_model_picker(engine: EngineProcess) -> None:
    r = httpx.get(engine.url + "/v1/models", headers=ANTHROPIC)
    assert r.status_code == 200
    body = r.json()
    assert body["has_more"] is False
    assert body["first_id"] == body["data"][0]["id"] and body["last_id"] == body["data"][-1]["id"]
    for m in body["data"]:
        assert m["type"] == "model" and isinstance(m["display_name"], str) and m["display_name"]
        assert RFC3339.match(m["created_at"]), m
    got = _by_id(body["data"])
    assert {"Smart", "Rush", "Private", "openai/gpt-4o-mini", "gemini/gemini-2.5-flash"} <= set(got)
    smart = got["Smart"]
    assert smart["display_name"] == "Smart (Claude Sonnet 4.6)"
    # Smart fails over from Claude to GPT-4o: the window every candidate takes is the smaller one.
    assert smart["max_input_tokens"] == min(_window("anthropic", "claude-sonnet-4-6"), _window("openai", "gpt-4o"))
    assert smart["max_tokens"] == 64000, "only one candidate's output limit is known: that one"
    assert got["Rush"]["display_name"] == "Rush hour" and got["Rush"]["max_tokens"] == 8192
    assert got["openai/gpt-4o-mini"]["display_name"] == "gpt 4o mini (openai)"
    assert got["Private"]["max_input_tokens"] == 32768 and got["Private"]["max_tokens"] == 4096


def test_gemini_models_list_reports_token_limits(engine: EngineProcess) -> None:
    r = httpx.get(engine.url + "/v1beta/models")
    assert r.status_code == 200
    got = _by_id(r.json()["models"], "name")
    flash = got["gemini/gemini-2.5-flash"]
    assert flash["displayName"] == "Gemini 2.5 Flash (gemini)"
    assert flash["inputTokenLimit"] == _window("google", "gemini-2.5-flash")
    assert "outputTokenLimit" not in flash, "genai-prices has no output limits and the config names none"
    assert (got["Private"]["inputTokenLimit"], got["Private"]["outputTokenLimit"]) == (32768, 4096)
    assert "generateContent" in flash["supportedGenerationMethods"]


def test_openai_list_reports_context_window_and_max_output_tokens(engine: EngineProcess) -> None:
    r = httpx.get(engine.url + "/v1/models")
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "list"
    got = _by_id(body["data"])
    assert got["openai/gpt-4o-mini"]["context_window"] == _window("openai", "gpt-4o-mini")
    assert got["Rush"]["context_window"] == min(
        _window("openai", "gpt-4o-mini"), _window("anthropic", "claude-haiku-4-5")
    )
    assert got["Rush"]["max_output_tokens"] == 8192
    assert all(m["object"] == "model" and m["owned_by"] == "proxypal" for m in body["data"])


def test_an_override_by_upstream_model_applies_to_every_name_routed_to_it(engine: EngineProcess) -> None:
    got = _by_id(httpx.get(engine.url + "/v1/models", headers=ANTHROPIC).json()["data"])
    private = got["openai/my-private-model"]
    assert private["display_name"] == "my-private-model (openai)"
    assert (private["max_input_tokens"], private["max_tokens"]) == (32768, 4096)


def test_a_model_nobody_knows_lists_without_limits(engine: EngineProcess) -> None:
    name = "openai/unheard-of-model"
    anthropic = _by_id(httpx.get(engine.url + "/v1/models", headers=ANTHROPIC).json()["data"])[name]
    assert anthropic["display_name"] == "unheard-of-model (openai)"
    assert "max_input_tokens" not in anthropic and "max_tokens" not in anthropic
    gemini = _by_id(httpx.get(engine.url + "/v1beta/models").json()["models"], "name")[name]
    assert "inputTokenLimit" not in gemini and "outputTokenLimit" not in gemini
    openai = _by_id(httpx.get(engine.url + "/v1/models").json()["data"])[name]
    assert "context_window" not in openai and "max_output_tokens" not in openai


def test_amp_lists_carry_the_limits_too(engine: EngineProcess) -> None:
    got = _by_id(httpx.get(engine.url + "/api/provider/anthropic/v1/models").json()["data"])
    assert got["Rush"]["max_tokens"] == 8192 and got["Smart"]["max_input_tokens"] > 0
