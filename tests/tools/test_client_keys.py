"""Port, models and the per-tool client key come from the ProxyPal config; keys are created when enforced."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from jaraco.classes import properties
from keyring.backend import KeyringBackend
from keyring.backends import fail

from proxy_engine.config import load_config
from proxypal_tui.tools.actions import point, preview, restore
from proxypal_tui.tools.client_keys import proxy_settings, read_secret_ref
from proxypal_tui.tools.model import PLACEHOLDER_KEY, ToolError

CONFIG_WITH_CLIENTS = """\
# team proxy
port: 19444   # not the default
host: 127.0.0.1
providers:
  anthropic: {api_key: env:ANTHROPIC_API_KEY}
models:
  Smart: {anthropic: claude-sonnet-4-5}
clients:
  - {name: laptop, key: env:LAPTOP_KEY}   # my laptop

# budgets: {daily_usd: 5}
"""


class MemoryKeyring(KeyringBackend):
    """Stands in for the OS keyring service (an external system), holding secrets in memory."""

    @properties.classproperty
    def priority(cls) -> float:
        raise RuntimeError("not viable for auto-detection: used only when a test installs it")

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


def _installed(backend: KeyringBackend) -> Iterator[KeyringBackend]:
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def memory_keyring() -> Iterator[KeyringBackend]:
    yield from _installed(MemoryKeyring())


@pytest.fixture(autouse=True)
def no_keyring(request: pytest.FixtureRequest) -> Iterator[None]:
    """Unless a test asks for the memory keyring, behave like a headless machine with no keyring."""
    if "memory_keyring" in request.fixturenames:
        yield
        return
    yield from (None for _ in _installed(fail.Keyring()))


def _config(pp_home: Path, text: str) -> Path:
    pp_home.mkdir(parents=True, exist_ok=True)
    cfg = pp_home / "config.yaml"
    cfg.write_text(text)
    cfg.chmod(0o600)
    return cfg


def _claude_env(home: Path) -> dict[str, str]:
    return json.loads((home / ".claude" / "settings.json").read_text())["env"]


def test_no_clients_means_placeholder_and_default_port(pp_home: Path, home: Path) -> None:
    settings = proxy_settings()
    assert (settings.port, settings.keys_enforced) == (8317, False)
    out = point("claude-code", home, settings)
    assert any("not enforced" in n for n in out.notes)
    assert _claude_env(home) == {
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:8317",
        "ANTHROPIC_AUTH_TOKEN": PLACEHOLDER_KEY,
    }
    assert not (pp_home / "config.yaml").exists(), "nothing to register when keys are not enforced"


def test_key_created_in_file_fallback_and_config_appended(pp_home: Path, home: Path) -> None:
    """This machine has no keyring backend: the key goes to a 0600 file and the user is told."""
    cfg = _config(pp_home, CONFIG_WITH_CLIENTS)
    settings = proxy_settings()
    dry = preview("claude-code", home, settings)
    assert any("will create" in n for n in dry.notes)
    assert cfg.read_text() == CONFIG_WITH_CLIENTS and not (home / ".claude").exists()

    out = point("claude-code", home, settings)
    key_file = pp_home / "data" / "client-keys" / "client-claude-code"
    assert any("no OS keyring backend" in n for n in out.notes), out.notes
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert key_file.parent.stat().st_mode & 0o777 == 0o700
    key = key_file.read_text()
    assert len(key) >= 40
    env = _claude_env(home)
    assert env["ANTHROPIC_AUTH_TOKEN"] == key and env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:19444"
    assert env["ANTHROPIC_DEFAULT_SONNET_MODEL"] == "Smart"
    assert key not in out.diff and key not in "\n".join(out.notes)

    expected = CONFIG_WITH_CLIENTS.replace(
        "  - {name: laptop, key: env:LAPTOP_KEY}   # my laptop\n",
        "  - {name: laptop, key: env:LAPTOP_KEY}   # my laptop\n"
        "  - {name: claude-code, key: keyring:client-claude-code}\n",
    )
    assert cfg.read_text() == expected
    assert cfg.stat().st_mode & 0o777 == 0o600
    loaded = load_config(cfg).config
    assert [c.name for c in loaded.clients] == ["laptop", "claude-code"]
    assert read_secret_ref("keyring:client-claude-code", proxy_settings().paths) == key

    # Applying again reuses the registered key: same settings file, same config.
    again = point("claude-code", home, proxy_settings())
    assert again.changed == [] and cfg.read_text() == expected
    assert _claude_env(home)["ANTHROPIC_AUTH_TOKEN"] == key

    restore("claude-code", home, settings=proxy_settings())
    assert not (home / ".claude").exists()
    assert cfg.read_text() == CONFIG_WITH_CLIENTS, "undo removes the client entry apply added"
    assert not key_file.exists() and read_secret_ref("keyring:client-claude-code", proxy_settings().paths) is None
    restore_again = point("claude-code", home, proxy_settings())
    assert cfg.read_text() == expected and key_file.read_text() != key, "a later apply makes a fresh key"
    assert any("Created client key" in n for n in restore_again.notes)


def test_key_stored_in_the_os_keyring_when_there_is_one(
    pp_home: Path, home: Path, memory_keyring: MemoryKeyring
) -> None:
    assert keyring.get_keyring() is memory_keyring
    _config(pp_home, CONFIG_WITH_CLIENTS)
    out = point("codex", home, proxy_settings())
    key = memory_keyring.store[("proxypal", "client-codex")]
    assert any("OS keyring" in n for n in out.notes)
    assert not (pp_home / "data" / "client-keys").exists()
    assert f'experimental_bearer_token = "{key}"' in (home / ".codex" / "config.toml").read_text()
    restore("codex", home, settings=proxy_settings())
    assert ("proxypal", "client-codex") not in memory_keyring.store
    assert "client-codex" not in (pp_home / "config.yaml").read_text()


def test_undo_keeps_a_client_key_the_user_registered(
    pp_home: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a key apply created goes with undo; one the config already named stays."""
    text = CONFIG_WITH_CLIENTS.replace(
        "  - {name: laptop, key: env:LAPTOP_KEY}   # my laptop\n",
        "  - {name: laptop, key: env:LAPTOP_KEY}   # my laptop\n  - {name: aider, key: env:LAPTOP_KEY}\n",
    )
    cfg = _config(pp_home, text)
    monkeypatch.setenv("LAPTOP_KEY", "k" * 40)
    point("aider", home, proxy_settings())
    out = restore("aider", home, settings=proxy_settings())
    assert cfg.read_text() == text and not any("client key" in n for n in out.notes)


def test_exposed_host_enforces_keys_but_tools_dial_loopback(pp_home: Path, home: Path) -> None:
    _config(pp_home, "host: 0.0.0.0\nport: 19555\nclients: []\n")
    settings = proxy_settings()
    assert settings.keys_enforced and settings.host == "127.0.0.1"
    point("amp", home, settings)
    assert json.loads((home / ".config/amp/settings.json").read_text()) == {"amp.url": "http://127.0.0.1:19555"}


def test_existing_client_with_missing_env_key_is_an_error(
    pp_home: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _config(pp_home, CONFIG_WITH_CLIENTS.replace("name: laptop", "name: aider"))
    monkeypatch.delenv("LAPTOP_KEY", raising=False)
    with pytest.raises(ToolError, match="env:LAPTOP_KEY, which is not set"):
        point("aider", home, proxy_settings())
    monkeypatch.setenv("LAPTOP_KEY", "laptop-secret")
    point("aider", home, proxy_settings())
    assert "openai-api-key: laptop-secret" in (home / ".aider.conf.yml").read_text()


def test_broken_tool_file_fails_before_a_key_is_created(pp_home: Path, home: Path) -> None:
    cfg = _config(pp_home, CONFIG_WITH_CLIENTS)
    (home / ".gemini").mkdir()
    (home / ".gemini" / "settings.json").write_text("{oops")
    with pytest.raises(ToolError, match="not valid JSON"):
        point("gemini-cli", home, proxy_settings())
    assert cfg.read_text() == CONFIG_WITH_CLIENTS
    assert not (pp_home / "data" / "client-keys").exists()


def test_invalid_proxypal_config_is_reported(pp_home: Path) -> None:
    _config(pp_home, "port: nope\n")
    with pytest.raises(ToolError, match="config has errors"):
        proxy_settings()
