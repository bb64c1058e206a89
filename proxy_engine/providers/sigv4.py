"""AWS Signature Version 4 for Bedrock runtime calls, done by botocore (an optional extra).

Resolving credentials may read files, run `credential_process` or call STS/SSO, so it blocks:
`load_credentials` is meant for a worker thread. Signing is pure and cheap: `sign` runs on the event
loop with already-frozen credentials.

Send the request to exactly the URL that was signed, without re-normalising it: with aiohttp that is
`yarl.URL(url, encoded=True)`, because yarl would otherwise decode `%3A` in model ids such as
`...-v1%3A0`, and AWS would then compute its signature over a different path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from urllib.parse import quote

SERVICE = "bedrock"
INSTALL_HINT = "AWS Bedrock needs botocore: pip install 'proxypal[bedrock]'"


class BedrockAuthError(Exception):
    """No usable AWS credentials (or botocore is missing); the message says what to do, never a secret."""


@dataclass(frozen=True)
class AwsCredentials:
    """A frozen set of AWS credentials; `expires_at` (epoch s) is None for long-lived keys."""

    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)
    expires_at: float | None = None
    method: str = ""  # where botocore found them: env, shared-credentials-file, sso, assume-role...

    def expiring(self, within_s: float = 300.0, now: float | None = None) -> bool:
        """True when these should be re-loaded before the next request."""
        if self.expires_at is None:
            return False
        return self.expires_at - (time.time() if now is None else now) <= within_s


def _botocore() -> ModuleType:
    try:
        import botocore.auth
        import botocore.awsrequest
        import botocore.exceptions
        import botocore.session
    except ImportError as exc:
        raise BedrockAuthError(INSTALL_HINT) from exc
    return botocore


def bedrock_endpoint(region: str) -> str:
    return f"https://bedrock-runtime.{region}.amazonaws.com"


def bedrock_url(base: str, model_id: str, stream: bool) -> str:
    """`{base}/model/{model id, fully percent-encoded}/converse` (or `/converse-stream`)."""
    action = "converse-stream" if stream else "converse"
    return f"{base.rstrip('/')}/model/{quote(model_id, safe='')}/{action}"


def bedrock_count_url(base: str, model_id: str) -> str:
    """`{base}/model/{model id, fully percent-encoded}/count-tokens` (the CountTokens operation)."""
    return f"{base.rstrip('/')}/model/{quote(model_id, safe='')}/count-tokens"


def load_credentials(profile: str | None = None) -> AwsCredentials:
    """The standard AWS chain (env, ~/.aws files, SSO, process, container/instance roles). Blocking."""
    bc = _botocore()
    try:
        session = bc.session.Session(profile=profile or None)
        creds = session.get_credentials()
    except bc.exceptions.BotoCoreError as exc:
        # botocore's messages name profiles and files, not secrets.
        raise BedrockAuthError(f"AWS credentials could not be loaded: {exc}") from exc
    if creds is None:
        where = f"profile {profile!r}" if profile else "the default AWS credential chain"
        raise BedrockAuthError(f"no AWS credentials found in {where}")
    try:
        frozen = creds.get_frozen_credentials()
    except bc.exceptions.BotoCoreError as exc:
        raise BedrockAuthError(f"AWS credentials could not be refreshed: {exc}") from exc
    expiry = getattr(creds, "_expiry_time", None)  # set only on refreshable (temporary) credentials
    expires_at = expiry.timestamp() if isinstance(expiry, datetime) else None
    return AwsCredentials(
        access_key=frozen.access_key,
        secret_key=frozen.secret_key,
        token=frozen.token,
        expires_at=expires_at,
        method=str(getattr(creds, "method", "") or ""),
    )


def sign(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    credentials: AwsCredentials,
    region: str,
) -> dict[str, str]:
    """The headers to send: `headers` plus X-Amz-Date, X-Amz-Security-Token (if any) and Authorization.

    Every header passed in is signed, so pass only what will be sent unchanged (Content-Type, Accept);
    Host is taken from the URL.
    """
    bc = _botocore()
    request = bc.awsrequest.AWSRequest(method=method.upper(), url=url, data=body, headers=dict(headers))
    bc.auth.SigV4Auth(credentials, SERVICE, region).add_auth(request)
    return {str(k): str(v) for k, v in request.headers.items()}
