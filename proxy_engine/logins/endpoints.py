"""Public OAuth clients and endpoints of each login provider, all overridable.

Client ids, scopes and URLs are the public values the providers' own CLIs use
(Claude Code, Codex CLI, Gemini CLI, Qwen Code, GitHub Copilot editors). Tests and
self-hosted gateways override any field, in code (`dataclasses.replace`) or with a JSON
file named by `PROXYPAL_AUTH_ENDPOINTS`: {"claude": {"token_url": "http://127.0.0.1:9/t"}}.
Overrides must use https, or http only to a loopback host.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

OVERRIDES_ENV = "PROXYPAL_AUTH_ENDPOINTS"

# Gemini CLI's installed-app OAuth client. Google documents that an installed app's
# client secret is not confidential; Gemini CLI ships it in its public source.
_GEMINI_CLI_CLIENT_ID = "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com"
_GEMINI_CLI_CLIENT_SECRET = "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"


@dataclass(frozen=True)
class Endpoints:
    client_id: str = ""
    client_secret: str | None = None
    scopes: tuple[str, ...] = ()
    authorize_url: str = ""
    token_url: str = ""
    redirect_host: str = "localhost"
    redirect_port: int = 0  # the port registered with the provider; 0 = any (tests)
    redirect_path: str = "/callback"
    extra_authorize_params: dict[str, str] = field(default_factory=dict)
    device_code_url: str = ""
    device_token_url: str = ""  # Codex's own poll endpoint (not RFC 8628)
    device_redirect_uri: str = ""  # Codex: redirect_uri used when exchanging the device code
    verification_url: str = ""
    userinfo_url: str = ""
    exchange_url: str = ""  # Copilot: GitHub token -> Copilot session token
    code_assist_url: str = ""  # Gemini CLI: Code Assist (cloudcode-pa) v1internal base
    api_base: str = ""  # where the engine sends requests made with this login
    min_poll_interval: float = 1.0  # floor for device-code polling, seconds
    operation_poll_interval: float = 5.0  # Code Assist onboarding: long-running operation polling
    token_json: bool = False  # token endpoint takes a JSON body (Claude), not a form

    def redirect_uri(self, port: int | None = None) -> str:
        return f"http://{self.redirect_host}:{port or self.redirect_port}{self.redirect_path}"


DEFAULTS: dict[str, Endpoints] = {
    # Claude Code's public OAuth client (Claude Pro/Max subscription).
    "claude": Endpoints(
        client_id="9d1c250a-e61b-44d9-88ed-5944d1962f5e",
        scopes=("org:create_api_key", "user:profile", "user:inference"),
        authorize_url="https://claude.ai/oauth/authorize",
        token_url="https://console.anthropic.com/v1/oauth/token",
        redirect_port=54545,
        redirect_path="/callback",
        extra_authorize_params={"code": "true"},
        api_base="https://api.anthropic.com",
        token_json=True,
    ),
    # Codex CLI's ChatGPT sign-in; requests go to the ChatGPT backend's Responses endpoint.
    "codex": Endpoints(
        client_id="app_EMoamEEZ73f0CkXaXp7hrann",
        scopes=("openid", "profile", "email", "offline_access"),
        authorize_url="https://auth.openai.com/oauth/authorize",
        token_url="https://auth.openai.com/oauth/token",
        redirect_port=1455,
        redirect_path="/auth/callback",
        extra_authorize_params={
            "id_token_add_organizations": "true",
            "codex_cli_simplified_flow": "true",
            "prompt": "login",
        },
        device_code_url="https://auth.openai.com/api/accounts/deviceauth/usercode",
        device_token_url="https://auth.openai.com/api/accounts/deviceauth/token",
        device_redirect_uri="https://auth.openai.com/deviceauth/callback",
        verification_url="https://auth.openai.com/codex/device",
        api_base="https://chatgpt.com/backend-api/codex",
    ),
    # Gemini CLI's Google sign-in, then Code Assist project onboarding.
    "gemini-cli": Endpoints(
        client_id=_GEMINI_CLI_CLIENT_ID,
        client_secret=_GEMINI_CLI_CLIENT_SECRET,
        scopes=(
            "https://www.googleapis.com/auth/cloud-platform",
            "https://www.googleapis.com/auth/userinfo.email",
            "https://www.googleapis.com/auth/userinfo.profile",
        ),
        authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
        token_url="https://oauth2.googleapis.com/token",
        redirect_port=8085,
        redirect_path="/oauth2callback",
        extra_authorize_params={"access_type": "offline", "prompt": "consent"},
        userinfo_url="https://www.googleapis.com/oauth2/v2/userinfo",
        code_assist_url="https://cloudcode-pa.googleapis.com/v1internal",
        api_base="https://cloudcode-pa.googleapis.com/v1internal",
    ),
    # GitHub device flow with the Copilot editor client, then the Copilot session-token exchange.
    "copilot": Endpoints(
        client_id="Iv1.b507a08c87ecfe98",
        scopes=("read:user",),
        device_code_url="https://github.com/login/device/code",
        token_url="https://github.com/login/oauth/access_token",
        verification_url="https://github.com/login/device",
        userinfo_url="https://api.github.com/user",
        exchange_url="https://api.github.com/copilot_internal/v2/token",
        api_base="https://api.githubcopilot.com",
    ),
    # Qwen Code's device flow (RFC 8628 + PKCE).
    "qwen": Endpoints(
        client_id="f0304373b74a44d2b584a3fb70ca9e56",
        scopes=("openid", "profile", "email", "model.completion"),
        device_code_url="https://chat.qwen.ai/api/v1/oauth2/device/code",
        token_url="https://chat.qwen.ai/api/v1/oauth2/token",
        api_base="https://portal.qwen.ai/v1",
    ),
    # Vertex AI with a service-account key: RS256 JWT -> access token (RFC 7523).
    # token_url is a fallback; the key file's own token_uri wins.
    "vertex": Endpoints(
        scopes=("https://www.googleapis.com/auth/cloud-platform",),
        token_url="https://oauth2.googleapis.com/token",
        api_base="https://{location}-aiplatform.googleapis.com/v1",
    ),
}

OAUTH_PROVIDERS = tuple(DEFAULTS)


def _check_url(provider: str, key: str, value: object) -> None:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        return
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    if parts.scheme == "http" and host not in {"127.0.0.1", "localhost", "::1"}:
        raise ValueError(f"{provider}.{key}: plain http is only allowed to a loopback host")


def with_overrides(provider: str, base: Endpoints, overrides: dict) -> Endpoints:
    """Apply a dict of field overrides, validated (unknown fields and non-loopback http refused)."""
    known = {f.name: f for f in dataclasses.fields(Endpoints)}
    clean: dict = {}
    for key, value in overrides.items():
        if key not in known:
            raise ValueError(f"{provider}: unknown endpoint field {key!r}")
        _check_url(provider, key, value)
        clean[key] = tuple(value) if key == "scopes" else value
    return dataclasses.replace(base, **clean)


def endpoints_for(provider: str, overrides: dict | None = None) -> Endpoints:
    """Endpoints for `provider`: defaults, then the `PROXYPAL_AUTH_ENDPOINTS` file, then `overrides`."""
    if provider not in DEFAULTS:
        raise KeyError(f"no OAuth login for provider {provider!r}")
    ep = DEFAULTS[provider]
    env_file = os.environ.get(OVERRIDES_ENV)
    if env_file:
        data = json.loads(Path(env_file).read_text())
        if provider in data:
            ep = with_overrides(provider, ep, data[provider])
    if overrides:
        ep = with_overrides(provider, ep, overrides)
    return ep
