"""Does each coding tool found on this machine point at this proxy with a key it accepts?

Tool detection lives with the TUI (`proxypal_tui/tools`), which the engine must never import
(`tests/test_import_contract.py`), so this runs `python -m proxypal_tui.tools check` as a
subprocess and reads its JSON. Keys are compared there; none comes back here.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from proxy_engine.doctor.findings import FAIL, NOTE, OK, Finding

TOOLS_TIMEOUT_S = 30.0


def _apply_fix(name: str) -> str:
    return f"point it here: Tools screen (`t`), or `proxypal-tui tools apply {name}`"


def _finding(t: dict[str, Any]) -> Finding | None:
    name, title, status = str(t.get("name")), str(t.get("title") or t.get("name")), str(t.get("status"))
    if t.get("error"):
        return Finding("tool", title, FAIL, f"its settings cannot be read: {t['error']}", "fix or remove that file")
    if status == "pointed at this proxy":
        key = t.get("key")
        if key in ("ok", "not needed"):
            how = "its client key is accepted" if key == "ok" else "keys are not checked on loopback"
            return Finding("tool", title, OK, f"points at this proxy; {how}")
        if key == "unknown":
            return Finding("tool", title, NOTE, "points at this proxy; its key is not read by the doctor")
        why = "holds no client key" if key == "missing" else "sends a key the proxy does not accept"
        return Finding("tool", title, FAIL, f"points at this proxy but {why}", _apply_fix(name))
    if status == "pointed elsewhere":
        return Finding("tool", title, FAIL, f"points at {t.get('url')}, not this proxy", _apply_fix(name))
    if status == "manual setup":
        return Finding("tool", title, NOTE, "set up inside the app; check its settings by hand")
    if t.get("installed"):
        return Finding("tool", title, FAIL, "installed, but its files do not point it at this proxy", _apply_fix(name))
    return Finding("tool", title, NOTE, "its files are here but not the program (config only)")


async def check_tools(config_file: Path) -> list[Finding]:
    if importlib.util.find_spec("proxypal_tui") is None:
        return [Finding("tool", "coding tools", NOTE, "proxypal-tui is not installed here; tools not checked")]
    argv = [sys.executable, "-m", "proxypal_tui.tools", "check", "--config", str(config_file)]
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), TOOLS_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return [
            Finding(
                "tool",
                "coding tools",
                FAIL,
                f"the tools check took over {TOOLS_TIMEOUT_S:.0f} s",
                "run `proxypal-tui tools status` to see which tool's files hang",
            )
        ]
    if proc.returncode != 0:
        reason = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        return [
            Finding(
                "tool",
                "coding tools",
                FAIL,
                f"the tools check failed: {reason[0][:200]}",
                "run `proxypal-tui tools status` for the whole message",
            )
        ]
    try:
        tools = json.loads(out)["tools"]
    except (ValueError, KeyError, TypeError):
        return [
            Finding(
                "tool",
                "coding tools",
                FAIL,
                "the tools check answered something that is not its JSON",
                "run `proxypal-tui tools check` by hand",
            )
        ]
    found = [f for t in tools if isinstance(t, dict) and (f := _finding(t)) is not None]
    return found or [Finding("tool", "coding tools", NOTE, "no coding tool found on this machine")]
