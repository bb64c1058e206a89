"""One attempt's credential made concrete: the base URL and the (secret) headers to send."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proxy_engine.credentials.pool import Credential


@dataclass(frozen=True)
class UpstreamCall:
    """Where one attempt goes and with which headers; `headers` hold secrets and are never printed."""

    credential: Credential
    base_url: str
    headers: dict[str, str] = field(repr=False)
    extra: dict[str, Any] = field(default_factory=dict)  # project id, region, AWS credentials...
