"""A real OAuth 2.0 authorization server on 127.0.0.1, built on authlib's server grants, plus the
provider-specific side endpoints the logins touch (userinfo, GitHub /user, Copilot token exchange,
Code Assist onboarding, Codex's own device flow).

One server plays every provider: each provider's public client id is registered as a client, so a
test also proves the login sends the right client id, redirect URI, PKCE verifier and body shape.
The "user" is scripted: `consent` decides what /authorize answers, `approve_device()` plays the
person typing the user code. Every request is recorded in `seen` for assertions.
"""

from __future__ import annotations

import json
import secrets
import time

from aiohttp import web
from authlib.oauth2.rfc6749 import AuthorizationServer, OAuth2Request, grants
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7523 import JWTBearerGrant
from authlib.oauth2.rfc7636 import CodeChallenge, create_s256_code_challenge
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint, DeviceCodeGrant, DeviceCredentialDict
from joserfc.jwk import RSAKey

from proxy_engine.logins.endpoints import DEFAULTS
from tests.logins.oauth_models import DEVICE, JWT_BEARER, Client, Grant, Seen
from tests.logins.provider_fakes import ProviderFakes, unsigned_jwt


class AioOAuth2Request(OAuth2Request):
    def __init__(self, method: str, url: str, headers: dict, args: dict, form: dict) -> None:
        super().__init__(method=method, uri=url, headers=headers)
        self._args, self._form = args, form
        self.payload = BasicOAuth2Payload({**args, **form})

    @property
    def args(self) -> dict:
        return self._args

    @property
    def form(self) -> dict:
        return self._form


class _Server(AuthorizationServer):
    def __init__(self, idp: FakeIdP) -> None:
        super().__init__()
        self.idp = idp
        self.register_token_generator("default", idp.generate_token)

    def query_client(self, client_id: str) -> Client | None:
        return self.idp.clients.get(client_id)

    def save_token(self, token: dict, request: OAuth2Request) -> None:
        user = request.user or {}
        rec = Grant(
            request.client.client_id,
            user,
            token.get("scope", ""),
            expires_at=time.time() + token["expires_in"],
        )
        self.idp.access[token["access_token"]] = rec
        if token.get("refresh_token"):
            self.idp.refresh[token["refresh_token"]] = Grant(request.client.client_id, user, rec.scope)

    def create_oauth2_request(self, request: AioOAuth2Request) -> AioOAuth2Request:
        return request

    def handle_response(self, status: int, body: object, headers: list) -> web.Response:
        text = json.dumps(body) if isinstance(body, dict) else str(body or "")
        return web.Response(status=status, text=text, headers=dict(headers))

    def send_signal(self, name: str, *args: object, **kwargs: object) -> None:
        return None


class _AuthCode(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_post", "none"]

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        self.server.idp.codes[code] = Grant(
            request.client.client_id,
            request.user,
            data.get("scope", ""),
            data.get("redirect_uri", ""),
            data.get("code_challenge"),
            data.get("code_challenge_method"),
            expires_at=time.time() + 300,
        )

    def query_authorization_code(self, code: str, client: Client) -> Grant | None:
        rec = self.server.idp.codes.get(code)
        return rec if rec and rec.client_id == client.client_id and not rec.is_expired() else None

    def delete_authorization_code(self, authorization_code: Grant) -> None:
        self.server.idp.codes = {k: v for k, v in self.server.idp.codes.items() if v is not authorization_code}

    def authenticate_user(self, authorization_code: Grant) -> dict:
        return authorization_code.user


class _Refresh(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> Grant | None:
        rec = self.server.idp.refresh.get(refresh_token)
        return rec if rec and not rec.revoked else None

    def authenticate_user(self, credential: Grant) -> dict:
        return credential.user

    def revoke_old_credential(self, refresh_token: Grant) -> None:
        refresh_token.revoked = True


class _DeviceEndpoint(DeviceAuthorizationEndpoint):
    INTERVAL = 0  # tests poll fast; the client's min_poll_interval floor applies

    def get_verification_uri(self) -> str:
        return f"{self.server.idp.base_url}/device"

    def save_device_credential(self, client_id: str, scope: str, data: dict) -> None:
        idp = self.server.idp
        req_data = self._request_data
        idp.devices[data["device_code"]] = DeviceCredentialDict(
            client_id=client_id,
            scope=scope,
            user_code=data["user_code"],
            expires_at=time.time() + idp.device_ttl,
            code_challenge=req_data.get("code_challenge"),
        )

    def create_endpoint_response(self, request: OAuth2Request):  # type: ignore[no-untyped-def]
        self._request_data = request.payload.data
        return super().create_endpoint_response(request)


class _DeviceGrant(DeviceCodeGrant):
    def query_device_credential(self, device_code: str) -> DeviceCredentialDict | None:
        cred = self.server.idp.devices.get(device_code)
        if cred is not None and cred.get("code_challenge"):
            # Qwen: the device request carried a PKCE challenge; the poll must prove the verifier.
            verifier = self.request.form.get("code_verifier") or ""
            if create_s256_code_challenge(verifier) != cred["code_challenge"]:
                return None
        return cred

    def query_user_grant(self, user_code: str) -> tuple[dict, bool] | None:
        return self.server.idp.user_grants.get(user_code)

    def should_slow_down(self, credential: DeviceCredentialDict) -> bool:
        return False


class _JWTBearer(JWTBearerGrant):
    def resolve_issuer_client(self, issuer: str) -> Client | None:
        return self.server.idp.clients.get(issuer)

    def resolve_client_public_key(self, client: Client) -> RSAKey | None:
        return client.public_key

    def authenticate_user(self, subject: str) -> dict | None:
        return None

    def has_granted_permission(self, client: Client, user: dict) -> bool:
        return False

    def get_audiences(self) -> list[str]:
        return [f"{self.server.idp.base_url}/oauth/token"]


class FakeIdP(ProviderFakes):
    def __init__(self) -> None:
        self.base_url = ""
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Grant] = {}
        self.access: dict[str, Grant] = {}
        self.refresh: dict[str, Grant] = {}
        self.devices: dict[str, DeviceCredentialDict] = {}
        self.user_grants: dict[str, tuple[dict, bool]] = {}
        self.codex_devices: dict[str, dict] = {}
        self.seen: list[Seen] = []
        self.consent = "approve"  # or "deny"
        self.user = {"email": "ann@example.com", "login": "ann-gh", "sub": "user-1"}
        self.expires_in = 3600
        self.device_ttl = 600.0
        self.copilot_ttl = 1800
        self.code_assist_project: str | None = None  # None: the account must be onboarded
        self.onboard_polls = 1
        self.issued: list[str] = []  # every secret the server handed out (for leak scans)
        self._server = _Server(self)
        self._server.register_grant(_AuthCode, [CodeChallenge(required=True)])
        self._server.register_grant(_Refresh)
        self._server.register_grant(_DeviceGrant)
        self._server.register_grant(_JWTBearer)
        self._server.register_endpoint(_DeviceEndpoint)
        self._runner: web.AppRunner | None = None
        self._register_provider_clients()

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> FakeIdP:
        app = web.Application()
        r = app.router
        r.add_get("/oauth/authorize", self._authorize)
        r.add_post("/oauth/token", self._token)
        r.add_post("/oauth/device/code", self._device_code)
        self.add_provider_routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        # Codex's device flow exchanges its code with this fixed redirect URI
        self.clients[DEFAULTS["codex"].client_id].exact_redirects = (f"{self.base_url}/deviceauth/callback",)
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _register_provider_clients(self) -> None:
        for name in ("claude", "codex", "gemini-cli", "copilot", "qwen"):
            ep = DEFAULTS[name]
            grant_types = ["authorization_code", "refresh_token"]
            if name in ("copilot", "qwen"):
                grant_types = [DEVICE, "refresh_token"] if name == "qwen" else [DEVICE]
            self.clients[ep.client_id] = Client(
                ep.client_id,
                secret=ep.client_secret,
                redirect_paths=(ep.redirect_path,),
                grant_types=tuple(grant_types),
            )

    def endpoints(self, provider: str) -> dict:
        """Overrides pointing one provider's endpoints at this server (port 0 = any free port)."""
        b = self.base_url
        common = {"token_url": f"{b}/oauth/token", "min_poll_interval": 0.02, "redirect_port": 0}
        return {
            "claude": {**common, "authorize_url": f"{b}/oauth/authorize"},
            "codex": {
                **common,
                "authorize_url": f"{b}/oauth/authorize",
                "device_code_url": f"{b}/api/accounts/deviceauth/usercode",
                "device_token_url": f"{b}/api/accounts/deviceauth/token",
                "device_redirect_uri": f"{b}/deviceauth/callback",
                "verification_url": f"{b}/codex/device",
            },
            "gemini-cli": {
                **common,
                "authorize_url": f"{b}/oauth/authorize",
                "userinfo_url": f"{b}/userinfo",
                "code_assist_url": f"{b}/v1internal",
                "operation_poll_interval": 0.02,
                "api_base": f"{b}/v1internal",
            },
            "copilot": {
                **common,
                "device_code_url": f"{b}/oauth/device/code",
                "userinfo_url": f"{b}/user",
                "exchange_url": f"{b}/copilot_internal/v2/token",
            },
            "qwen": {**common, "device_code_url": f"{b}/oauth/device/code"},
            "vertex": {"token_url": f"{b}/oauth/token"},
        }[provider]

    # -- the scripted user --------------------------------------------------------------------

    def approve_device(self, user_code: str, allow: bool = True) -> None:
        if user_code in self.codex_devices:
            self.codex_devices[user_code]["decision"] = allow
        else:
            self.user_grants[user_code] = (self.user, allow)

    def revoke_refresh_tokens(self) -> None:
        for rec in self.refresh.values():
            rec.revoked = True

    def add_service_account(self, client_email: str, public_key: RSAKey) -> None:
        self.clients[client_email] = Client(client_email, grant_types=(JWT_BEARER,), public_key=public_key)

    def generate_token(self, grant_type, client, user=None, scope=None, expires_in=None, include_refresh_token=True):  # type: ignore[no-untyped-def]
        token = {
            "token_type": "Bearer",
            "access_token": f"at-{secrets.token_urlsafe(24)}",
            "expires_in": self.expires_in,
            "scope": scope or "",
        }
        if include_refresh_token:
            token["refresh_token"] = f"rt-{secrets.token_urlsafe(24)}"
        cid = client.client_id
        if cid == DEFAULTS["claude"].client_id:
            token["account"] = {"uuid": "acc-1", "email_address": self.user["email"]}
        elif cid == DEFAULTS["codex"].client_id:
            token["id_token"] = unsigned_jwt(
                {
                    "email": self.user["email"],
                    "https://api.openai.com/auth": {
                        "chatgpt_account_id": "acct-123",
                        "chatgpt_plan_type": "plus",
                    },
                }
            )
        elif cid == DEFAULTS["qwen"].client_id:
            token["resource_url"] = "portal.qwen.example"
        self.issued += [v for k, v in token.items() if k in ("access_token", "refresh_token")]
        return token

    # -- HTTP handlers -------------------------------------------------------------------------

    async def _oauth_request(self, request: web.Request) -> AioOAuth2Request:
        form: dict = {}
        ctype = request.headers.get("Content-Type", "")
        if request.can_read_body:
            if ctype.startswith("application/json"):
                form = {k: str(v) for k, v in (await request.json()).items() if v is not None}
            else:
                form = dict(await request.post())
        self.seen.append(Seen(request.path, request.method, ctype, {**request.query, **form}, dict(request.headers)))
        return AioOAuth2Request(request.method, str(request.url), dict(request.headers), dict(request.query), form)

    async def _authorize(self, request: web.Request) -> web.Response:
        req = await self._oauth_request(request)
        try:
            grant = self._server.get_consent_grant(req, end_user=self.user)
        except OAuth2Error as error:
            return self._server.handle_error_response(req, error)
        user = self.user if self.consent == "approve" else None
        return self._server.create_authorization_response(req, grant_user=user, grant=grant)

    async def _token(self, request: web.Request) -> web.Response:
        req = await self._oauth_request(request)
        resp = self._server.create_token_response(req)
        if req.form.get("client_id") == DEFAULTS["copilot"].client_id and resp.status == 400:
            # GitHub answers device-flow errors with 200 and an error field
            return web.Response(status=200, text=resp.text, content_type="application/json")
        return resp

    async def _device_code(self, request: web.Request) -> web.Response:
        req = await self._oauth_request(request)
        return self._server.create_endpoint_response("device_authorization", req)

    def _bearer(self, request: web.Request, scheme: str = "Bearer") -> Grant | None:
        auth = request.headers.get("Authorization", "")
        prefix = f"{scheme} "
        rec = self.access.get(auth[len(prefix) :]) if auth.startswith(prefix) else None
        return rec if rec and not rec.is_expired() else None
