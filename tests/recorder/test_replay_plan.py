"""What a replay sends: the captured request with the model (or the Gemini path) swapped, no redacted value,
the client's key from the live runtime; a truncated or bodiless capture is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxy_engine.config import LoadedConfig, parse_config_text
from proxy_engine.recorder.replay import REPLAY_HEADER, ReplayRefused, plan_replay
from proxy_engine.runtime import build_runtime

_KEY = "client-key-plan-0a1b2c3d4e"


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PLAN_CK", _KEY)
    text = "clients:\n  - {name: laptop, key: env:PLAN_CK}\n"
    return build_runtime(LoadedConfig(parse_config_text(text), Path("config.yaml"), text), "127.0.0.1")


def _doc(path: str, body: object, dialect: str, **stage: object) -> dict:
    client = {"stage": "client_request", "method": "POST", "url": path, "body": json.dumps(body),
              "query": {"key": "[redacted]", "alt": "sse"}, "truncated": False,
              "headers": {"Authorization": "[redacted]", "Host": "127.0.0.1:1", "anthropic-version": "2023-06-01"},
              **stage}  # fmt: skip
    meta = {"dialect_in": dialect, "client": "laptop", "model": "gpt-4o", "model_requested": "Smart"}
    return {"id": "00112233445566aa", "meta": meta, "stages": [client]}


def test_model_and_provider_swap_in_the_body(runtime) -> None:
    plan = plan_replay(_doc("/v1/messages", {"model": "Smart", "max_tokens": 9}, "anthropic"), runtime,
                       "claude-haiku-4-5", "anthropic")  # fmt: skip
    assert json.loads(plan.body) == {"model": "anthropic/claude-haiku-4-5", "max_tokens": 9}
    assert plan.headers["Authorization"] == f"Bearer {_KEY}" and plan.headers[REPLAY_HEADER] == "00112233445566aa"
    assert "[redacted]" not in json.dumps(plan.headers) and "Host" not in plan.headers
    assert plan.query == {"alt": "sse"} and plan.headers["anthropic-version"] == "2023-06-01"


def test_gemini_model_in_the_path_even_with_a_slash(runtime) -> None:
    doc = _doc("/v1beta/models/openai/gpt-4o:streamGenerateContent", {"contents": []}, "gemini")
    plan = plan_replay(doc, runtime, "gemini-2.5-flash", "gemini")
    assert plan.path == "/v1beta/models/gemini/gemini-2.5-flash:streamGenerateContent"
    assert json.loads(plan.body) == {"contents": []}
    same = plan_replay(doc, runtime, None, None)
    assert same.path == "/v1beta/models/openai/gpt-4o:streamGenerateContent"


def test_truncated_or_missing_client_request_is_refused(runtime) -> None:
    with pytest.raises(ReplayRefused, match="truncated"):
        plan_replay(_doc("/v1/messages", {"model": "m"}, "anthropic", truncated=True), runtime, None, None)
    with pytest.raises(ReplayRefused, match="no client request"):
        plan_replay({"id": "00112233445566aa", "meta": {}, "stages": []}, runtime, None, None)
