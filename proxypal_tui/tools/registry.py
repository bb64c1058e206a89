"""The known coding tools, in the order the CLI and the Tools screen list them."""

from __future__ import annotations

from proxypal_tui.tools.base import CodingTool
from proxypal_tui.tools.families.aider import Aider
from proxypal_tui.tools.families.amp import Amp
from proxypal_tui.tools.families.claude_code import ClaudeCode
from proxypal_tui.tools.families.codex import Codex
from proxypal_tui.tools.families.continue_dev import ContinueDev
from proxypal_tui.tools.families.gemini_cli import GeminiCli
from proxypal_tui.tools.families.manual import Cline, Copilot, Cursor
from proxypal_tui.tools.families.opencode import Opencode
from proxypal_tui.tools.model import ToolError

TOOLS: tuple[CodingTool, ...] = (
    ClaudeCode(),
    Codex(),
    GeminiCli(),
    Aider(),
    Opencode(),
    ContinueDev(),
    Amp(),
    Cursor(),
    Cline(),
    Copilot(),
)
ALIASES = {
    "claude": "claude-code",
    "gemini": "gemini-cli",
    "roo": "cline",
    "roo-code": "cline",
    "github-copilot": "copilot",
    "continue-dev": "continue",
}


def get_tool(name: str) -> CodingTool:
    key = ALIASES.get(name.lower(), name.lower())
    for tool in TOOLS:
        if tool.name == key:
            return tool
    known = ", ".join(t.name for t in TOOLS)
    raise ToolError(f"unknown tool {name!r}; known tools: {known}")
