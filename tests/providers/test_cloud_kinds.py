"""Gemini Code Assist (gemini-cli login), Vertex AI (service account) and AWS Bedrock (SigV4),
through the real engine, each against a fake that speaks and checks its wire format."""

from __future__ import annotations

import time

import anthropic
import openai
import pytest
from google import genai
from google.genai import types

from proxy_engine.logins.tokens import TokenSet, save_tokens
from proxy_engine.paths import resolve_paths
from proxy_engine.secrets.store import open_secret_store
from tests.engine_harness import SECRET_ENV, EngineProcess, free_port
from tests.fakes import FakeServerThread
from tests.fakes.bedrock_fake import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FakeBedrock
from tests.fakes.code_assist_fake import FakeCodeAssist
from tests.fakes.vertex_fake import FakeVertex


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("PROXYPAL_HOME", str(home))
    for k, v in SECRET_ENV.items():
        monkeypatch.setenv(k, v)
    return home


def _login(provider: str, access: str, **extra) -> None:
    tokens = TokenSet(provider=provider, credential="ann", access_token=access, refresh_token=f"rt-{provider}",
                      expires_at=time.time() + 3600, account="ann@example.com", extra=extra)  # fmt: skip
    save_tokens(open_secret_store(resolve_paths()), tokens)


def _engine(home, providers: str, env: dict | None = None) -> EngineProcess:
    port = free_port()
    return EngineProcess(f"port: {port}\nproviders:\n{providers}", port, env=env, home=str(home))


def test_gemini_cli_login_calls_code_assist_with_its_project(home):
    with FakeServerThread(FakeCodeAssist(api_key="ya29.code-assist", project="proj-7")) as fc:
        _login("gemini-cli", "ya29.code-assist", project_id="proj-7")
        with _engine(home, f'  gemini-cli: {{base_url: "{fc.base_url}"}}\n') as eng:
            client = genai.Client(api_key="unused", http_options=types.HttpOptions(base_url=eng.url))
            r = client.models.generate_content(model="gemini-cli/gemini-2.5-pro", contents="hi")
            assert r.text == "Hello from gemini-2.5-pro!"
            sent = fc.last_request
            assert sent.path == "/v1internal:generateContent"
            assert sent.json["project"] == "proj-7" and sent.json["model"] == "gemini-2.5-pro"
            assert sent.json["request"]["contents"][0]["parts"][0]["text"] == "hi"
            # Claude Code on the same login, streaming
            ac = anthropic.Anthropic(base_url=eng.url, api_key="unused", max_retries=0)
            with ac.messages.stream(model="gemini-cli/gemini-2.5-flash", max_tokens=50,
                                    messages=[{"role": "user", "content": "hi"}]) as s:  # fmt: skip
                msg = s.get_final_message()
            assert msg.content[0].text == "Hello from gemini-2.5-flash!"
            assert fc.last_request.path == "/v1internal:streamGenerateContent"
            assert fc.last_request.query.get("alt") == "sse"
            row = eng.records(1)[0]
            assert row["provider"] == "gemini-cli" and row["output_tokens"] > 0


def test_vertex_service_account_serves_gemini_and_claude_models(home):
    with FakeServerThread(FakeVertex(api_key="ya29.vertex-sa", project="vx-proj", location="europe-west4")) as fv:
        _login("vertex", "ya29.vertex-sa", project_id="vx-proj", client_email="sa@vx-proj.iam.gserviceaccount.com")
        cfg = f'  vertex: {{base_url: "{fv.origin}", location: europe-west4}}\n'
        with _engine(home, cfg) as eng:
            client = openai.OpenAI(base_url=eng.url + "/v1", api_key="unused", max_retries=0)
            r = client.chat.completions.create(model="vertex/gemini-2.5-pro",
                                               messages=[{"role": "user", "content": "hi"}])  # fmt: skip
            assert r.choices[0].message.content == "Hello from gemini-2.5-pro!"
            assert fv.last_request.path == (
                "/v1/projects/vx-proj/locations/europe-west4/publishers/google/models/gemini-2.5-pro:generateContent"
            )
            ac = anthropic.Anthropic(base_url=eng.url, api_key="unused", max_retries=0)
            msg = ac.messages.create(model="vertex/claude-sonnet-4-5@20250929", max_tokens=30,
                                     messages=[{"role": "user", "content": "hi"}])  # fmt: skip
            assert msg.content[0].text == "Hello from claude-sonnet-4-5@20250929!"
            sent = fv.last_request
            assert sent.path.endswith("/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict")
            assert "model" not in sent.json and sent.json["anthropic_version"] == "vertex-2023-10-16"
            assert sent.headers["authorization"] == "Bearer ya29.vertex-sa"


def test_bedrock_signs_with_the_aws_profile_and_streams_event_stream_frames(home, tmp_path):
    creds_file = tmp_path / "aws-credentials"
    creds_file.write_text(f"[work]\naws_access_key_id = {FAKE_ACCESS_KEY}\naws_secret_access_key = {FAKE_SECRET_KEY}\n")
    aws_env = {"AWS_SHARED_CREDENTIALS_FILE": str(creds_file), "AWS_CONFIG_FILE": str(tmp_path / "none"),
               "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
               "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip
    model = "anthropic.claude-sonnet-4-5-20250929-v1:0"
    with FakeServerThread(FakeBedrock(region="eu-central-1")) as fb:
        cfg = f'  bedrock: {{base_url: "{fb.origin}", region: eu-central-1, profile: work}}\n'
        with _engine(home, cfg, env=aws_env) as eng:
            client = openai.OpenAI(base_url=eng.url + "/v1", api_key="unused", max_retries=0)
            chunks = client.chat.completions.create(model=f"bedrock/{model}", stream=True,
                                                    messages=[{"role": "user", "content": "hi"}])  # fmt: skip
            assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == f"Hello from {model}!"
            sent = fb.last_request
            # the fake recomputed the SigV4 signature over the raw (percent-encoded) path and accepted it
            assert sent.path == f"/model/{model}/converse-stream"
            assert sent.headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={FAKE_ACCESS_KEY}/")
            assert "/eu-central-1/bedrock/aws4_request" in sent.headers["authorization"]
            ac = anthropic.Anthropic(base_url=eng.url, api_key="unused", max_retries=0)
            msg = ac.messages.create(model=f"bedrock/{model}", max_tokens=30,
                                     messages=[{"role": "user", "content": "hi"}])  # fmt: skip
            assert msg.content[0].text == f"Hello from {model}!" and msg.usage.output_tokens > 0
            rows = eng.records(2)
            assert {r["credential"] for r in rows} == {"aws:work"} and all(r["output_tokens"] > 0 for r in rows)
            assert FAKE_SECRET_KEY not in eng.api("GET", "/v0/auth/status").text
