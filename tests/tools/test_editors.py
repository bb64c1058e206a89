"""Edge cases of the minimal-edit JSON, YAML, TOML and .env writers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomlkit
import yaml

from proxypal_tui.tools.edit_env import read_env, set_env
from proxypal_tui.tools.edit_json import JsonDocument, parse_jsonc
from proxypal_tui.tools.edit_yaml import YamlDocument
from proxypal_tui.tools.model import ToolError
from proxypal_tui.tools.pointing import apply

from .conftest import KEY, MODELS, PORT


def test_json_crlf_and_unicode_kept() -> None:
    text = '{\r\n    "name": "Zoë",\r\n    "env": {}\r\n}\r\n'
    doc = JsonDocument(text)
    doc.set(("env", "A"), "1")
    doc.set(("b",), [1, 2])
    lines = [
        "{",
        '    "name": "Zoë",',
        '    "env": {',
        '        "A": "1"',
        "    },",
        '    "b": [',
        "        1,",
    ]
    assert doc.text == "\r\n".join([*lines, "        2", "    ]", "}", ""])
    assert json.loads(doc.text) == {"name": "Zoë", "env": {"A": "1"}, "b": [1, 2]}


def test_json_compact_one_line_stays_valid() -> None:
    doc = JsonDocument('{"a":1,"env":{"X":"y"}}')
    doc.set(("env", "Z"), "w")
    assert json.loads(doc.text) == {"a": 1, "env": {"X": "y", "Z": "w"}}
    assert doc.text.startswith('{"a":1,"env":{"X":"y",')


def test_json_non_object_parent_is_replaced_and_equal_value_is_a_no_op() -> None:
    doc = JsonDocument('{\n  "env": null,\n  "k": 1.0\n}\n')
    doc.set(("env", "A"), "b")
    doc.set(("k",), 1.0)
    assert json.loads(doc.text) == {"env": {"A": "b"}, "k": 1.0}
    assert '"k": 1.0' in doc.text


def test_jsonc_comments_after_last_member_stay_on_their_line() -> None:
    doc = JsonDocument('{\n  "a": 1 /* one */ // note\n}\n')
    doc.set(("b",), 2)
    assert doc.text == '{\n  "a": 1, /* one */ // note\n  "b": 2\n}\n'
    assert parse_jsonc(doc.text) == {"a": 1, "b": 2}


@pytest.mark.parametrize("bad", ['{"a": 1,, }', '{"a": }', "[1, 2]", '{"a": 1} extra', '{"a": "x'])
def test_json_invalid_documents_are_refused(bad: str) -> None:
    with pytest.raises(ToolError):
        JsonDocument(bad, "settings.json")


def test_invalid_tool_file_is_left_untouched(home: Path, backups: Path) -> None:
    path = home / ".claude" / "settings.json"
    path.parent.mkdir()
    path.write_text('{"env": {"A": 1,}')
    with pytest.raises(ToolError, match="not valid JSON"):
        apply("claude-code", home, PORT, KEY, MODELS, backups=backups)
    assert path.read_text() == '{"env": {"A": 1,}'
    assert not backups.exists()


def test_yaml_flow_root_falls_back_to_round_trip() -> None:
    doc = YamlDocument("{dark-mode: true}  # mine\n")
    doc.set_scalar("openai-api-base", "http://127.0.0.1:1/v1")
    assert yaml.safe_load(doc.text) == {"dark-mode": True, "openai-api-base": "http://127.0.0.1:1/v1"}


def test_yaml_multiline_scalar_is_replaced_safely() -> None:
    doc = YamlDocument("model: >\n  gpt-4o\nother: 1  # keep\n")
    doc.set_scalar("model", "openai/Smart")
    assert yaml.safe_load(doc.text) == {"model": "openai/Smart", "other": 1}
    assert "# keep" in doc.text


def test_yaml_scalar_needing_quotes() -> None:
    doc = YamlDocument("a: 1\n")
    doc.set_scalar("k", "yes")
    doc.set_scalar("j", "x: y #z")
    assert yaml.safe_load(doc.text) == {"a": 1, "k": "yes", "j": "x: y #z"}


@pytest.mark.parametrize("head", ["models: []", "models:", "models: []  # none yet"])
def test_yaml_empty_list_becomes_block(head: str) -> None:
    doc = YamlDocument(f"name: x\n{head}\nrules:\n  - be nice\n")
    doc.replace_items("models", lambda it: False, [{"name": "P", "roles": ["chat"]}])
    assert yaml.safe_load(doc.text) == {
        "name": "x",
        "models": [{"name": "P", "roles": ["chat"]}],
        "rules": ["be nice"],
    }
    assert doc.text.endswith("rules:\n  - be nice\n")


def test_yaml_items_replaced_in_place_between_user_items() -> None:
    text = "models:\n  - name: A\n  # about ours\n  - name: ProxyPal X\n    model: X\n  - name: B  # keep\n"
    doc = YamlDocument(text)
    doc.replace_items("models", lambda it: it["name"].startswith("ProxyPal"), [{"name": "ProxyPal Y", "model": "Y"}])
    assert doc.text == "models:\n  - name: A\n  # about ours\n  - name: ProxyPal Y\n    model: Y\n  - name: B  # keep\n"


def test_yaml_invalid_is_refused() -> None:
    with pytest.raises(ToolError, match="not valid YAML"):
        YamlDocument("a: [1, 2\nb: 3\n", "~/.aider.conf.yml")


def test_env_lines_kept_and_last_duplicate_updated() -> None:
    text = "# c\nexport GEMINI_API_KEY=a\nOTHER='x y'\nGEMINI_API_KEY=b"
    out = set_env(text, {"GEMINI_API_KEY": "k", "GOOGLE_GEMINI_BASE_URL": "http://h:1", "SPACE": "a b"})
    assert out.splitlines() == [
        "# c",
        "export GEMINI_API_KEY=a",
        "OTHER='x y'",
        "GEMINI_API_KEY=k",
        "GOOGLE_GEMINI_BASE_URL=http://h:1",
        'SPACE="a b"',
    ]
    assert out.endswith("\n")
    assert read_env(out) == {
        "GEMINI_API_KEY": "k",
        "OTHER": "x y",
        "GOOGLE_GEMINI_BASE_URL": "http://h:1",
        "SPACE": "a b",
    }
    assert set_env(out, {"GEMINI_API_KEY": "k"}) == out


def test_codex_keeps_user_keys_in_our_provider_table(home: Path, backups: Path) -> None:
    path = home / ".codex" / "config.toml"
    path.parent.mkdir()
    path.write_text(
        'model_provider = "proxypal"\n\n[model_providers.proxypal]\nname = "Mine"\nrequest_max_retries = 9\n'
    )
    apply("codex", home, PORT, KEY, {}, backups=backups)
    data = tomlkit.parse(path.read_text()).unwrap()
    assert data["model_providers"]["proxypal"] == {
        "name": "ProxyPal",
        "request_max_retries": 9,
        "base_url": f"http://127.0.0.1:{PORT}/v1",
        "wire_api": "responses",
        "experimental_bearer_token": KEY,
    }
    assert "model" not in data  # no friendly names: keep Codex's own model choice


def test_codex_invalid_toml_refused(home: Path, backups: Path) -> None:
    path = home / ".codex" / "config.toml"
    path.parent.mkdir()
    path.write_text("model = \n")
    with pytest.raises(ToolError, match="not valid TOML"):
        apply("codex", home, PORT, KEY, MODELS, backups=backups)
