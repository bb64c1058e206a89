"""Shared fixtures for the tools tests: a fake HOME, a private ProxyPal home, golden-file helpers."""

from __future__ import annotations

import difflib
import os
import re
import shutil
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("PROXYPAL_UPDATE_GOLDEN") == "1"
PORT = 18317
KEY = "test-client-key-0123456789abcdef"
MODELS = {"Smart": ("claude-opus-4-5",), "Rush": ("claude-haiku-4-5",), "Gem": ("gemini-2.5-pro",)}


@pytest.fixture
def pp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "proxypal"
    monkeypatch.setenv("PROXYPAL_HOME", str(d))
    monkeypatch.delenv("PROXYPAL_CONFIG", raising=False)
    return d


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def backups(pp_home: Path) -> Path:
    return pp_home / "data" / "tool-backups"


def tree(root: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every file and folder under root: relative path -> (bytes or None for a folder, mode)."""
    out: dict[str, tuple[bytes | None, int]] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        mode = p.stat().st_mode & 0o777
        out[rel] = (None, mode) if p.is_dir() else (p.read_bytes(), mode)
    return out


def files_of(root: Path) -> dict[str, bytes]:
    return {k: v for k, (v, _m) in tree(root).items() if v is not None}


def check_golden(actual: bytes, golden: Path) -> None:
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(actual)
        return
    assert golden.exists(), f"missing golden file {golden} (run with PROXYPAL_UPDATE_GOLDEN=1 and review it)"
    assert actual.decode() == golden.read_bytes().decode(), f"differs from {golden}"


def copy_tree(src: Path, dst: Path, mode: int) -> None:
    for p in src.rglob("*"):
        if p.is_file():
            target = dst / p.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, target)
            target.chmod(mode)


def _norm(line: str) -> str:
    # Adding a member after the last one adds a comma to that line; that is the only edit allowed there.
    return re.sub(r",(\s*(//.*)?)$", r"\1", line.rstrip("\r\n"))


def assert_only_ours_changed(before: str, after: str, ours: tuple[str, ...]) -> None:
    """Lines of the user's file that do not mention one of our keys survive, in order, unchanged."""
    a = [_norm(x) for x in before.splitlines()]
    b = [_norm(x) for x in after.splitlines()]
    for tag, i1, i2, _j1, _j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            for line in a[i1:i2]:
                assert any(k in line for k in ours), f"user line changed: {line!r}"
