"""Per-request state shared by the request, response and stream halves of one translation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SAFE_NAME = re.compile(r"[^a-zA-Z0-9_-]")


@dataclass(slots=True)
class ToolOrigin:
    """How the client named a tool that we renamed for the upstream."""

    name: str
    namespace: str | None = None
    kind: str = "function"


@dataclass
class Context:
    client: str
    upstream: str
    model: str = ""
    thinking_budget: int | None = None
    include_usage: bool = False
    warnings: list[str] = field(default_factory=list)
    # upstream tool name -> what the client called it
    tool_origins: dict[str, ToolOrigin] = field(default_factory=dict)
    # client (namespace, name) -> upstream tool name
    tool_names: dict[tuple[str | None, str], str] = field(default_factory=dict)
    # the Responses client's own tool list and settings, echoed in its response objects
    echo: dict = field(default_factory=dict)

    def register_tool(self, name: str, namespace: str | None = None, kind: str = "function") -> str:
        """The name to use upstream: valid everywhere (^[a-zA-Z0-9_-]{1,64}$), unique, reversible."""
        key = (namespace, name)
        if key in self.tool_names:
            return self.tool_names[key]
        flat = f"{namespace}__{name}" if namespace else name
        safe = _SAFE_NAME.sub("_", flat)[:64] or "tool"
        candidate, n = safe, 1
        while candidate in self.tool_origins:
            n += 1
            suffix = f"_{n}"
            candidate = safe[: 64 - len(suffix)] + suffix
        self.tool_names[key] = candidate
        self.tool_origins[candidate] = ToolOrigin(name=name, namespace=namespace, kind=kind)
        return candidate

    def upstream_name(self, name: str, namespace: str | None = None) -> str:
        """The upstream name for a tool referenced in history (it may not be in `tools`)."""
        found = self.tool_names.get((namespace, name))
        if found:
            return found
        if namespace is None and not _SAFE_NAME.search(name) and len(name) <= 64:
            return name
        return self.register_tool(name, namespace)

    def origin(self, upstream_name: str) -> ToolOrigin:
        return self.tool_origins.get(upstream_name) or ToolOrigin(name=upstream_name)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
