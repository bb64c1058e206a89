"""Safe writes of tools' files: atomic replace, kept permissions, backups and exact undo.

Each tool has one manifest under <data_dir>/tool-backups/<tool>/. The first
apply after an undo records every touched file's original state (its bytes, or
that it did not exist, plus the folders we had to create); later applies only
add timestamped copies to the chain, so undo always returns to the original.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from proxy_engine.paths import atomic_write, make_private_dirs
from proxypal_tui.tools.model import FileEdit, ToolError

MANIFEST_VERSION = 1


def read_text(path: Path) -> str | None:
    """The file's text with its newlines untouched, or None when it does not exist."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ToolError(f"cannot read {path}: {e.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolError(f"{path} is not UTF-8 text; ProxyPal will not edit it") from None


def _sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _real(path: Path) -> Path:
    # Dotfile managers symlink configs: write through the link, never replace it with a file.
    return path.resolve() if path.is_symlink() else path


def _missing_dirs(path: Path, home: Path) -> list[str]:
    """Folders between home and path that do not exist yet (deepest first)."""
    out, cur = [], path.parent
    while cur != home and home in cur.parents and not cur.exists():
        out.append(str(cur))
        cur = cur.parent
    return out


class BackupStore:
    """The backup folder and manifest for one tool."""

    def __init__(self, root: Path, tool: str):
        self.dir = root / tool
        self.manifest_path = self.dir / "manifest.json"
        self.tool = tool

    def load(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise ToolError(f"the backup manifest {self.manifest_path} is unreadable: {e}") from None

    def _save(self, manifest: dict[str, Any]) -> None:
        make_private_dirs(self.dir)
        atomic_write(self.manifest_path, json.dumps(manifest, indent=2).encode(), 0o600)

    def write(self, home: Path, edits: list[FileEdit]) -> Path:
        """Back up, then write each changed file; returns this apply's backup folder."""
        manifest = self.load() or {
            "version": MANIFEST_VERSION,
            "tool": self.tool,
            "home": str(home),
            "files": {},
        }
        if manifest.get("home") != str(home):
            raise ToolError(
                f"{self.tool} was last pointed at the proxy for HOME={manifest.get('home')}; "
                f"undo that first (`proxypal-tui tools undo {self.tool} --home {manifest.get('home')}`)"
            )
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        chain = self.dir / stamp
        make_private_dirs(self.dir)
        chain.mkdir(mode=0o700)
        copies: dict[str, str] = {}
        for n, edit in enumerate(edits):
            real = _real(edit.path)
            key = str(edit.path)
            before = real.read_bytes() if real.exists() else None
            if before is not None:
                copy = chain / f"{n}-{real.name}"
                atomic_write(copy, before, 0o600)
                copies[key] = copy.name
            if key not in manifest["files"]:
                manifest["files"][key] = {
                    "existed": before is not None,
                    "mode": real.stat().st_mode & 0o777 if before is not None else None,
                    "backup": f"{stamp}/{copies[key]}" if before is not None else None,
                    "original_sha256": _sha(before),
                    "created_dirs": _missing_dirs(real, home),
                    "written_sha256": None,
                }
        manifest.setdefault("chain", []).append({"at": stamp, "copies": copies})
        self._save(manifest)
        for edit in edits:
            real = _real(edit.path)
            mode = real.stat().st_mode & 0o777 if real.exists() else (0o600 if edit.holds_secret else 0o644)
            data = edit.after.encode("utf-8")
            atomic_write(real, data, mode)
            manifest["files"][str(edit.path)]["written_sha256"] = _sha(data)
            self._save(manifest)
        return chain

    def restore_plan(self, force: bool) -> list[tuple[Path, bytes | None, int | None, list[str]]]:
        """(path, original bytes or None, original mode, created dirs) for each file, after safety checks."""
        manifest = self.load()
        if manifest is None:
            raise ToolError(f"nothing to undo: ProxyPal has not changed {self.tool}'s files")
        plan = []
        for key, entry in manifest["files"].items():
            path = Path(key)
            real = _real(path)
            now = _sha(real.read_bytes()) if real.exists() else None
            if now not in (entry["written_sha256"], entry["original_sha256"]) and not force:
                raise ToolError(
                    f"{path} changed after ProxyPal wrote it; undo would lose those edits. "
                    "Use --force to restore the original anyway."
                )
            original = (self.dir / entry["backup"]).read_bytes() if entry["existed"] else None
            plan.append((path, original, entry["mode"], entry["created_dirs"]))
        return plan

    def restore(self, force: bool) -> tuple[list[Path], list[Path]]:
        restored, removed = [], []
        for path, original, mode, created_dirs in self.restore_plan(force):
            real = _real(path)
            if original is not None:
                atomic_write(real, original, mode if mode is not None else 0o600)
                restored.append(path)
            elif real.exists():
                real.unlink()
                removed.append(path)
            for d in created_dirs:  # deepest first; only folders we made and that are empty again
                folder = Path(d)
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        self.manifest_path.replace(self.dir / f"undone-{stamp}.json")
        return restored, removed
