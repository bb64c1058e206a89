"""Each login-backed or special provider kind, through the real engine, against a fake speaking its API.

Logins are stored directly (the flows themselves are exercised in tests/logins against a real
authorization server); what is tested here is how the engine calls each upstream with them.
"""

from __future__ import annotations

import time

import anthropic
import openai
import pytest
from aiohttp import web

from proxy_engine.logins.tokens import TokenSet, save_tokens
from proxy_engine.paths import resolve_paths
from proxy_engine.secrets.store import open_secret_store
from tests.engine_harness import SECRET_ENV, EngineProcess, free_port
from tests.fakes import FakeOpenAI, FakeServerThread

AZURE_KEY = "azure-key-0123456789"


class FakeAzureOpenAI(FakeOpenAI):
    """Azure OpenAI's deployment routes: `api-key` header, `api-version` query, model from the path."""

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/openai/deployments/{deployment}/chat/completions", self._deployment_chat)

    def _auth(self, request: web.Request):  # type: ignore[no-untyped-def]
        key = request.headers.get("api-key")
        if not key or not self.key_matches(key):
            return key, self.error_response(401, "Access denied due to invalid subscription key.", None)
        if request.query.get("api-version") != "2024-10-21":
            return key, self.error_response(404, "Resource not found", None)
        return key, None

    async def _deployment_chat(self, request: web.Request) -> web.StreamResponse:
        return await self._chat(request)


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("PROXYPAL_HOME", str(home))
    for k, v in SECRET_ENV.items():
        monkeypatch.setenv(k, v)
    return home


def _store_login(provider: str, access: str, **extra) -> TokenSet:
    tokens = TokenSet(provider=provider, credential="ann", access_token=access, refresh_token=f"rt-{provider}",
                      expires_at=time.time() + 3600, account="ann@example.com", extra=extra)  # fmt: skip
    save_tokens(open_secret_store(resolve_paths()), tokens)
    return tokens


def _chat(eng: EngineProcess, model: str, stream: bool = False) -> str:
    client = openai.OpenAI(base_url=eng.url + "/v1", api_key="unused", max_retries=0)
    if stream:
        chunks = client.chat.completions.create(model=model, stream=True, messages=[{"role": "user", "content": "hi"}])
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    return r.choices[0].message.content


def test_codex_login_calls_the_chatgpt_responses_backend(home):
    _store_login("codex", "at-codex-access-1", account_id="acct-42", plan="plus")
    with FakeServerThread(FakeOpenAI(api_key="at-codex-access-1")) as fo:
        port = free_port()
        with EngineProcess(f'port: {port}\nproviders:\n  codex: {{base_url: "{fo.base_url}"}}\n', port,
                           home=str(home)) as eng:  # fmt: skip
            assert _chat(eng, "codex/gpt-5-codex") == "Hello from gpt-5-codex!"
            sent = fo.last_request
            assert sent.path == "/v1/responses", "chat was translated to the Responses API"
            assert sent.headers["chatgpt-account-id"] == "acct-42" and sent.headers["originator"] == "codex_cli_rs"
            assert sent.json["store"] is False and "instructions" in sent.json
            # Codex CLI itself speaks Responses: a pass-through that still gets store: false
            client = openai.OpenAI(base_url=eng.url + "/v1", api_key="unused", max_retries=0)
            r = client.responses.create(model="codex/gpt-5-codex", input="hi", store=True, max_output_tokens=50)
            assert r.output_text == "Hello from gpt-5-codex!"
            assert fo.last_request.json["store"] is False and "max_output_tokens" not in fo.last_request.json


def test_copilot_login_sends_the_editor_headers_to_the_session_api_base(home):
    with FakeServerThread(FakeOpenAI(api_key="tid=copilot-session;exp=1")) as fo:
        _store_login("copilot", "tid=copilot-session;exp=1", api_base=fo.base_url)
        port = free_port()
        with EngineProcess(f"port: {port}\nproviders:\n  copilot: {{}}\n", port, home=str(home)) as eng:
            assert _chat(eng, "copilot/gpt-4.1", stream=True) == "Hello from gpt-4.1!"
            sent = fo.last_request
            assert sent.path == "/v1/chat/completions"
            assert sent.headers["editor-version"].startswith("vscode/")
            assert sent.headers["copilot-integration-id"] == "vscode-chat"
            assert sent.headers["authorization"] == "Bearer tid=copilot-session;exp=1"


def test_qwen_login_uses_the_resource_url_from_the_login(home):
    with FakeServerThread(FakeOpenAI(api_key="at-qwen-1")) as fo:
        _store_login("qwen", "at-qwen-1", resource_url=fo.base_url)
        port = free_port()
        with EngineProcess(f"port: {port}\nproviders:\n  qwen: {{auth: oauth}}\n", port, home=str(home)) as eng:
            assert _chat(eng, "qwen/qwen3-coder-plus") == "Hello from qwen3-coder-plus!"
            assert fo.last_request.path == "/v1/chat/completions"
            status = eng.api("GET", "/v0/auth/status").json()["providers"][0]
            assert status["login"] == "qwen" and status["credentials"][0]["type"] == "oauth"


def test_azure_openai_uses_deployments_api_version_and_api_key_header(home):
    with FakeServerThread(FakeAzureOpenAI(api_key=AZURE_KEY)) as fz:
        port = free_port()
        cfg = f"""port: {port}
providers:
  azure:
    base_url: "{fz.origin}"
    api_key: env:AZ_KEY
    api_version: 2024-10-21
    deployments: {{gpt-4o: prod-gpt4o}}
models:
  Smart: {{azure: gpt-4o}}
"""
        with EngineProcess(cfg, port, env={"AZ_KEY": AZURE_KEY}, home=str(home)) as eng:
            assert _chat(eng, "Smart", stream=True) == "Hello from gpt-4o!"
            sent = fz.last_request
            assert sent.path == "/openai/deployments/prod-gpt4o/chat/completions"
            assert sent.query["api-version"] == "2024-10-21" and sent.headers["api-key"] == AZURE_KEY
            assert "authorization" not in sent.headers
            # an Anthropic client on the same deployment (translated)
            client = anthropic.Anthropic(base_url=eng.url, api_key="unused", max_retries=0)
            msg = client.messages.create(model="Smart", max_tokens=20, messages=[{"role": "user", "content": "x"}])
            assert msg.content[0].text == "Hello from gpt-4o!"


def test_login_only_kind_without_a_login_says_how_to_log_in(home):
    port = free_port()
    with EngineProcess(f"port: {port}\nproviders:\n  codex: {{}}\n", port, home=str(home)) as eng:
        with pytest.raises(openai.APIStatusError) as exc:
            _chat(eng, "codex/gpt-5")
        assert exc.value.status_code == 503 and "proxypal-engine login codex" in exc.value.message
        creds = eng.api("GET", "/v0/auth/status").json()["providers"][0]["credentials"]
        assert creds[0]["state"] == "missing"
