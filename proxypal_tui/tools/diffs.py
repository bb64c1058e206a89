"""Unified diffs of planned file changes, with secrets masked for the screen and terminal."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from pathlib import Path

from proxypal_tui.tools.model import PLACEHOLDER_KEY

MASK = "•••••"


def display_path(path: Path, home: Path) -> str:
    try:
        return "~/" + str(path.relative_to(home))
    except ValueError:
        return str(path)


def mask_secrets(line: str, secrets: Iterable[str], fields: Iterable[str]) -> str:
    """Hide known secret values, and whatever value follows a secret field name on this line."""
    for secret in secrets:
        if secret and secret != PLACEHOLDER_KEY:
            line = line.replace(secret, MASK)
    for name in fields:
        pattern = rf"(\b{re.escape(name)}[\"']?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s,#]+)"

        def hide(m: re.Match[str]) -> str:
            value = m.group(2)
            bare = value.strip("\"'")
            if bare in (PLACEHOLDER_KEY, MASK) or not bare:
                return m.group(0)
            quote = value[0] if value[0] in "\"'" else ""
            return f"{m.group(1)}{quote}{MASK}{quote}"

        line = re.sub(pattern, hide, line)
    return line


def unified(
    path: Path,
    before: str | None,
    after: str | None,
    home: Path,
    secrets: Iterable[str] = (),
    fields: Iterable[str] = (),
) -> str:
    """One file's diff; a missing side is /dev/null (a new file, or a file undo removes)."""
    name = display_path(path, home)
    lines = difflib.unified_diff(
        (before or "").splitlines(keepends=True),
        (after or "").splitlines(keepends=True),
        fromfile="/dev/null" if before is None else f"a/{name}",
        tofile="/dev/null" if after is None else f"b/{name}",
    )
    secrets, fields = list(secrets), list(fields)
    out = []
    for line in lines:
        text = mask_secrets(line, secrets, fields)
        out.append(text if text.endswith("\n") else text + "\n\\ No newline at end of file\n")
    return "".join(out)
