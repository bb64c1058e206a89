"""The `model` rule (docs/DESIGN.md): a reply names the model that answered, as the upstream named it,
whether it was passed through or translated, whole or streamed; the record keeps the name the client sent."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.engine_harness import EngineProcess

MSG = [{"role": "user", "content": "hi"}]


def _sse_data(text: str) -> list[dict]:
    return [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:") and "[DONE]" not in line]


def _chat(engine: EngineProcess, model: str, stream: bool) -> set[str]:
    r = httpx.post(engine.url + "/v1/chat/completions", json={"model": model, "messages": MSG, "stream": stream},
                   timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text
    return {c["model"] for c in _sse_data(r.text)} if stream else {r.json()["model"]}


def _messages(engine: EngineProcess, model: str, stream: bool) -> set[str]:
    body = {"model": model, "max_tokens": 16, "messages": MSG, "stream": stream}
    r = httpx.post(engine.url + "/v1/messages", json=body, headers={"anthropic-version": "2023-06-01"}, timeout=30)
    assert r.status_code == 200, r.text
    if not stream:
        return {r.json()["model"]}
    return {e["message"]["model"] for e in _sse_data(r.text) if e.get("type") == "message_start"}


def _gemini(engine: EngineProcess, model: str, stream: bool) -> set[str]:
    action = "streamGenerateContent?alt=sse" if stream else "generateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    r = httpx.post(f"{engine.url}/v1beta/models/{model}:{action}", json=body, timeout=30)
    assert r.status_code == 200, r.text
    return {c["modelVersion"] for c in _sse_data(r.text)} if stream else {r.json()["modelVersion"]}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(
    ("call", "friendly", "answered"),
    [
        (_chat, "Rush", "gpt-4o-mini"),  # openai_chat -> openai: passed through
        (_chat, "Smart", "claude-sonnet-4-6"),  # openai_chat -> anthropic: translated
        (_messages, "Smart", "claude-sonnet-4-6"),  # anthropic -> anthropic: passed through
        (_messages, "Rush", "gpt-4o-mini"),  # anthropic -> openai: translated
        (_gemini, "Smart", "claude-sonnet-4-6"),  # gemini -> anthropic: translated
    ],
    ids=["chat-pass", "chat-translated", "messages-pass", "messages-translated", "gemini-translated"],
)
def test_reply_names_the_model_that_answered(engine: EngineProcess, call, friendly: str, answered: str, stream):
    assert call(engine, friendly, stream) == {answered}
    row = engine.records(1)[0]
    assert row["model_requested"] == friendly and row["model"] == answered
