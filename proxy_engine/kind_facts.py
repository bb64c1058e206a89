"""The facts about provider kinds that the config schema and the TUI need, as plain data.

The behaviour of each kind lives in `proxy_engine.providers` (one module per kind, reading its
facts from here). This module imports nothing from the engine, so the config schema and the TUI
can use it without pulling in the request path; a test checks it names exactly the registry's kinds.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KindFacts:
    login: str | None = None  # `proxypal-engine login NAME` that can supply credentials
    login_only: bool = False  # credentials come from stored logins only, never API keys
    api_keys: bool = True  # config may list api_key/api_keys for it
    needs_base_url: bool = False  # no fixed endpoint: config must set base_url
    offered_for_keys: bool = False  # offered by name when adding an API key in the TUI
    login_credential: str = "oauth"  # the pool credential type its logins become
    versioned_base_url: bool = False  # paths are appended to base_url as is, so it must carry /v1


KIND_FACTS: dict[str, KindFacts] = {
    "anthropic": KindFacts(login="claude", offered_for_keys=True),
    "openai": KindFacts(offered_for_keys=True, versioned_base_url=True),
    "gemini": KindFacts(offered_for_keys=True),
    "openai_compatible": KindFacts(needs_base_url=True, versioned_base_url=True),
    "azure_openai": KindFacts(needs_base_url=True),
    "qwen": KindFacts(login="qwen"),
    "codex": KindFacts(login="codex", login_only=True, api_keys=False),
    "gemini_cli": KindFacts(login="gemini-cli", login_only=True, api_keys=False),
    "copilot": KindFacts(login="copilot", login_only=True, api_keys=False),
    "vertex": KindFacts(login="vertex", login_only=True, api_keys=False, login_credential="service_account"),
    "bedrock": KindFacts(api_keys=False),  # the AWS profile, never a key
}
KIND_NAMES: tuple[str, ...] = tuple(KIND_FACTS)
# A provider entry named like a kind (or a familiar alias) needs no `kind:`.
KIND_ALIASES = {"claude": "anthropic", "google": "gemini", "chatgpt": "openai", "gemini-cli": "gemini_cli",
                "azure": "azure_openai", "github-copilot": "copilot"}  # fmt: skip
LOGIN_ONLY_KINDS: tuple[str, ...] = tuple(k for k, f in KIND_FACTS.items() if f.login_only)
API_KEY_KINDS: tuple[str, ...] = tuple(k for k, f in KIND_FACTS.items() if f.api_keys)
KEYLESS_KINDS: frozenset[str] = frozenset(k for k, f in KIND_FACTS.items() if not f.api_keys)
KEY_KINDS_OFFERED: tuple[str, ...] = tuple(k for k, f in KIND_FACTS.items() if f.offered_for_keys)
