"""Point a tool at the proxy, show what that changes, and take it back.

These functions take everything they need as arguments (HOME, port, key,
models, backup folder) so the CLI, the screen and tests share one code path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from proxy_engine.paths import resolve_paths
from proxypal_tui.tools.backups import BackupStore, read_text
from proxypal_tui.tools.base import CodingTool
from proxypal_tui.tools.diffs import unified
from proxypal_tui.tools.model import PLACEHOLDER_KEY, ApplyResult, Target, ToolState, UndoResult
from proxypal_tui.tools.registry import TOOLS, get_tool

Models = Mapping[str, Sequence[str]] | Sequence[str]


def backup_root() -> Path:
    return resolve_paths().data_dir / "tool-backups"


def _tool(tool: str | CodingTool) -> CodingTool:
    return tool if isinstance(tool, CodingTool) else get_tool(tool)


def make_target(
    port: int,
    client_key: str,
    models: Models = (),
    host: str = "127.0.0.1",
    keys_enforced: bool | None = None,
) -> Target:
    named = {m: (m,) for m in models} if not isinstance(models, Mapping) else models
    return Target(
        port=port,
        client_key=client_key,
        models={k: tuple(v) for k, v in named.items()},
        host=host,
        keys_enforced=client_key != PLACEHOLDER_KEY if keys_enforced is None else keys_enforced,
    )


def apply(
    tool: str | CodingTool,
    home: Path,
    port: int,
    client_key: str,
    models: Models = (),
    dry_run: bool = False,
    *,
    host: str = "127.0.0.1",
    backups: Path | None = None,
) -> ApplyResult:
    """Merge the proxy settings into the tool's files; returns the diff (secrets masked)."""
    t = _tool(tool)
    target = make_target(port, client_key, models, host)
    if t.manual:
        return ApplyResult(t.name, "", [], [t.instructions(target)], dry_run)
    edits = [e for e in t.plan(home, target) if e.changed]
    diff = "".join(
        unified(e.path, e.before, e.after, home, secrets=[client_key], fields=t.secret_fields) for e in edits
    )
    notes = t.notes(home, target)
    if not edits:
        notes.insert(0, f"{t.title} already points at {target.root_url}; nothing to change.")
    if dry_run or not edits:
        return ApplyResult(t.name, diff, [e.path for e in edits], notes, dry_run)
    store = BackupStore(backups or backup_root(), t.name)
    chain = store.write(home, edits)
    return ApplyResult(t.name, diff, [e.path for e in edits], notes, dry_run, chain)


def _restore_diff(t: CodingTool, home: Path, plan: list[tuple[Path, bytes | None, int | None, list[str]]]) -> str:
    return "".join(
        unified(
            path,
            read_text(path),
            None if original is None else original.decode("utf-8"),
            home,
            fields=t.secret_fields,
        )
        for path, original, _mode, _dirs in plan
    )


def undo(tool: str | CodingTool, home: Path, *, force: bool = False, backups: Path | None = None) -> UndoResult:
    """Restore every file the tool's applies touched to what was there before the first one."""
    t = _tool(tool)
    store = BackupStore(backups or backup_root(), t.name)
    diff = _restore_diff(t, home, store.restore_plan(force))
    restored, removed = store.restore(force)
    return UndoResult(t.name, diff, restored, removed)


def undo_preview(tool: str | CodingTool, home: Path, *, backups: Path | None = None) -> str:
    """The diff undo would make, without changing anything (used by the Tools screen)."""
    t = _tool(tool)
    return _restore_diff(t, home, BackupStore(backups or backup_root(), t.name).restore_plan(force=True))


def has_backup(tool: str | CodingTool, backups: Path | None = None) -> bool:
    return BackupStore(backups or backup_root(), _tool(tool).name).manifest_path.exists()


def status(home: Path, port: int, host: str = "127.0.0.1", search_path: str | None = None) -> list[ToolState]:
    """Every known tool's state, read from its own files under home."""
    return [t.state(home, port, host, search_path) for t in TOOLS]
