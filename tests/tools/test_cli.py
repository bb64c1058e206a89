"""`proxypal-tui tools ...` run as a real subprocess against a temporary HOME and ProxyPal home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    pp = tmp_path / "proxypal"
    pp.mkdir()
    (pp / "config.yaml").write_text("port: 19123\nmodels: {}\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "home").mkdir()
    return {
        "PATH": str(bin_dir),
        "HOME": str(tmp_path / "home"),
        "PROXYPAL_HOME": str(pp),
        "PYTHONPATH": str(REPO),
        "LANG": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
    }


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxypal_tui.tools", *args],
        env=env,
        cwd=env["HOME"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_list_shows_every_tool(env: dict[str, str]) -> None:
    """A binary on PATH is installed, files alone are "config only", and each row says where the tool points."""
    Path(env["HOME"], ".codex").mkdir()
    exe = Path(env["PATH"], "aider")
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    claude = Path(env["HOME"], ".claude")
    claude.mkdir()
    (claude / "settings.json").write_text('{"env": {"ANTHROPIC_BASE_URL": "https://gateway.example.com"}}')
    r = run(env, "list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "TOOL", "INSTALLED", "SETUP", "POINTS", "AT", "FILES"]
    rows = {ln.split()[0]: ln for ln in lines[2:]}
    assert set(rows) == {
        "claude-code",
        "codex",
        "gemini-cli",
        "aider",
        "opencode",
        "continue",
        "amp",
        "cursor",
        "cline",
        "copilot",
    }
    assert " config only " in rows["codex"] and " yes " in rows["aider"] and " no " in rows["opencode"]
    assert " config only " in rows["claude-code"] and " https://gateway.example.com " in rows["claude-code"]
    assert "(its default)" in rows["codex"] and "(its default)" in rows["aider"]
    assert "manual" in rows["cursor"] and "~/.codex/config.toml" in rows["codex"]


def test_dry_run_apply_status_undo_round_trip(env: dict[str, str]) -> None:
    """Uses the default --home (the child's HOME) and the configured port."""
    home = Path(env["HOME"])
    settings = home / ".claude" / "settings.json"
    settings.parent.mkdir()
    original = '{\n  "env": {"ANTHROPIC_BASE_URL": "https://gw.example.com"},\n  "theme": "dark"\n}\n'
    settings.write_text(original)

    r = run(env, "status")
    assert r.returncode == 0, r.stderr
    assert "Proxy: http://127.0.0.1:19123" in r.stdout
    assert "pointed elsewhere" in next(ln for ln in r.stdout.splitlines() if ln.startswith("claude-code"))

    r = run(env, "apply", "claude-code", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "--- a/~/.claude/settings.json\n+++ b/~/.claude/settings.json\n" in r.stdout
    assert (
        '-  "env": {"ANTHROPIC_BASE_URL": "https://gw.example.com"},\n'
        '+  "env": {"ANTHROPIC_BASE_URL": "http://127.0.0.1:19123",\n'
        '+    "ANTHROPIC_AUTH_TOKEN": "proxypal"},\n'
    ) in r.stdout
    assert settings.read_text() == original

    r = run(env, "apply", "claude")
    assert r.returncode == 0, r.stderr
    assert "Pointed Claude Code at http://127.0.0.1:19123." in r.stdout and "Backup: " in r.stdout
    assert json.loads(settings.read_text())["env"]["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:19123"
    r = run(env, "status")
    assert "pointed at this proxy" in next(ln for ln in r.stdout.splitlines() if ln.startswith("claude-code"))

    r = run(env, "undo", "claude-code")
    assert r.returncode == 0, r.stderr
    assert "restored ~/.claude/settings.json" in r.stdout
    assert settings.read_text() == original


def test_new_file_diff_and_undo_removes_it(env: dict[str, str], tmp_path: Path) -> None:
    other_home = tmp_path / "elsewhere"
    other_home.mkdir()
    r = run(env, "apply", "gemini-cli", "--home", str(other_home), "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "--- /dev/null\n+++ b/~/.gemini/.env\n" in r.stdout
    assert list(other_home.iterdir()) == []
    assert run(env, "apply", "gemini-cli", "--home", str(other_home)).returncode == 0
    assert (other_home / ".gemini" / ".env").stat().st_mode & 0o777 == 0o600
    r = run(env, "undo", "gemini-cli", "--home", str(other_home))
    assert "removed ~/.gemini/.env (it did not exist before)" in r.stdout
    assert list(other_home.iterdir()) == []


def test_errors_exit_non_zero_with_a_message(env: dict[str, str]) -> None:
    r = run(env, "apply", "notepad")
    assert r.returncode == 1 and "unknown tool 'notepad'" in r.stderr and r.stdout == ""
    r = run(env, "undo", "codex")
    assert r.returncode == 1 and "nothing to undo" in r.stderr
    r = run(env, "apply", "opencode")
    assert r.returncode == 1 and "needs at least one model name" in r.stderr
    r = run(env, "frobnicate")
    assert r.returncode == 2
    r = run(env, "status", "--home", str(Path(env["HOME"]) / "missing"))
    assert r.returncode == 1 and "does not exist" in r.stderr


def test_tools_main_callable_in_process_form(env: dict[str, str]) -> None:
    code = "import sys; from proxypal_tui.tools.cli import tools_main; sys.exit(tools_main(['apply', 'cursor']))"
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "Override OpenAI Base URL: on, http://127.0.0.1:19123/v1" in r.stdout
    assert "OpenAI API Key: proxypal" in r.stdout
    assert os.listdir(env["HOME"]) == []
