"""Detection and status read from the tools' own files, and the safety rules of backups and undo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from proxypal_tui.tools.model import ToolError, ToolStatus
from proxypal_tui.tools.pointing import apply, status, undo
from proxypal_tui.tools.registry import TOOLS, get_tool

from .conftest import GOLDEN, KEY, MODELS, PORT, copy_tree

EXISTING_STATUS = {
    "claude-code": (ToolStatus.POINTED_ELSEWHERE, "https://gateway.example.com"),
    "codex": (ToolStatus.CONFIG_ONLY, "~/.codex/config.toml"),
    "gemini-cli": (ToolStatus.CONFIG_ONLY, "~/.gemini/.env, ~/.gemini/settings.json"),
    "aider": (ToolStatus.CONFIG_ONLY, "~/.aider.conf.yml"),
    "opencode": (ToolStatus.POINTED_ELSEWHERE, "http://localhost:11434/v1"),
    "continue": (ToolStatus.CONFIG_ONLY, "~/.continue/config.yaml"),
    "amp": (ToolStatus.POINTED_ELSEWHERE, "https://ampcode.com"),
}


def _by_name(home: Path, port: int = PORT, search_path: str | None = None) -> dict:
    return {s.name: s for s in status(home, port, search_path=search_path)}


def test_empty_home_nothing_installed(home: Path, tmp_path: Path) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    states = _by_name(home, search_path=str(empty_bin))
    assert [s.name for s in TOOLS] == list(states)
    assert {s.status for s in states.values()} == {ToolStatus.NOT_INSTALLED}


def test_binaries_on_path_mean_installed(home: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("claude", "codex", "cursor"):
        exe = bin_dir / name
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    states = _by_name(home, search_path=str(bin_dir))
    assert states["claude-code"].status is ToolStatus.INSTALLED
    assert states["codex"].status is ToolStatus.INSTALLED
    assert states["cursor"].status is ToolStatus.MANUAL
    assert states["gemini-cli"].status is ToolStatus.NOT_INSTALLED


def test_files_without_a_binary_are_config_only(home: Path, tmp_path: Path) -> None:
    """A config left behind is not an install: only a binary on PATH (or an editor extension) is."""
    (home / ".codex").mkdir()
    (home / ".continue").mkdir()
    states = _by_name(home, search_path=str(tmp_path))
    assert states["codex"].status is ToolStatus.CONFIG_ONLY and states["continue"].status is ToolStatus.CONFIG_ONLY
    (home / ".vscode/extensions/continue.continue-1.0.0").mkdir(parents=True)
    assert _by_name(home, search_path=str(tmp_path))["continue"].status is ToolStatus.INSTALLED


def test_vscode_extensions_detected_for_manual_tools(home: Path, tmp_path: Path) -> None:
    (home / ".vscode/extensions/rooveterinaryinc.roo-cline-3.20.1").mkdir(parents=True)
    (home / ".vscode/extensions/github.copilot-chat-0.30.0").mkdir(parents=True)
    states = _by_name(home, search_path=str(tmp_path))
    assert states["cline"].status is ToolStatus.MANUAL
    assert states["copilot"].status is ToolStatus.MANUAL


@pytest.mark.parametrize("tool", sorted(EXISTING_STATUS))
def test_status_from_files_before_and_after_apply(tool: str, home: Path, backups: Path, tmp_path: Path) -> None:
    copy_tree(GOLDEN / tool / "existing" / "before", home, 0o644)
    state = _by_name(home, search_path=str(tmp_path))[tool]
    assert (state.status, state.detail) == EXISTING_STATUS[tool]
    apply(tool, home, PORT, KEY, MODELS, backups=backups)
    state = _by_name(home, search_path=str(tmp_path))[tool]
    assert state.status is ToolStatus.POINTED_HERE
    assert str(PORT) in state.detail
    # Another port is another proxy.
    assert _by_name(home, PORT + 5, search_path=str(tmp_path))[tool].status is ToolStatus.POINTED_ELSEWHERE


def test_status_ignores_this_process_environment(home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{PORT}")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", f"http://127.0.0.1:{PORT}")
    states = _by_name(home, search_path=str(tmp_path))
    assert states["claude-code"].status is ToolStatus.NOT_INSTALLED
    assert states["gemini-cli"].status is ToolStatus.NOT_INSTALLED


def test_localhost_spelling_counts_as_here(home: Path) -> None:
    settings = home / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(f'{{"env": {{"ANTHROPIC_BASE_URL": "http://localhost:{PORT}/"}}}}')
    assert get_tool("claude").state(home, PORT).status is ToolStatus.POINTED_HERE


def test_undo_refuses_to_clobber_later_user_edits(home: Path, backups: Path) -> None:
    apply("aider", home, PORT, KEY, MODELS, backups=backups)
    conf = home / ".aider.conf.yml"
    conf.write_text(conf.read_text() + "dark-mode: true\n")
    with pytest.raises(ToolError, match="changed after ProxyPal wrote it"):
        undo("aider", home, backups=backups)
    assert "dark-mode" in conf.read_text()
    undo("aider", home, force=True, backups=backups)
    assert not conf.exists()


def test_nothing_to_undo_and_undo_twice(home: Path, backups: Path) -> None:
    with pytest.raises(ToolError, match="nothing to undo"):
        undo("amp", home, backups=backups)
    apply("amp", home, PORT, KEY, backups=backups)
    undo("amp", home, backups=backups)
    with pytest.raises(ToolError, match="nothing to undo"):
        undo("amp", home, backups=backups)


def test_symlinked_config_is_written_through_the_link(home: Path, backups: Path, tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "aider.yml"
    real.write_text("dark-mode: true\n")
    real.chmod(0o600)
    link = home / ".aider.conf.yml"
    link.symlink_to(real)
    apply("aider", home, PORT, KEY, MODELS, backups=backups)
    assert link.is_symlink()
    assert "openai-api-base" in real.read_text()
    assert real.stat().st_mode & 0o777 == 0o600
    undo("aider", home, backups=backups)
    assert link.is_symlink() and real.read_text() == "dark-mode: true\n"


def test_backups_are_private(home: Path, backups: Path) -> None:
    copy_tree(GOLDEN / "claude-code" / "existing" / "before", home, 0o644)
    result = apply("claude-code", home, PORT, KEY, MODELS, backups=backups)
    assert result.backup_dir is not None and result.backup_dir.parent == backups / "claude-code"
    assert result.backup_dir.stat().st_mode & 0o777 == 0o700
    for f in [*result.backup_dir.iterdir(), backups / "claude-code" / "manifest.json"]:
        assert f.stat().st_mode & 0o777 == 0o600


def test_undo_for_another_home_is_refused(home: Path, backups: Path, tmp_path: Path) -> None:
    apply("amp", home, PORT, KEY, backups=backups)
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(ToolError, match="HOME="):
        apply("amp", other, PORT, KEY, backups=backups)
    assert not (other / ".config").exists()


def test_manual_tools_give_copyable_instructions(home: Path, backups: Path) -> None:
    for name in ("cursor", "cline", "copilot"):
        result = apply(name, home, PORT, KEY, MODELS, backups=backups)
        text = "\n".join(result.notes)
        assert f"http://127.0.0.1:{PORT}/v1" in text and KEY in text
        assert all(m in text for m in MODELS)
        assert result.changed == [] and not backups.exists()
    assert os.listdir(home) == []
