"""An engine with a Codex (ChatGPT login) provider beside OpenAI and Anthropic, on the fake upstreams.

The login is stored the way `proxypal-engine login codex` stores one, in the engine's own home,
so the engine serves it as a credential; its base_url points at FakeCodex's `/backend-api/codex`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from proxy_engine.logins.tokens import TokenSet, save_tokens
from proxy_engine.paths import resolve_paths
from proxy_engine.secrets.store import open_secret_store
from tests.engine_harness import SECRET_ENV, EngineProcess, free_port
from tests.fakes import FakeAnthropic, FakeOpenAI, FakeServerThread
from tests.fakes.codex_fake import FakeCodex

CLIENT_KEY = "pp-codex-client-key"


@dataclass
class CodexStack:
    engine: EngineProcess
    openai: FakeOpenAI
    anthropic: FakeAnthropic
    codex: FakeCodex

    def reset(self) -> None:
        for fake in (self.openai, self.anthropic, self.codex):
            fake.reset()
        self.engine.clear_cooldowns()


def stack_config(port: int, fo: FakeOpenAI, fa: FakeAnthropic, fc: FakeCodex, models: str | None = None) -> str:
    return f"""port: {port}
providers:
  openai: {{base_url: "{fo.base_url}", api_key: env:OK}}
  anthropic: {{base_url: "{fa.base_url}", api_key: env:AK}}
  codex: {{kind: codex, base_url: "{fc.base_url}"}}
models:
{models or DEFAULT_MODELS}
clients:
  - {{name: laptop, key: env:PP_CLIENT_KEY}}
"""


DEFAULT_MODELS = """  Codexy: {codex: gpt-5-codex}
  Native: {openai: gpt-5}
  Claude: {anthropic: claude-sonnet-4-6}
  Switch: ["openai/gpt-5", "anthropic/claude-sonnet-4-6"]
"""


@contextlib.contextmanager
def _home_env(home: Path) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in ("PROXYPAL_HOME", *SECRET_ENV)}
    os.environ.update(PROXYPAL_HOME=str(home), **SECRET_ENV)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def seed_codex_login(home: Path, fc: FakeCodex) -> None:
    """A stored Codex login whose token and account the fake backend accepts (it never expires here)."""
    with _home_env(home):
        store = open_secret_store(resolve_paths())
        tokens = TokenSet(
            provider="codex", credential="ann@example.com", access_token=fc.api_key,
            account="ann@example.com", extra={"account_id": fc.account_id},
        )  # fmt: skip
        save_tokens(store, tokens)


@contextlib.contextmanager
def codex_stack(models: str | None = None) -> Iterator[CodexStack]:
    with FakeServerThread(FakeOpenAI()) as fo, FakeServerThread(FakeAnthropic()) as fa, \
            FakeServerThread(FakeCodex()) as fc:  # fmt: skip
        home = Path(tempfile.mkdtemp(prefix="pp-codex-"))
        seed_codex_login(home, fc)
        port = free_port()
        env = {"PP_CLIENT_KEY": CLIENT_KEY}
        with EngineProcess(stack_config(port, fo, fa, fc, models), port, env=env, home=str(home)) as eng:
            yield CodexStack(eng, fo, fa, fc)
