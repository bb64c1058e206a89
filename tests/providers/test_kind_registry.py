"""The provider-kind registry: every kind implements `ProviderKind`, the config schema names exactly
the registry's kinds, and no code outside `providers/` branches on a kind's name."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest
import yarl

from proxy_engine.config import KIND_FACTS, PROVIDER_KINDS, ProviderConfig
from proxy_engine.credentials import Credential, UpstreamCall
from proxy_engine.logins.endpoints import OAUTH_PROVIDERS
from proxy_engine.providers import KIND_REGISTRY, ProviderKind, build_provider
from proxy_engine.providers.sigv4 import AwsCredentials

ROOT = Path(__file__).resolve().parents[2]
# Names that are only ever kinds (anthropic, openai, gemini and bedrock are dialect names too), and
# any comparison of a provider's `.kind` itself.
KIND_ONLY = ("vertex", "codex", "copilot", "qwen", "azure_openai", "gemini_cli", "openai_compatible")
_K = "|".join(KIND_ONLY)
BRANCH = re.compile(
    rf"""\b(provider|p)\.kind\s*(==|!=|in\b)"""
    rf"""|(==|!=)\s*["']({_K})["']|["']({_K})["']\s*(==|!=)|\bin\s*[(\[{{][^)\]}}]*["']({_K})["']"""
)
# Login flows (auth/) and the TUI's login menu and tool families name logins and tools, not kinds.
NOT_KINDS = (
    "proxy_engine/providers/",
    "proxy_engine/logins/",
    "proxy_engine/secrets/",
    "proxypal_tui/tools/",
    "proxypal_tui/core/login.py",
)


@pytest.mark.parametrize("name", list(KIND_REGISTRY))
def test_every_kind_implements_the_interface_in_its_own_module(name: str) -> None:
    kind = KIND_REGISTRY[name]
    assert isinstance(kind, ProviderKind) and kind.name == name
    assert type(kind).__module__ == f"proxy_engine.providers.{name}"
    importlib.import_module(f"proxy_engine.providers.{name}")
    assert kind.dialects, f"{name} speaks no wire format"
    for attr, base in vars(ProviderKind).items():
        if callable(base) and not attr.startswith("_"):
            mine = getattr(type(kind), attr)
            assert inspect.signature(mine) == inspect.signature(base), f"{name}.{attr} differs from the interface"


def test_the_config_schema_names_exactly_the_registry_kinds() -> None:
    assert tuple(KIND_REGISTRY) == PROVIDER_KINDS
    assert tuple(KIND_FACTS) == tuple(KIND_REGISTRY)
    for name in PROVIDER_KINDS:  # the schema accepts each of them
        assert ProviderConfig(kind=name).kind == name
    with pytest.raises(ValueError):
        ProviderConfig(kind="not_a_kind")


def test_every_login_a_kind_names_is_one_the_cli_knows() -> None:
    logins = {k.login for k in KIND_REGISTRY.values() if k.login}
    assert logins <= set(OAUTH_PROVIDERS), logins - set(OAUTH_PROVIDERS)
    assert all(k.login for k in KIND_REGISTRY.values() if k.login_only)


def test_no_code_outside_providers_branches_on_a_kind_name() -> None:
    hits = []
    for pkg in ("proxy_engine", "proxypal_tui"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(NOT_KINDS):
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if BRANCH.search(line):
                    hits.append(f"{rel}:{n}: {line.strip()}")
    assert hits == []


def test_the_branch_probe_can_fail() -> None:
    assert BRANCH.search('if p.kind == "bedrock":') and BRANCH.search('kind in ("codex", "vertex")')
    assert BRANCH.search("x if provider.kind in KINDS else y") and BRANCH.search('"qwen" != name')
    assert not BRANCH.search('if dialect == "anthropic":') and not BRANCH.search('if cred.kind == "aws":')


def _call(cred: Credential, base: str, **extra: object) -> UpstreamCall:
    return UpstreamCall(cred, base, {}, dict(extra))


def test_only_bedrock_urls_are_sent_exactly_as_signed() -> None:
    bedrock = build_provider("aws", ProviderConfig(kind="bedrock", region="eu-west-1"), {})
    (cred,) = bedrock.kind_rules.credentials(bedrock, [])
    call = _call(cred, bedrock.default_base(), aws=AwsCredentials("AKIDEXAMPLE", "secret"))
    url = bedrock.upstream_url(call, "bedrock", "us.anthropic.claude:0", stream=True)
    assert isinstance(url, yarl.URL) and url.raw_path.endswith("/model/us.anthropic.claude%3A0/converse-stream")
    signed = bedrock.sign_headers(call, url, {"X-Client": "dropped"}, b"{}")
    assert signed["Accept"] == "application/vnd.amazon.eventstream" and "X-Client" not in signed
    assert signed["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")

    openai = build_provider("openai", ProviderConfig(api_key="env:K"), {"env:K": "sk-test"})
    key_call = openai.key_call(openai.key_credentials[0], "openai_chat")
    assert key_call.headers == {"Authorization": "Bearer sk-test"}
    assert (
        openai.upstream_url(key_call, "openai_chat", "gpt-4o", stream=False)
        == "https://api.openai.com/v1/chat/completions"
    )
    assert openai.sign_headers(key_call, "https://x", {"A": "b"}, b"") == {"A": "b"}
