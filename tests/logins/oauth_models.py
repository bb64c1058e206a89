"""Records the test authorization server keeps: registered clients, codes and tokens, seen requests."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from joserfc.jwk import RSAKey

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEVICE = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass
class Client:
    client_id: str
    secret: str | None = None  # None = public client (auth method "none")
    redirect_paths: tuple[str, ...] = ()
    exact_redirects: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token")
    public_key: RSAKey | None = None  # JWT-bearer issuers

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        if redirect_uri in self.exact_redirects:
            return True
        parts = urlsplit(redirect_uri)
        # RFC 8252 s7.3: any port on a loopback redirect is acceptable
        return (
            parts.scheme == "http"
            and parts.hostname in {"localhost", "127.0.0.1"}
            and (parts.path in self.redirect_paths)
        )

    def check_client_secret(self, client_secret: str) -> bool:
        return self.secret is not None and secrets.compare_digest(client_secret, self.secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == ("client_secret_post" if self.secret else "none")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass
class Grant:
    """An authorization code, refresh token or access token record."""

    client_id: str
    user: dict
    scope: str = ""
    redirect_uri: str = ""
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    expires_at: float = 0.0
    revoked: bool = False

    # authorization-code mixin
    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    # token mixin
    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def is_expired(self) -> bool:
        return time.time() > self.expires_at

    def is_revoked(self) -> bool:
        return self.revoked


@dataclass
class Seen:
    path: str
    method: str
    content_type: str
    params: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
