"""Golden-file tests for every tool whose settings ProxyPal writes: empty HOME, a HOME with the
user's own hand-edited files, apply twice, undo, and file permissions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxypal_tui.tools.pointing import apply, undo
from proxypal_tui.tools.registry import get_tool

from .conftest import (
    GOLDEN,
    KEY,
    MODELS,
    PORT,
    assert_only_ours_changed,
    check_golden,
    copy_tree,
    files_of,
    tree,
)

FILE_TOOLS = ["claude-code", "codex", "gemini-cli", "aider", "opencode", "continue", "amp"]
# Keys ProxyPal owns in each tool's files; only lines naming them may change.
OURS = {
    "claude-code": ("ANTHROPIC_",),
    "codex": ("model", "proxypal"),
    "gemini-cli": ("GOOGLE_GEMINI_BASE_URL", "GEMINI_API_KEY", "selectedType"),
    "aider": ("openai-api-", "model:"),
    "opencode": ('"model"', "proxypal"),
    "continue": ("ProxyPal",),
    "amp": ("amp.url",),
}


def _manifest(backups: Path, tool: str) -> dict:
    return json.loads((backups / tool / "manifest.json").read_text())


@pytest.mark.parametrize("tool", FILE_TOOLS)
def test_empty_home(tool: str, home: Path, backups: Path) -> None:
    """A HOME without the tool's files: new files match the goldens, key files are 0600, undo removes them."""
    result = apply(tool, home, PORT, KEY, MODELS, backups=backups)
    written = files_of(home)
    assert written, "apply wrote nothing"
    assert sorted(str(p.relative_to(home)) for p in result.changed) == sorted(written)
    for rel, data in written.items():
        check_golden(data, GOLDEN / tool / "empty" / rel)
        mode = (home / rel).stat().st_mode & 0o777
        assert mode == (0o600 if KEY.encode() in data else 0o644), f"{rel} mode {oct(mode)}"
    for folder in {(home / rel).parent for rel in written}:
        if folder != home:
            assert folder.stat().st_mode & 0o777 == 0o700
    assert KEY not in result.diff, "the client key must be masked in diffs"
    assert "/dev/null" in result.diff

    snapshot = tree(home)
    again = apply(tool, home, PORT, KEY, MODELS, backups=backups)
    assert again.changed == [] and again.diff == ""
    assert tree(home) == snapshot
    assert len(_manifest(backups, tool)["chain"]) == 1

    restored = undo(tool, home, backups=backups)
    assert sorted(str(p.relative_to(home)) for p in restored.removed) == sorted(written)
    assert tree(home) == {}, "undo must remove the files and the folders it created"


@pytest.mark.parametrize("tool", FILE_TOOLS)
def test_existing_files_merged(tool: str, home: Path, backups: Path) -> None:
    """The user's comments, ordering and unrelated settings survive; permissions are kept; undo is exact."""
    copy_tree(GOLDEN / tool / "existing" / "before", home, 0o640)
    original = tree(home)
    before_text = {k: v.decode() for k, v in files_of(home).items()}

    result = apply(tool, home, PORT, KEY, MODELS, backups=backups)
    assert result.changed
    for rel, data in files_of(home).items():
        check_golden(data, GOLDEN / tool / "existing" / "after" / rel)
        if rel in before_text:
            assert (home / rel).stat().st_mode & 0o777 == 0o640, f"{rel} lost its permissions"
            assert_only_ours_changed(before_text[rel], data.decode(), OURS[tool])
        else:
            assert (home / rel).stat().st_mode & 0o777 in (0o600, 0o644)

    snapshot = tree(home)
    assert apply(tool, home, PORT, KEY, MODELS, backups=backups).changed == []
    assert tree(home) == snapshot

    undo(tool, home, backups=backups)
    assert tree(home) == original, "undo must restore the exact bytes and modes"


@pytest.mark.parametrize("tool", FILE_TOOLS)
def test_reapply_with_new_port_still_undoes_to_original(tool: str, home: Path, backups: Path) -> None:
    """A second apply that changes something adds to the backup chain; undo still returns to the original."""
    copy_tree(GOLDEN / tool / "existing" / "before", home, 0o644)
    original = tree(home)
    apply(tool, home, PORT, KEY, MODELS, backups=backups)
    second = apply(tool, home, PORT + 1, KEY, MODELS, backups=backups)
    assert second.changed and f":{PORT + 1}" in second.diff
    state = get_tool(tool).state(home, PORT + 1)
    assert state.status.value == "pointed at this proxy"
    chain = _manifest(backups, tool)["chain"]
    assert len(chain) == 2
    undo(tool, home, backups=backups)
    assert tree(home) == original
