"""Codex CLI: a `proxypal` model provider in ~/.codex/config.toml.

Codex ignores OPENAI_BASE_URL for custom providers and only speaks the Responses
API (`wire_api = "responses"`). The key goes in `experimental_bearer_token`, so
the tool works without exporting an environment variable in every shell.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from proxypal_tui.tools.base import CodingTool, pick_by_hint
from proxypal_tui.tools.model import FileEdit, Target, ToolError

PROVIDER_ID = "proxypal"


def _parse(text: str) -> Any:
    try:
        return tomlkit.parse(text)
    except TOMLKitError as e:
        raise ToolError(
            f"~/.codex/config.toml is not valid TOML ({e}); fix it, ProxyPal will not overwrite it"
        ) from None


def _set(container: Any, key: str, value: str) -> None:
    if container.get(key) != value:
        container[key] = value


class Codex(CodingTool):
    name = "codex"
    title = "Codex CLI"
    binaries = ("codex",)
    markers = (".codex",)
    secret_fields = ("experimental_bearer_token",)

    def config(self, home: Path) -> Path:
        return home / ".codex" / "config.toml"

    def files(self, home: Path) -> list[Path]:
        return [self.config(home)]

    def current_url(self, home: Path) -> str | None:
        text = self.read(self.config(home))
        if text is None:
            return None
        doc = _parse(text)
        provider = doc.get("model_provider")
        if not provider:
            return None
        entry = doc.get("model_providers", {}).get(provider, {})
        return entry.get("base_url")

    def current_key(self, home: Path) -> str | None:
        text = self.read(self.config(home))
        if text is None:
            return None
        doc = _parse(text)
        entry = doc.get("model_providers", {}).get(doc.get("model_provider") or "", {})
        return entry.get("experimental_bearer_token")

    def plan(self, home: Path, target: Target) -> list[FileEdit]:
        path = self.config(home)
        before = self.read(path)
        root = {"model_provider": PROVIDER_ID}
        if target.models:
            model = pick_by_hint(target.models, "gpt") or pick_by_hint(target.models, "codex")
            root["model"] = model or target.model_names[0]
        doc = _with_root_keys(before or "", root)
        providers = doc.get("model_providers")
        if providers is None:
            providers = tomlkit.table(is_super_table=True)
            doc["model_providers"] = providers
        entry = providers.get(PROVIDER_ID)
        fresh = entry is None
        if fresh:
            entry = tomlkit.table()
        _set(entry, "name", "ProxyPal")
        _set(entry, "base_url", target.openai_url)
        _set(entry, "wire_api", "responses")
        _set(entry, "experimental_bearer_token", target.client_key)
        if fresh:
            providers[PROVIDER_ID] = entry
        after = tomlkit.dumps(doc)
        if fresh and before is not None:
            after = _separate_tables(after)
        return [FileEdit(path, before, after)]

    def notes(self, home: Path, target: Target) -> list[str]:
        text = self.read(self.config(home))
        if text and _parse(text).get("profile"):
            return ["config.toml selects a profile; a profile's own model_provider would take precedence."]
        return []


def _with_root_keys(text: str, values: dict[str, str]) -> Any:
    """Parse text with each root key set; a new key goes after the last root setting, not under a comment
    that introduces the first table (tomlkit alone would append it there)."""
    doc = _parse(text)
    for key, value in values.items():
        if key in doc:
            _set(doc, key, value)
            continue
        lines = text.splitlines(keepends=True)
        at = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("[")), None)
        if at is not None:
            while at > 0 and (not lines[at - 1].strip() or lines[at - 1].lstrip().startswith("#")):
                at -= 1
            line = f"{key} = {tomlkit.item(value).as_string()}\n"
            candidate = "".join([*lines[:at], line, *lines[at:]])
            try:
                parsed = tomlkit.parse(candidate)
            except TOMLKitError:
                parsed = None
            if parsed is not None and parsed.get(key) == value and parsed.unwrap() == {**doc.unwrap(), key: value}:
                text, doc = candidate, parsed
                continue
        doc[key] = value
        text = tomlkit.dumps(doc)
    return doc


def _separate_tables(text: str) -> str:
    """tomlkit puts a new sub-table straight above the next table; keep a blank line between them."""
    lines = text.split("\n")
    out: list[str] = []
    in_ours = False
    for line in lines:
        header = line.strip().startswith("[")
        if header and in_ours and out and out[-1].strip():
            out.append("")
        if header:
            in_ours = line.strip() == f"[model_providers.{PROVIDER_ID}]"
        out.append(line)
    return "\n".join(out)
