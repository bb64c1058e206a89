"""What differs between OAuth providers: token request shapes, account labels, refresh, upstream headers.

Each `ProviderAuth` turns a token answer into a stored `TokenSet`, refreshes it, and tells
the engine how to call the upstream with it (`upstream()`: base URL plus headers). The
generic flows (browser, device code) live in `flows.py`.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass, field

import httpx

from proxy_engine.logins.endpoints import Endpoints, endpoints_for
from proxy_engine.logins.google import code_assist_onboard, parse_service_account, service_account_token
from proxy_engine.logins.oauth import AuthError, get_json, post_token, token_set
from proxy_engine.logins.tokens import TokenSet, credential_slug

# Copilot's chat API expects an editor's identity on every call.
COPILOT_HEADERS = {
    "Editor-Version": "vscode/1.99.3",
    "Editor-Plugin-Version": "copilot-chat/0.26.7",
    "Copilot-Integration-Id": "vscode-chat",
    "User-Agent": "GitHubCopilotChat/0.26.7",
    "Openai-Intent": "conversation-panel",
}


@dataclass(frozen=True)
class UpstreamAuth:
    """How to call the provider with a login: base URL, headers (secret), and the dialect."""

    base_url: str
    headers: dict[str, str] = field(repr=False)
    dialect: str
    extra: dict[str, str] = field(default_factory=dict)  # e.g. project id for Code Assist bodies


def jwt_claims(token: str) -> dict:
    """Payload of a JWT *without* verifying it (only for labels from a token we just got over TLS)."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        data = json.loads(base64.urlsafe_b64decode(payload))
    except (IndexError, ValueError, binascii.Error):
        return {}
    return data if isinstance(data, dict) else {}


class ProviderAuth:
    name = ""
    flows: tuple[str, ...] = ()  # "browser", "device", "service_account"
    device_pkce = False  # its device-code flow sends a PKCE challenge (Qwen)
    own_device_flow = False  # its device-code flow is its own, not RFC 8628 (Codex's ChatGPT sign-in)

    def __init__(self, endpoints: Endpoints | None = None) -> None:
        self.ep = endpoints or endpoints_for(self.name)

    async def exchange_code(
        self, http: httpx.AsyncClient, code: str, verifier: str, redirect_uri: str, state: str
    ) -> dict:
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.ep.client_id,
            "code_verifier": verifier,
        }
        if self.ep.client_secret:
            data["client_secret"] = self.ep.client_secret
        if self.ep.token_json:
            data["state"] = state
        return await post_token(http, self.ep.token_url, data, json_body=self.ep.token_json, what="code exchange")

    async def complete(
        self, http: httpx.AsyncClient, body: dict, *, label: str = "", project: str | None = None
    ) -> TokenSet:
        """Turn the first token answer into a stored login (account label, provider extras)."""
        return token_set(self.name, body, account=label or self.account_label(body))

    def account_label(self, body: dict) -> str:
        return ""

    async def refresh(self, http: httpx.AsyncClient, tokens: TokenSet) -> TokenSet:
        if not tokens.refresh_token:
            raise AuthError(f"{self.name}: this login has no refresh token; log in again")
        data = {
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token,
            "client_id": self.ep.client_id,
        }
        if self.ep.client_secret:
            data["client_secret"] = self.ep.client_secret
        body = await post_token(http, self.ep.token_url, data, json_body=self.ep.token_json, what="token refresh")
        return token_set(self.name, body, previous=tokens)

    def upstream(self, tokens: TokenSet) -> UpstreamAuth:
        return UpstreamAuth(self.ep.api_base, {"Authorization": f"Bearer {tokens.access_token}"}, "openai_chat")


class ClaudeAuth(ProviderAuth):
    name = "claude"
    flows = ("browser",)

    def account_label(self, body: dict) -> str:
        account = body.get("account") or {}
        return str(account.get("email_address") or "") if isinstance(account, dict) else ""

    def upstream(self, tokens: TokenSet) -> UpstreamAuth:
        headers = {"Authorization": f"Bearer {tokens.access_token}", "anthropic-beta": "oauth-2025-04-20"}
        return UpstreamAuth(self.ep.api_base, headers, "anthropic")


class CodexAuth(ProviderAuth):
    name = "codex"
    flows = ("browser", "device")
    own_device_flow = True

    async def complete(
        self, http: httpx.AsyncClient, body: dict, *, label: str = "", project: str | None = None
    ) -> TokenSet:
        claims = jwt_claims(str(body.get("id_token") or ""))
        auth = claims.get("https://api.openai.com/auth") or {}
        extra = {
            "account_id": str(auth.get("chatgpt_account_id") or ""),
            "plan": str(auth.get("chatgpt_plan_type") or ""),
        }
        return token_set(self.name, body, account=label or str(claims.get("email") or ""), extra=extra)

    async def refresh(self, http: httpx.AsyncClient, tokens: TokenSet) -> TokenSet:
        if not tokens.refresh_token:
            raise AuthError("codex: this login has no refresh token; log in again")
        data = {
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token,
            "client_id": self.ep.client_id,
            "scope": "openid profile email",
        }
        body = await post_token(http, self.ep.token_url, data, what="token refresh")
        return token_set(self.name, body, previous=tokens)

    def upstream(self, tokens: TokenSet) -> UpstreamAuth:
        headers = {
            "Authorization": f"Bearer {tokens.access_token}",
            "chatgpt-account-id": str(tokens.extra.get("account_id", "")),
            "OpenAI-Beta": "responses=experimental",
            "originator": "codex_cli_rs",
        }
        return UpstreamAuth(self.ep.api_base, headers, "openai_responses")


class GeminiCliAuth(ProviderAuth):
    name = "gemini-cli"
    flows = ("browser",)

    async def complete(
        self, http: httpx.AsyncClient, body: dict, *, label: str = "", project: str | None = None
    ) -> TokenSet:
        access = str(body.get("access_token") or "")
        info = await get_json(http, self.ep.userinfo_url, token=access, what="Google userinfo")
        onboard = await code_assist_onboard(
            http,
            self.ep.code_assist_url,
            access,
            project_id=project,
            poll_interval=self.ep.operation_poll_interval,
        )
        return token_set(self.name, body, account=label or str(info.get("email") or ""), extra=onboard)

    def upstream(self, tokens: TokenSet) -> UpstreamAuth:
        headers = {"Authorization": f"Bearer {tokens.access_token}"}
        return UpstreamAuth(self.ep.api_base, headers, "gemini", {"project": str(tokens.extra.get("project_id", ""))})


class CopilotAuth(ProviderAuth):
    """GitHub device login; the GitHub token is the long-lived secret, Copilot tokens last ~30 min."""

    name = "copilot"
    flows = ("device",)

    async def _session(self, http: httpx.AsyncClient, github_token: str) -> dict:
        data = await get_json(
            http, self.ep.exchange_url, token=github_token, scheme="token", what="Copilot token exchange"
        )
        if not data.get("token"):
            raise AuthError("Copilot token exchange returned no token (is Copilot enabled for this account?)")
        return data

    def _set(self, session: dict, github_token: str, account: str, credential: str | None = None) -> TokenSet:
        api = (session.get("endpoints") or {}).get("api") or self.ep.api_base
        expires = session.get("expires_at")
        return TokenSet(
            provider=self.name,
            credential=credential or credential_slug(account or "default"),
            access_token=str(session["token"]),
            refresh_token=github_token,
            expires_at=float(expires) if isinstance(expires, int | float) else time.time() + 1500,
            account=account or "default",
            extra={"api_base": str(api)},
        )

    async def complete(
        self, http: httpx.AsyncClient, body: dict, *, label: str = "", project: str | None = None
    ) -> TokenSet:
        github_token = str(body.get("access_token") or "")
        if not github_token:
            raise AuthError("GitHub device login returned no access token")
        user = await get_json(http, self.ep.userinfo_url, token=github_token, what="GitHub user lookup")
        session = await self._session(http, github_token)
        return self._set(session, github_token, label or str(user.get("login") or ""))

    async def refresh(self, http: httpx.AsyncClient, tokens: TokenSet) -> TokenSet:
        if not tokens.refresh_token:
            raise AuthError("copilot: this login has no GitHub token; log in again")
        session = await self._session(http, tokens.refresh_token)
        return self._set(session, tokens.refresh_token, tokens.account, tokens.credential)

    def upstream(self, tokens: TokenSet) -> UpstreamAuth:
        headers = {"Authorization": f"Bearer {tokens.access_token}", **COPILOT_HEADERS}
        return UpstreamAuth(str(tokens.extra.get("api_base") or self.ep.api_base), headers, "openai_chat")


class QwenAuth(ProviderAuth):
    name = "qwen"
    flows = ("device",)
    device_pkce = True

    async def complete(
        self, http: httpx.AsyncClient, body: dict, *, label: str = "", project: str | None = None
    ) -> TokenSet:
        resource = str(body.get("resource_url") or "")
        return token_set(self.name, body, account=label or "default", extra={"resource_url": resource})

    def upstream(self, tokens: TokenSet) -> UpstreamAuth:
        resource = str(tokens.extra.get("resource_url") or "")
        if resource:
            base = resource if resource.startswith(("http://", "https://")) else f"https://{resource}"
            base = base.rstrip("/") + ("" if base.rstrip("/").endswith("/v1") else "/v1")
        else:
            base = self.ep.api_base
        return UpstreamAuth(base, {"Authorization": f"Bearer {tokens.access_token}"}, "openai_chat")


class VertexAuth(ProviderAuth):
    """Service-account key -> short-lived access token; the key itself is the refresh secret."""

    name = "vertex"
    flows = ("service_account",)

    async def login_service_account(self, http: httpx.AsyncClient, key_json: str, *, label: str = "") -> TokenSet:
        info = parse_service_account(key_json)
        body = await service_account_token(http, info, scopes=self.ep.scopes, default_token_url=self.ep.token_url)
        tokens = token_set(
            self.name,
            body,
            account=label or info["client_email"],
            extra={"project_id": info["project_id"], "client_email": info["client_email"]},
        )
        tokens.refresh_token = key_json
        return tokens

    async def refresh(self, http: httpx.AsyncClient, tokens: TokenSet) -> TokenSet:
        if not tokens.refresh_token:
            raise AuthError("vertex: the service-account key is missing; log in again")
        info = parse_service_account(tokens.refresh_token)
        body = await service_account_token(http, info, scopes=self.ep.scopes, default_token_url=self.ep.token_url)
        return token_set(self.name, body, previous=tokens)

    def upstream(self, tokens: TokenSet, location: str = "us-central1") -> UpstreamAuth:
        project = str(tokens.extra.get("project_id", ""))
        base = self.ep.api_base.format(location=location) + f"/projects/{project}/locations/{location}"
        return UpstreamAuth(base, {"Authorization": f"Bearer {tokens.access_token}"}, "gemini", {"project": project})


PROVIDER_CLASSES: dict[str, type[ProviderAuth]] = {
    cls.name: cls for cls in (ClaudeAuth, CodexAuth, GeminiCliAuth, CopilotAuth, QwenAuth, VertexAuth)
}


def provider_auth(name: str, endpoints: Endpoints | None = None) -> ProviderAuth:
    """The ProviderAuth for an OAuth login provider (KeyError if `name` is not one)."""
    return PROVIDER_CLASSES[name](endpoints)
