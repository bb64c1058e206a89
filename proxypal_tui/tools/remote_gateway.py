"""`tools apply NAME --url URL --key REF`: point a tool at a team gateway instead of the local proxy.

A member of a team (docs/TEAM.md) runs no engine of their own: the address is the team's load balancer
and the key is their member key. The key is given as a reference (`env:VAR` or `keyring:NAME`), never
as its value, so it stays out of shell history and the process list.
"""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import urlsplit

from proxypal_tui.tools.client_keys import ProxySettings
from proxypal_tui.tools.model import ToolError

KEY_REF = re.compile(r"^(env|keyring):[A-Za-z0-9_.\-]+$")


def gateway_settings(settings: ProxySettings, tool: str, url: str | None, key: str | None) -> ProxySettings:
    """These settings with the gateway's address and the member's key for `tool` (either may be absent)."""
    if url is not None:
        try:
            parts = urlsplit(url.strip())
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ToolError(f"--url {url!r} is not a URL like https://proxypal.example.com") from None
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
            raise ToolError("--url takes the gateway's root, like https://proxypal.example.com or http://10.0.0.5:8317")
        if parts.username or parts.password:
            raise ToolError("--url must not carry a user or password; give the key with --key")
        settings = dataclasses.replace(settings, host=parts.hostname, port=port, scheme=parts.scheme)
    if key is not None:
        if not KEY_REF.match(key):
            raise ToolError("--key takes a reference to the key, not the key itself: env:VAR (export VAR=... first) "
                            "or keyring:NAME")  # fmt: skip
        settings = dataclasses.replace(settings, keys_enforced=True, client_refs={**settings.client_refs, tool: key})
    return settings
