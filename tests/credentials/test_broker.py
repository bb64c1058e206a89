"""The credentials broker stands alone: built from paths, a runtime getter and an emit callable,
it pools a provider's credentials, cools them down in a real SQLite file and reports events,
without the engine state (whose module used to import it back)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from proxy_engine.config import LoadedConfig, parse_config_text
from proxy_engine.credentials.broker import CredentialBroker
from proxy_engine.paths import Paths
from proxy_engine.protocol import CREDENTIAL_COOLDOWN, EventPayload
from proxy_engine.runtime import build_runtime
from tests.engine_harness import SECRET_ENV

CONFIG = """
providers:
  openai: {api_keys: [env:BROKER_K1, env:BROKER_K2]}
  local: {kind: openai_compatible, base_url: "http://127.0.0.1:9/v1"}
  aws: {kind: bedrock, profile: team}
"""


def test_the_broker_module_does_not_import_the_engine_state() -> None:
    code = "import sys, proxy_engine.credentials.broker; print('proxy_engine.state' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_the_broker_pools_and_cools_down_without_engine_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in {**SECRET_ENV, "BROKER_K1": "sk-one", "BROKER_K2": "sk-two"}.items():
        monkeypatch.setenv(k, v)
    paths = Paths(tmp_path / "config.yaml", tmp_path / "data", tmp_path / "state", tmp_path / "run")
    paths.ensure()
    rt = build_runtime(LoadedConfig(parse_config_text(CONFIG), None, CONFIG), "127.0.0.1")
    events: list[EventPayload] = []
    broker = CredentialBroker(paths, lambda: rt, events.append)
    await broker.open()
    try:
        openai, local = rt.providers["openai"], rt.providers["local"]
        assert [c.id for c in broker.pools["openai"].credentials] == ["env:BROKER_K1", "env:BROKER_K2"]
        assert [c.kind for c in broker.pools["local"].credentials] == ["none"]
        assert [(c.id, c.kind) for c in broker.pools["aws"].credentials] == [("aws:team", "aws")]

        first = broker.pick(openai, "gpt-4o", set())
        call = await broker.call_for(openai, first, "openai_chat")
        assert call.headers == {"Authorization": "Bearer sk-one"} and call.base_url == "https://api.openai.com/v1"
        assert (await broker.call_for(local, broker.pick(local, "m", set()), "openai_chat")).headers == {}

        broker.report(openai, first, "gpt-4o", 429, 30.0)
    finally:
        await broker.close()  # also waits for the cooldown write
    assert [e.TYPE for e in events] == [CREDENTIAL_COOLDOWN]
    assert events[0].credential == "env:BROKER_K1" and events[0].status == 429
    assert broker.pick(openai, "gpt-4o", set()).id == "env:BROKER_K2"
    assert broker.cooldowns.get("openai", "env:BROKER_K1", "gpt-4o") is not None
    assert broker.status()["providers"][2]["base_url"] == "https://bedrock-runtime.us-east-1.amazonaws.com"
