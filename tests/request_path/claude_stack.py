"""One engine in front of every upstream Claude Code can reach through it: Anthropic, OpenAI, Gemini,
Claude on Vertex (service-account login) and Bedrock (AWS profile), each a real fake on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from proxy_engine.logins.tokens import TokenSet, save_tokens
from proxy_engine.paths import resolve_paths
from proxy_engine.secrets.store import open_secret_store
from tests.engine_harness import SECRET_ENV, EngineProcess, free_port
from tests.fakes import FakeAnthropic, FakeGemini, FakeOpenAI, FakeServerThread, parse_sse
from tests.fakes.bedrock_fake import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FakeBedrock
from tests.fakes.vertex_fake import FakeVertex

VERTEX_TOKEN = "ya29.vertex-claude-sa"
# What Claude Code sends on every call (its betas vary by version and model).
CLAUDE_CODE_BETAS = (
    "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,"
    "fine-grained-tool-streaming-2025-05-14"
)


@dataclass
class ClaudeStack:
    engine: EngineProcess
    anthropic: FakeAnthropic
    openai: FakeOpenAI
    gemini: FakeGemini
    vertex: FakeVertex
    bedrock: FakeBedrock

    @property
    def fakes(self) -> tuple[Any, ...]:
        return (self.anthropic, self.openai, self.gemini, self.vertex, self.bedrock)

    def messages(
        self, body: dict[str, Any], *, session: str = "sess-1", betas: str = CLAUDE_CODE_BETAS, **headers: str
    ) -> httpx.Response:
        """POST /v1/messages in Claude Code's shape (its headers; the body as JSON)."""
        hdrs = {
            "anthropic-version": "2023-06-01",
            "anthropic-beta": betas,
            "X-Claude-Code-Session-Id": session,
            "x-app": "cli",
            "User-Agent": "claude-cli/2.0.0 (external, cli)",
            **headers,
        }
        return httpx.post(self.engine.url + "/v1/messages", json=body, headers=hdrs, timeout=30)


def _login_vertex() -> None:
    tokens = TokenSet(provider="vertex", credential="sa", access_token=VERTEX_TOKEN, refresh_token="rt-vertex",
                      expires_at=time.time() + 3600, account="sa@vx.iam.gserviceaccount.com",
                      extra={"project_id": "fake-vertex-project"})  # fmt: skip
    save_tokens(open_secret_store(resolve_paths()), tokens)


@contextlib.contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def claude_stack(home: Path, models: str = "") -> Iterator[ClaudeStack]:
    creds = home.parent / "aws-credentials"
    creds.write_text(f"[work]\naws_access_key_id = {FAKE_ACCESS_KEY}\naws_secret_access_key = {FAKE_SECRET_KEY}\n")
    aws_env = {"AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_CONFIG_FILE": str(home.parent / "none"),
               "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
               "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip
    with (
        FakeServerThread(FakeAnthropic()) as fa,
        FakeServerThread(FakeOpenAI()) as fo,
        FakeServerThread(FakeGemini()) as fg,
        FakeServerThread(FakeVertex(api_key=VERTEX_TOKEN)) as fv,
        FakeServerThread(FakeBedrock()) as fb,
    ):
        with _env({"PROXYPAL_HOME": str(home), **SECRET_ENV}):
            _login_vertex()
        port = free_port()
        config = f"""port: {port}
providers:
  anthropic: {{base_url: "{fa.base_url}", api_key: env:AK}}
  openai: {{base_url: "{fo.base_url}", api_key: env:OK}}
  gemini: {{base_url: "{fg.base_url}", api_key: env:GK}}
  vertex: {{base_url: "{fv.origin}"}}
  bedrock: {{base_url: "{fb.origin}", profile: work}}
{models}"""
        with EngineProcess(config, port, env=aws_env, home=str(home)) as eng:
            yield ClaudeStack(eng, fa, fo, fg, fv, fb)


def sse_events(r: httpx.Response) -> list[dict[str, Any]]:
    assert r.status_code == 200, r.text
    return [data for _, data in parse_sse(r.content) if isinstance(data, dict)]


def message_from_stream(r: httpx.Response) -> dict[str, Any]:
    """The Message a streamed reply adds up to (the way the SDKs assemble it)."""
    msg: dict[str, Any] = {}
    blocks: list[dict[str, Any]] = []
    partial: dict[int, str] = {}
    for ev in sse_events(r):
        kind = ev["type"]
        if kind == "message_start":
            msg = ev["message"]
        elif kind == "content_block_start":
            blocks.append(dict(ev["content_block"]))
        elif kind == "content_block_delta":
            block, d = blocks[ev["index"]], ev["delta"]
            if d["type"] == "text_delta":
                block["text"] += d["text"]
            elif d["type"] == "thinking_delta":
                block["thinking"] += d["thinking"]
            elif d["type"] == "signature_delta":
                block["signature"] = block.get("signature", "") + d["signature"]
            elif d["type"] == "input_json_delta":
                partial[ev["index"]] = partial.get(ev["index"], "") + d["partial_json"]
        elif kind == "message_delta":
            msg["stop_reason"] = ev["delta"].get("stop_reason")
        elif kind == "error":
            raise AssertionError(f"the stream ended in an error: {ev}")
    for i, text in partial.items():
        blocks[i]["input"] = json.loads(text) if text else {}
    msg["content"] = blocks
    return msg
