"""Per-kind wire details: the upstream URL, last touches to the body, and request signing.

Same-dialect traffic stays a byte pass-through unless a kind must edit the body (Code Assist
wraps it, Vertex's Anthropic models take the model in the URL, Claude logins need Claude
Code's system prompt, the ChatGPT backend needs `store: false`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from proxy_engine.providers import Provider, UpstreamCall
from proxy_engine.providers.sigv4 import bedrock_endpoint, bedrock_url
from proxy_engine.translate.code_assist import code_assist_url

CLAUDE_CODE_SYSTEM = "You are Claude Code, Anthropic's official CLI for Claude."
DEFAULT_AZURE_API_VERSION = "2024-10-21"
DEFAULT_VERTEX_LOCATION = "us-central1"
DEFAULT_BEDROCK_REGION = "us-east-1"
_COUNT = ("count_tokens", "countTokens")


def _gemini_action(stream: bool, action: str | None) -> str:
    return action or ("streamGenerateContent" if stream else "generateContent")


def upstream_url(p: Provider, call: UpstreamCall, dialect: str, model: str, *, stream: bool, action=None) -> str:
    base = call.base_url.rstrip("/")
    if p.kind == "vertex":
        from proxy_engine.providers.vertex_body import vertex_url

        publisher = "anthropic" if dialect == "anthropic" else "google"
        return vertex_url(base, str(call.extra.get("project", "")), vertex_location(p), model, publisher, stream,
                          action)  # fmt: skip
    if p.kind == "bedrock":
        return bedrock_url(base, model, stream)
    if dialect == "gemini_code_assist":
        act = "countTokens" if action in _COUNT else _gemini_action(stream, action)
        return code_assist_url(base, act, stream=act == "streamGenerateContent")
    if p.kind == "azure_openai":
        deployment = p.settings.deployments.get(model, model)
        version = p.settings.api_version or DEFAULT_AZURE_API_VERSION
        return f"{base}/openai/deployments/{quote(deployment, safe='')}/chat/completions?api-version={version}"
    if dialect == "anthropic":
        return base + ("/v1/messages/count_tokens" if action == "count_tokens" else "/v1/messages")
    if dialect == "gemini":
        prefix = base if base.endswith(("/v1beta", "/v1")) else base + "/v1beta"
        act = _gemini_action(stream, action)
        url = f"{prefix}/models/{quote(model, safe='')}:{act}"
        return url + "?alt=sse" if act == "streamGenerateContent" else url
    path = {"openai_responses": "/responses", "openai_completions": "/completions"}.get(dialect, "/chat/completions")
    return base + path


def vertex_location(p: Provider) -> str:
    return p.settings.location or DEFAULT_VERTEX_LOCATION


def bedrock_region(p: Provider) -> str:
    return p.settings.region or DEFAULT_BEDROCK_REGION


def default_base(p: Provider) -> str:
    """Where a kind without a fixed endpoint goes when config sets no base_url."""
    if p.base_configured:
        return p.base_url
    if p.kind == "vertex":
        from proxy_engine.providers.vertex_body import vertex_base

        return vertex_base(vertex_location(p))
    if p.kind == "bedrock":
        return bedrock_endpoint(bedrock_region(p))
    return p.base_url


def edits_body(p: Provider, call: UpstreamCall, dialect: str) -> bool:
    """Must a same-dialect (pass-through) body be rewritten for this upstream?"""
    if dialect == "gemini_code_assist" or p.kind in ("codex", "bedrock"):
        return True
    if p.kind == "vertex" and dialect == "anthropic":
        return True
    return call.credential.kind == "oauth" and p.kind == "anthropic"


def finalize_body(
    p: Provider, call: UpstreamCall, dialect: str, body: dict[str, Any], *, model: str = "", action: str | None = None
) -> dict[str, Any]:
    """The kind-specific last touches, on the body already in the upstream's dialect."""
    if dialect == "gemini_code_assist":
        from proxy_engine.translate.code_assist import count_tokens_body, set_project

        if action in _COUNT:
            return count_tokens_body(body, model)
        project = p.settings.project or str(call.extra.get("project", ""))
        return set_project(body, project)
    if p.kind == "vertex" and dialect == "anthropic":
        from proxy_engine.providers.vertex_body import anthropic_body_for_vertex, anthropic_count_body_for_vertex

        return anthropic_count_body_for_vertex(body, model) if action in _COUNT else anthropic_body_for_vertex(body)
    if p.kind == "codex":
        body = dict(body)
        body["store"] = False  # the ChatGPT backend keeps nothing and refuses store: true
        body.setdefault("instructions", "")
        body.pop("max_output_tokens", None)  # not accepted there
        return body
    if call.credential.kind == "oauth" and p.kind == "anthropic":
        return _with_claude_code_system(body)
    return body


def _with_claude_code_system(body: dict[str, Any]) -> dict[str, Any]:
    """Claude subscription logins serve requests that open with Claude Code's system prompt."""
    system = body.get("system")
    first = system if isinstance(system, str) else (system[0].get("text") if isinstance(system, list) and system
                                                    and isinstance(system[0], dict) else None)  # fmt: skip
    if isinstance(first, str) and first.startswith(CLAUDE_CODE_SYSTEM):
        return body
    block = {"type": "text", "text": CLAUDE_CODE_SYSTEM}
    if isinstance(system, str) and system:
        rest = [{"type": "text", "text": system}]
    elif isinstance(system, list):
        rest = list(system)
    else:
        rest = []
    return {**body, "system": [block, *rest]}


def sign_headers(p: Provider, call: UpstreamCall, url: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
    """Headers that depend on the final URL and body (AWS SigV4 for Bedrock)."""
    if p.kind != "bedrock":
        return headers
    from proxy_engine.providers.sigv4 import sign

    # Only what travels unchanged is signed; anything a client sent is left out.
    accept = "application/vnd.amazon.eventstream" if url.endswith("/converse-stream") else "application/json"
    plain = {"Content-Type": "application/json", "Accept": accept}
    return sign("POST", url, plain, body, call.extra["aws"], bedrock_region(p))
