"""Things a valid config may still get wrong: reported by `check-config` and in `config.reloaded`, never refused."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from proxy_engine.config import Config, provider_kind
from proxy_engine.kind_facts import KIND_FACTS

_VERSION_SEGMENT = re.compile(r"v\d+\w*")  # v1, v1beta, v2


def config_warnings(cfg: Config) -> list[str]:
    """One sentence per suspicious setting, naming the provider and the fix."""
    warnings = []
    for name, p in cfg.providers.items():
        facts = KIND_FACTS.get(provider_kind(name, p))
        if not (facts and facts.versioned_base_url and p.base_url):
            continue
        segments = [s for s in urlsplit(p.base_url).path.split("/") if s]
        if not any(_VERSION_SEGMENT.fullmatch(s) for s in segments):
            warnings.append(
                f"provider {name!r}: base_url {p.base_url} has no version segment, so requests go to "
                f"{p.base_url.rstrip('/')}/chat/completions; most OpenAI-style servers want it to end in /v1"
            )
    return warnings
