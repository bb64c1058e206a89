"""`paths.atomic_write`, the one way engine and TUI write a whole file: private, atomic, through symlinks."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from proxy_engine.paths import atomic_write


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_file_is_0600_in_new_private_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "config.yaml"
    atomic_write(target, "port: 1\n")
    assert target.read_text(encoding="utf-8") == "port: 1\n"
    assert _mode(target) == 0o600
    assert _mode(tmp_path / "a") == 0o700 and _mode(tmp_path / "a" / "b") == 0o700
    assert os.listdir(target.parent) == ["config.yaml"]  # no temp file left behind


def test_replaces_and_takes_the_mode_asked_for(tmp_path: Path) -> None:
    target = tmp_path / "settings.json"
    target.write_bytes(b"old")
    target.chmod(0o644)
    atomic_write(target, b"new", 0o640)
    assert target.read_bytes() == b"new"
    assert _mode(target) == 0o640


def test_writes_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "config.toml"
    real.parent.mkdir()
    real.write_text("old", encoding="utf-8")
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    atomic_write(link, "new")
    assert link.is_symlink()
    assert real.read_text(encoding="utf-8") == "new"


def test_a_failed_write_keeps_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "secrets.enc"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        atomic_write(target, "half \udc80")  # a lone surrogate cannot be UTF-8
    assert target.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["secrets.enc"]
