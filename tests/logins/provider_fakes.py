"""The provider-specific endpoints a login touches besides OAuth itself, in each provider's wire shape:
Google userinfo, GitHub /user, the Copilot session-token exchange, Codex's device flow, and Code
Assist's loadCodeAssist/onboardUser long-running operation. Mixed into `FakeIdP`.
"""

from __future__ import annotations

import base64
import json
import secrets
import time

from aiohttp import web
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from proxy_engine.logins.endpoints import DEFAULTS
from tests.logins.oauth_models import Grant, Seen


class ProviderFakes:
    """Handlers that read the FakeIdP's token tables (`self.access`, `self.codes`, ...)."""

    def add_provider_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/userinfo", self._userinfo)
        r.add_get("/user", self._github_user)
        r.add_get("/copilot_internal/v2/token", self._copilot_token)
        r.add_post("/api/accounts/deviceauth/usercode", self._codex_usercode)
        r.add_post("/api/accounts/deviceauth/token", self._codex_poll)
        r.add_post("/v1internal:loadCodeAssist", self._load_code_assist)
        r.add_post("/v1internal:onboardUser", self._onboard_user)
        r.add_get("/v1internal/operations/{name}", self._operation)

    async def _userinfo(self, request: web.Request) -> web.Response:
        if not self._bearer(request):
            return web.json_response({"error": "invalid_token"}, status=401)
        return web.json_response({"email": self.user["email"], "verified_email": True})

    async def _github_user(self, request: web.Request) -> web.Response:
        if not self._bearer(request):
            return web.json_response({"message": "Bad credentials"}, status=401)
        return web.json_response({"login": self.user["login"], "id": 1})

    async def _copilot_token(self, request: web.Request) -> web.Response:
        self.seen.append(Seen(request.path, "GET", "", {}, dict(request.headers)))
        rec = self._bearer(request, scheme="token")
        if rec is None or rec.revoked:
            return web.json_response({"message": "Bad credentials"}, status=401)
        token = f"tid=copilot;exp={secrets.token_hex(16)}"
        self.issued.append(token)
        self.access[token] = Grant(rec.client_id, rec.user, expires_at=time.time() + self.copilot_ttl)
        return web.json_response(
            {
                "token": token,
                "expires_at": int(time.time() + self.copilot_ttl),
                "refresh_in": self.copilot_ttl - 300,
                "endpoints": {"api": f"{self.base_url}/copilot-api"},
            }
        )

    async def _codex_usercode(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.seen.append(Seen(request.path, "POST", request.content_type, body, dict(request.headers)))
        if body.get("client_id") != DEFAULTS["codex"].client_id:
            return web.json_response({"error": "invalid_client"}, status=400)
        user_code = f"{secrets.token_hex(2).upper()}-{secrets.token_hex(2).upper()}"
        device_auth_id = f"deviceauth_{secrets.token_hex(8)}"
        self.codex_devices[user_code] = {"id": device_auth_id, "decision": None}
        return web.json_response({"device_auth_id": device_auth_id, "user_code": user_code, "interval": "0"})

    async def _codex_poll(self, request: web.Request) -> web.Response:
        body = await request.json()
        dev = self.codex_devices.get(body.get("user_code", ""))
        if not dev or dev["id"] != body.get("device_auth_id"):
            return web.json_response({"error": "invalid_request"}, status=400)
        if not dev["decision"]:
            return web.json_response({"error": {"message": "pending"}}, status=404 if dev["decision"] is None else 403)
        verifier = secrets.token_urlsafe(48)
        code = secrets.token_urlsafe(24)
        self.codes[code] = Grant(
            DEFAULTS["codex"].client_id,
            self.user,
            "openid profile email offline_access",
            f"{self.base_url}/deviceauth/callback",
            create_s256_code_challenge(verifier),
            "S256",
            expires_at=time.time() + 300,
        )
        return web.json_response(
            {
                "authorization_code": code,
                "code_verifier": verifier,
                "code_challenge": create_s256_code_challenge(verifier),
            }
        )

    async def _load_code_assist(self, request: web.Request) -> web.Response:
        if not self._bearer(request):
            return web.json_response({"error": {"code": 401, "message": "unauthenticated"}}, status=401)
        body = await request.json()
        self.seen.append(Seen(request.path, "POST", request.content_type, body, {}))
        if self.code_assist_project:
            return web.json_response(
                {"currentTier": {"id": "standard-tier"}, "cloudaicompanionProject": self.code_assist_project}
            )
        return web.json_response({"allowedTiers": [{"id": "free-tier", "isDefault": True}]})

    async def _onboard_user(self, request: web.Request) -> web.Response:
        if not self._bearer(request):
            return web.json_response({"error": {"code": 401}}, status=401)
        body = await request.json()
        self.seen.append(Seen(request.path, "POST", request.content_type, body, {}))
        if body.get("tierId") == "free-tier" and body.get("cloudaicompanionProject"):
            return web.json_response({"error": {"message": "Precondition Failed"}}, status=400)
        return web.json_response({"name": "operations/onboard-1", "done": False})

    async def _operation(self, request: web.Request) -> web.Response:
        if not self._bearer(request):
            return web.json_response({"error": {"code": 401}}, status=401)
        self.onboard_polls -= 1
        if self.onboard_polls > 0:
            return web.json_response({"name": "operations/onboard-1", "done": False})
        return web.json_response(
            {
                "name": "operations/onboard-1",
                "done": True,
                "response": {"cloudaicompanionProject": {"id": "managed-42"}},
            }
        )


def unsigned_jwt(claims: dict) -> str:
    def enc(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{enc({'alg': 'none'})}.{enc(claims)}."
