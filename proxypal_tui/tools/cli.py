"""`proxypal-tui tools list | status | check | apply NAME [--dry-run] | undo NAME`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from proxypal_tui.tools.actions import Outcome, point, preview, restore
from proxypal_tui.tools.base import CodingTool
from proxypal_tui.tools.client_keys import proxy_settings
from proxypal_tui.tools.diffs import display_path
from proxypal_tui.tools.key_check import tool_checks
from proxypal_tui.tools.model import ToolError, ToolStatus
from proxypal_tui.tools.pointing import status
from proxypal_tui.tools.registry import TOOLS


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", type=Path, default=None, help="home folder holding the tools' files")
    common.add_argument("--config", type=Path, default=None, help="ProxyPal config file")
    p = argparse.ArgumentParser(prog="proxypal-tui tools", description="Point coding tools at ProxyPal.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", parents=[common], help="known tools and whether they are installed")
    sub.add_parser("status", parents=[common], help="where each tool currently sends its requests")
    # For `proxypal-engine doctor`: JSON of each found tool's URL and whether its key is accepted.
    sub.add_parser("check", parents=[common], help="JSON: does each found tool point here with a working key")
    ap = sub.add_parser("apply", parents=[common], help="point a tool at the proxy (merge, back up)")
    ap.add_argument("name")
    ap.add_argument("--dry-run", action="store_true", help="print the diff and change nothing")
    up = sub.add_parser("undo", parents=[common], help="restore the tool's files as they were")
    up.add_argument("name")
    up.add_argument("--force", action="store_true", help="restore even if the files changed since")
    return p


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*r) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def _list(args: argparse.Namespace, home: Path) -> list[str]:
    """README: which tools are installed, and where they point (read from their files, as `status` does)."""
    rows = []
    for t in TOOLS:
        files = ", ".join(display_path(f, home) for f in t.files(home)) or "(settings in the app)"
        found = {ToolStatus.INSTALLED: "yes", ToolStatus.CONFIG_ONLY: "config only"}.get(t.found_as(home), "no")
        rows.append([t.name, t.title, found, "manual" if t.manual else "file", _points_at(t, home), files])
    return [table(["NAME", "TOOL", "INSTALLED", "SETUP", "POINTS AT", "FILES"], rows)]


def _points_at(tool: CodingTool, home: Path) -> str:
    """The base URL its files set, "(its default)" when they set none, or why it could not be read."""
    if tool.manual:
        return "(set in the app)"
    try:
        return tool.current_url(home) or "(its default)"
    except ToolError as e:
        return f"(unreadable: {e})"


def _status(args: argparse.Namespace, home: Path) -> list[str]:
    settings = proxy_settings(args.config)
    states = status(home, settings.port, settings.host)
    out = [f"Proxy: http://{settings.host}:{settings.port}"]
    out.append(table(["NAME", "STATUS", "DETAIL"], [[s.name, s.status.value, s.detail] for s in states]))
    if any(s.status is ToolStatus.POINTED_ELSEWHERE for s in states):
        out.append("Tools pointed elsewhere keep working as before until you apply.")
    return out


def _outcome(o: Outcome, empty: str = "") -> list[str]:
    out = [n for n in o.notes if n]
    if o.instructions:
        out.append(o.instructions)
    if o.diff:
        out.append(o.diff.rstrip("\n"))
    elif empty and not o.instructions:
        out.append(empty)
    return out


def _apply(args: argparse.Namespace, home: Path) -> list[str]:
    settings = proxy_settings(args.config)
    if args.dry_run:
        return _outcome(preview(args.name, home, settings), "(no changes)")
    return _outcome(point(args.name, home, settings))


def _undo(args: argparse.Namespace, home: Path) -> list[str]:
    return _outcome(restore(args.name, home, args.force, proxy_settings(args.config)))


def _check(args: argparse.Namespace, home: Path) -> list[str]:
    settings = proxy_settings(args.config)
    return [json.dumps({"proxy": f"http://{settings.host}:{settings.port}", "tools": tool_checks(home, settings)})]


COMMANDS: dict[str, Callable[[argparse.Namespace, Path], list[str]]] = {
    "list": _list,
    "status": _status,
    "check": _check,
    "apply": _apply,
    "undo": _undo,
}


def tools_main(argv: list[str]) -> int:
    """Run one tools command; returns the process exit code."""
    args = _parser().parse_args(argv)
    home = (args.home or Path.home()).expanduser().resolve()
    if not home.is_dir():
        print(f"error: the home folder {home} does not exist", file=sys.stderr)
        return 1
    try:
        lines = COMMANDS[args.command](args, home)
    except ToolError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


def main() -> None:
    sys.exit(tools_main(sys.argv[1:]))
