"""Does each found tool point at this proxy with a key the proxy accepts? `proxypal-tui tools check`,
which `proxypal-engine doctor` runs as a subprocess (the engine never imports the TUI's packages).

The key is compared here, in constant time, with the config's client keys; it never leaves this process.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

from proxypal_tui.tools.base import CodingTool
from proxypal_tui.tools.client_keys import ProxySettings, read_secret_ref
from proxypal_tui.tools.model import ToolError, ToolStatus
from proxypal_tui.tools.registry import TOOLS


def _key_verdict(key: str | None, settings: ProxySettings) -> str:
    """ "not needed" (keys are not checked), "ok", "missing", "refused", or "unknown" (not read for this tool)."""
    if not settings.keys_enforced:
        return "not needed"
    if key is None:
        return "missing"
    presented = key.encode("utf-8", "surrogateescape")
    accepted = False
    for ref in settings.client_refs.values():
        secret = read_secret_ref(ref, settings.paths)
        if secret and hmac.compare_digest(presented, secret.encode("utf-8", "surrogateescape")):
            accepted = True
    return "ok" if accepted else "refused"


def tool_checks(home: Path, settings: ProxySettings, search_path: str | None = None) -> list[dict[str, Any]]:
    """One entry per tool found (binary or files): name, title, status, url, key verdict, error."""
    out = []
    for tool in TOOLS:
        state = tool.state(home, settings.port, settings.host, search_path)
        if state.status is ToolStatus.NOT_INSTALLED:
            continue
        entry: dict[str, Any] = {"name": tool.name, "title": tool.title, "status": state.status.value,
                                 "installed": tool.on_path(search_path, home), "url": None, "key": None,
                                 "error": None}  # fmt: skip
        if state.status in (ToolStatus.POINTED_HERE, ToolStatus.POINTED_ELSEWHERE):
            entry["url"] = state.detail
        if state.status is ToolStatus.POINTED_HERE:
            try:
                key = tool.current_key(home)
            except ToolError as e:
                entry["error"] = str(e)
                key = None
            known = type(tool).current_key is not CodingTool.current_key  # does it read its key at all?
            entry["key"] = _key_verdict(key, settings) if known or not settings.keys_enforced else "unknown"
        elif not tool.manual:
            try:
                tool.current_url(home)
            except ToolError as e:
                entry["error"] = str(e)
        out.append(entry)
    return out
