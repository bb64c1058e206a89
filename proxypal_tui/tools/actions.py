"""The user-level actions (preview, point, restore) shared by the CLI and the Tools screen.

They join the ProxyPal config (port, models, client keys) to the pure functions
in `pointing`, in an order that never leaves half a change behind: the tool's
files are planned first, so a broken file fails before any client key is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from proxypal_tui.tools.client_keys import ProxySettings, client_key_for, remove_created_client_key
from proxypal_tui.tools.diffs import display_path
from proxypal_tui.tools.pointing import apply, has_backup, make_target, undo, undo_preview
from proxypal_tui.tools.registry import get_tool

NEW_KEY_LABEL = "<a new key, created when you apply>"


@dataclass
class Outcome:
    tool: str
    title: str
    notes: list[str] = field(default_factory=list)
    diff: str = ""
    changed: list[Path] = field(default_factory=list)
    backup_dir: Path | None = None
    instructions: str = ""
    undo_diff: str = ""  # preview only: what undo would change, when there is something to undo


def preview(name: str, home: Path, settings: ProxySettings) -> Outcome:
    """What apply would change (a dry run); creates nothing."""
    tool = get_tool(name)
    key = client_key_for(tool.name, settings, create=False)
    out = Outcome(tool.name, tool.title, notes=[key.note])
    if tool.manual:
        shown = NEW_KEY_LABEL if key.pending else key.value
        out.instructions = tool.instructions(make_target(settings.port, shown, settings.models, settings.host))
        return out
    result = apply(tool, home, settings.port, key.value, settings.models, True, host=settings.host)
    out.notes += result.notes
    out.diff, out.changed = result.diff, result.changed
    if has_backup(tool, _backups(settings)):
        out.undo_diff = undo_preview(tool, home, backups=_backups(settings))
    return out


def _backups(settings: ProxySettings) -> Path:
    return settings.paths.data_dir / "tool-backups"


def point(name: str, home: Path, settings: ProxySettings) -> Outcome:
    """Point the tool at the proxy: plan, create its client key if needed, back up, write."""
    tool = get_tool(name)
    probe = client_key_for(tool.name, settings, create=False)
    if not tool.manual:
        apply(tool, home, settings.port, probe.value, settings.models, True, host=settings.host)
    key = client_key_for(tool.name, settings, create=True)
    result = apply(
        tool,
        home,
        settings.port,
        key.value,
        settings.models,
        False,
        host=settings.host,
        backups=_backups(settings),
    )
    out = Outcome(tool.name, tool.title, notes=[key.note], diff=result.diff, changed=result.changed)
    out.backup_dir = result.backup_dir
    if tool.manual:
        out.instructions = "\n".join(result.notes)
        return out
    if result.changed:
        out.notes.append(f"Pointed {tool.title} at http://{settings.host}:{settings.port}.")
        out.notes.append(f"Backup: {result.backup_dir}  (undo: proxypal-tui tools undo {tool.name})")
    out.notes += result.notes
    return out


def restore(name: str, home: Path, force: bool = False, settings: ProxySettings | None = None) -> Outcome:
    """Undo every apply of this tool since the last undo; with settings, also the client key apply created."""
    tool = get_tool(name)
    result = undo(tool, home, force=force)
    notes = [f"restored {display_path(p, home)}" for p in result.restored]
    notes += [f"removed {display_path(p, home)} (it did not exist before)" for p in result.removed]
    if settings is not None and (note := remove_created_client_key(tool.name, settings)):
        notes.append(note)
    return Outcome(tool.name, tool.title, notes=notes, diff=result.diff, changed=result.restored + result.removed)
