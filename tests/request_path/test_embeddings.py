"""Embeddings through the real engine: OpenAI `/v1/embeddings` and Gemini `:embedContent`/`:batchEmbedContents`,
same dialect and translated both ways, driven by the official openai and google-genai SDKs.

Each test checks both ends: what the fake upstream received (validated against its API's request shape),
the vectors the SDK parsed (the fakes embed each text to a fixed vector, so a mix-up shows), and the
ledger row with its input tokens and genai-prices cost.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from google import genai
from google.genai import types

from tests.engine_harness import EngineProcess, free_port
from tests.fakes import FakeAnthropic, FakeGemini, FakeOpenAI, FakeServerThread, Usage
from tests.fakes.embeddings import fake_vector, from_base64

OPENAI_PRICE, GEMINI_PRICE = 0.02 / 1e6, 0.15 / 1e6  # text-embedding-3-small, gemini-embedding-001 per token
TOKENS = 37  # what the OpenAI fake reports as prompt_tokens


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[EngineProcess, FakeOpenAI, FakeGemini]]:
    with (
        FakeServerThread(FakeOpenAI()) as fo,
        FakeServerThread(FakeGemini(strict=True)) as fg,
        FakeServerThread(FakeAnthropic()) as fa,
    ):
        port = free_port()
        config = f"""port: {port}
providers:
  oai: {{kind: openai, base_url: "{fo.base_url}", api_key: env:OK}}
  gem: {{kind: gemini, base_url: "{fg.base_url}", api_key: env:GK}}
  ant: {{kind: anthropic, base_url: "{fa.base_url}", api_key: env:AK}}
models:
  embed: ["gem/gemini-embedding-001", "oai/text-embedding-3-small"]
"""
        with EngineProcess(config, port) as eng:
            yield eng, fo, fg


@pytest.fixture
def env(stack: tuple[EngineProcess, FakeOpenAI, FakeGemini]) -> tuple[EngineProcess, FakeOpenAI, FakeGemini]:
    eng, fo, fg = stack
    fo.reset()
    fg.reset()
    eng.clear_cooldowns()  # a failover test leaves Gemini cooling down
    fo.script(usage=Usage(input_tokens=TOKENS))
    return stack


def _row(eng: EngineProcess, count_before: int) -> dict[str, Any]:
    """The newest ledger row, once the request was recorded."""
    deadline = time.monotonic() + 10
    while True:
        rows = eng.records(200)
        if len(rows) > count_before or time.monotonic() > deadline:
            assert len(rows) > count_before, "the embeddings call was not recorded"
            return rows[0]
        time.sleep(0.05)


def _openai(eng: EngineProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=eng.url + "/v1", api_key="unused", max_retries=0)


def _genai(eng: EngineProcess) -> genai.Client:
    return genai.Client(api_key="unused", http_options=types.HttpOptions(base_url=eng.url))


def _close(got: list[float], want: list[float]) -> bool:
    return len(got) == len(want) and all(abs(a - b) < 1e-6 for a, b in zip(got, want, strict=True))


def test_openai_sdk_on_openai_passes_through_and_prices_the_tokens(env) -> None:
    eng, fo, _ = env
    before = len(eng.records(200))
    r = _openai(eng).embeddings.create(model="oai/text-embedding-3-small", input=["red", "blue"], dimensions=8)
    assert [d.index for d in r.data] == [0, 1]
    assert _close(r.data[0].embedding, fake_vector("red", 8)) and _close(r.data[1].embedding, fake_vector("blue", 8))
    sent = fo.last_request
    assert sent.path == "/v1/embeddings" and sent.json["model"] == "text-embedding-3-small"
    assert sent.json["encoding_format"] == "base64", "the SDK's own choice passes through untouched"
    row = _row(eng, before)
    assert (row["dialect_in"], row["dialect_out"], row["status"]) == ("openai_embeddings", "openai_embeddings", 200)
    assert row["input_tokens"] == TOKENS and row["output_tokens"] == 0
    assert row["cost_usd"] == pytest.approx(TOKENS * OPENAI_PRICE)


@pytest.mark.parametrize("encoding", [None, "base64", "float"], ids=["sdk-default", "base64", "float"])
def test_openai_sdk_on_gemini_is_translated_to_batch_embed_contents(env, encoding: str | None) -> None:
    """The SDK asks for base64 unless told otherwise (and decodes it); an explicit base64 is left to the caller."""
    eng, _, fg = env
    before = len(eng.records(200))
    kw = {"encoding_format": encoding} if encoding else {}
    r = _openai(eng).embeddings.create(model="gem/gemini-embedding-001", input=["alpha", "beta gamma"],
                                       dimensions=16, **kw)  # fmt: skip
    got = [from_base64(d.embedding) if encoding == "base64" else d.embedding for d in r.data]
    assert _close(got[0], fake_vector("alpha", 16)) and _close(got[1], fake_vector("beta gamma", 16))
    assert r.model == "gem/gemini-embedding-001" and r.object == "list"
    sent = fg.last_request
    assert sent.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert sent.headers["x-goog-api-key"] == "AIza-fake-gemini"
    assert sent.json == {"requests": [
        {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": t}]}, "outputDimensionality": 16}
        for t in ("alpha", "beta gamma")
    ]}  # fmt: skip
    row = _row(eng, before)
    assert r.usage.prompt_tokens == row["input_tokens"] > 0, "the Gemini API counts nothing: the estimate is billed"
    assert (row["provider"], row["model"], row["dialect_out"]) == ("gem", "gemini-embedding-001", "gemini")
    assert row["cost_usd"] == pytest.approx(row["input_tokens"] * GEMINI_PRICE)


def test_openai_string_input_on_gemini_gives_one_embedding(env) -> None:
    eng, _, fg = env
    r = httpx.post(eng.url + "/v1/embeddings", json={"model": "gem/gemini-embedding-001", "input": "solo"}, timeout=20)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert len(data) == 1 and _close(data[0]["embedding"], fake_vector("solo", 3072))
    assert len(fg.last_request.json["requests"]) == 1


def test_genai_sdk_on_gemini_passes_through_with_the_upstream_model_in_every_request(env) -> None:
    eng, _, fg = env
    before = len(eng.records(200))
    cfg = types.EmbedContentConfig(output_dimensionality=8, task_type="RETRIEVAL_DOCUMENT")
    client = _genai(eng)  # held: a collected client closes its connections
    r = client.models.embed_content(model="gem/gemini-embedding-001", contents=["one", "two"], config=cfg)
    assert [e.values for e in r.embeddings] == [fake_vector("one", 8), fake_vector("two", 8)]
    sent = fg.last_request
    assert sent.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert {q["model"] for q in sent.json["requests"]} == {"models/gemini-embedding-001"}
    assert {q["taskType"] for q in sent.json["requests"]} == {"RETRIEVAL_DOCUMENT"}
    row = _row(eng, before)
    assert (row["dialect_in"], row["dialect_out"]) == ("gemini", "gemini") and row["input_tokens"] > 0
    assert row["cost_usd"] == pytest.approx(row["input_tokens"] * GEMINI_PRICE)


def test_genai_sdk_on_openai_is_translated_to_v1_embeddings(env) -> None:
    eng, fo, _ = env
    before = len(eng.records(200))
    cfg = types.EmbedContentConfig(output_dimensionality=12)
    client = _genai(eng)  # held: a collected client closes its connections
    r = client.models.embed_content(model="oai/text-embedding-3-small", contents=["x ray", "yak"], config=cfg)
    assert [e.values for e in r.embeddings] == [fake_vector("x ray", 12), fake_vector("yak", 12)]
    assert r.usage_metadata is not None and r.usage_metadata.prompt_token_count == TOKENS
    sent = fo.last_request
    assert sent.path == "/v1/embeddings"
    assert sent.json == {"model": "text-embedding-3-small", "input": ["x ray", "yak"], "dimensions": 12,
                         "encoding_format": "float"}  # fmt: skip
    assert sent.headers["authorization"] == "Bearer sk-fake-openai"
    row = _row(eng, before)
    assert (row["dialect_in"], row["dialect_out"], row["input_tokens"]) == ("gemini", "openai_embeddings", TOKENS)
    assert row["cost_usd"] == pytest.approx(TOKENS * OPENAI_PRICE)


def test_gemini_embed_content_on_openai_answers_one_embedding(env) -> None:
    eng, fo, _ = env
    body = {"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 4}
    r = httpx.post(eng.url + "/v1beta/models/oai/text-embedding-3-small:embedContent", json=body, timeout=20)
    assert r.status_code == 200, r.text
    assert r.json()["embedding"]["values"] == fake_vector("hello", 4)
    assert fo.last_request.json["input"] == "hello" and fo.last_request.json["dimensions"] == 4


BAD_OPENAI = [
    ({"model": "gem/gemini-embedding-001", "input": [[15339, 1917]]}, "token-array"),
    ({"model": "gem/gemini-embedding-001", "input": []}, "non-empty"),
    ({"model": "gem/gemini-embedding-001", "input": "x", "encoding_format": "int8"}, "encoding_format"),
    ({"model": "gem/gemini-embedding-001", "input": "x", "dimensions": 0}, "dimensions"),
    ({"model": "ant/claude-sonnet-4-6", "input": "x"}, "no embeddings API"),
]


@pytest.mark.parametrize(("body", "says"), BAD_OPENAI, ids=[b[1] for b in BAD_OPENAI])
def test_bad_openai_input_is_an_openai_400_and_calls_no_upstream(env, body: dict[str, Any], says: str) -> None:
    eng, fo, fg = env
    r = httpx.post(eng.url + "/v1/embeddings", json=body, timeout=20)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and says in err["message"]
    assert fo.requests == [] and fg.requests == []
    with pytest.raises(openai.BadRequestError):
        _openai(eng).embeddings.create(**body)


BAD_GEMINI = [
    ("batchEmbedContents", {"requests": []}, "requests"),
    ("embedContent", {"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]}}, "text"),
    ("embedContent", {"content": {"parts": [{"text": "x"}]}, "outputDimensionality": "big"}, "outputDimensionality"),
]


@pytest.mark.parametrize(("method", "body", "says"), BAD_GEMINI, ids=[b[2] for b in BAD_GEMINI])
def test_bad_gemini_input_is_a_gemini_400(env, method: str, body: dict[str, Any], says: str) -> None:
    eng, fo, _ = env
    r = httpx.post(eng.url + f"/v1beta/models/oai/text-embedding-3-small:{method}", json=body, timeout=20)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == 400 and err["status"] == "INVALID_ARGUMENT" and says in err["message"]
    assert fo.requests == []


def test_upstream_refusal_comes_back_in_the_client_dialect(env) -> None:
    eng, fo, _ = env
    client = _genai(eng)
    with pytest.raises(genai.errors.ClientError) as e:
        client.models.embed_content(model="oai/gpt-4o", contents="not an embedding model")
    assert e.value.code == 400 and "does not support embeddings" in str(e.value)
    assert fo.last_request.path == "/v1/embeddings"
    body = {"content": {"parts": [{"text": "x"}]}}
    r = httpx.post(eng.url + "/v1beta/models/oai/gpt-4o:embedContent", json=body, timeout=20)
    err = r.json()["error"]  # Gemini's shape, not the OpenAI upstream's own body
    assert r.status_code == 400 and err["code"] == 400 and err["status"] == "INVALID_ARGUMENT"
    assert "does not support embeddings" in err["message"]


def test_embeddings_fail_over_to_the_next_candidate_in_another_dialect(env) -> None:
    eng, fo, fg = env
    fg.queue(status=503, error_message="overloaded")
    before = len(eng.records(200))
    r = _openai(eng).embeddings.create(model="embed", input=["fallback"], dimensions=4)
    assert _close(r.data[0].embedding, fake_vector("fallback", 4)) and r.usage.prompt_tokens == TOKENS
    assert [q.path for q in fg.requests] == ["/v1beta/models/gemini-embedding-001:batchEmbedContents"]
    assert fo.last_request.json["model"] == "text-embedding-3-small"
    row = _row(eng, before)
    assert (row["provider"], row["attempts"], row["status"]) == ("oai", 2, 200)
