"""Writing the config file: atomically, privately, and without losing the user's comments."""

from __future__ import annotations

import io
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from proxy_engine.config import DEFAULT_CONFIG_TEXT, KIND_ALIASES, PROVIDER_KINDS
from proxy_engine.paths import atomic_write


def ensure_config(path: Path) -> bool:
    """First run: write the commented default config. Returns True when it was created."""
    if path.exists():
        return False
    atomic_write(path, DEFAULT_CONFIG_TEXT)
    return True


class ConfigEditError(Exception):
    """The file cannot be edited automatically (not YAML, or an unexpected shape)."""


def _yaml() -> YAML:
    y = YAML()  # round-trip mode keeps comments, order and flow style
    y.preserve_quotes = True
    y.width = 4096
    return y


def set_provider_api_key(text: str, provider: str, ref: str) -> str:
    """Return `text` with `providers.<provider>.api_key: <ref>`, everything else preserved.

    A provider that is not configured yet is added; its kind is implied by its name
    when that name is a kind (or a familiar alias), as the schema allows.
    """
    y = _yaml()
    try:
        doc = y.load(text) if text.strip() else None
    except YAMLError as e:
        raise ConfigEditError(f"the config is not valid YAML: {e}") from None
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, dict):
        raise ConfigEditError("the config's top level is not a mapping")
    providers = doc.get("providers")
    if providers is None:
        providers = CommentedMap()
        doc["providers"] = providers
    if not isinstance(providers, dict):
        raise ConfigEditError("`providers:` is not a mapping")
    entry = providers.get(provider)
    if entry is None:
        entry = CommentedMap()
        if hasattr(entry, "fa"):
            entry.fa.set_flow_style()
        providers[provider] = entry
    if not isinstance(entry, dict):
        raise ConfigEditError(f"`providers.{provider}` is not a mapping")
    if KIND_ALIASES.get(provider, provider) not in PROVIDER_KINDS and "kind" not in entry:
        raise ConfigEditError(f"provider {provider!r} needs a kind; add it in the Config screen first")
    entry["api_key"] = ref
    if hasattr(providers, "fa") and not providers:
        providers.fa.set_block_style()
    out = io.StringIO()
    y.dump(doc, out)
    return out.getvalue()
