"""The environment for logins in tests: an encrypted-file secret store and a local OAuth server.

`login_env(home, idp)` is what both the engine and `proxypal-engine login` get: secrets in the
encrypted file under PROXYPAL_HOME (no OS keyring is ever touched) and every provider's OAuth
endpoints pointed at the test authorization server (tests/logins/oauth_server.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from proxy_engine.secrets.encrypted_file import EncryptedFileStore
from tests.logins.oauth_server import FakeIdP

PASSPHRASE = "tui-login-test-passphrase-7c1"
LOGINS = ("claude", "codex", "gemini-cli", "copilot", "qwen", "vertex")
REPO = Path(__file__).resolve().parents[2]


def login_env(home: Path, idp: FakeIdP | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROXYPAL_", "PYTHON_KEYRING"))}
    env |= {
        "PROXYPAL_HOME": str(home),
        "PROXYPAL_SECRET_BACKEND": "file",
        "PROXYPAL_PASSPHRASE": PASSPHRASE,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "PYTHONPATH": str(REPO),
    }
    if idp is not None:
        overrides = home / "auth-endpoints.json"
        overrides.parent.mkdir(parents=True, exist_ok=True)
        overrides.write_text(json.dumps({n: idp.endpoints(n) for n in LOGINS}))
        env["PROXYPAL_AUTH_ENDPOINTS"] = str(overrides)
    return env


def secrets_file_store(home: Path) -> EncryptedFileStore:
    return EncryptedFileStore(home / "data" / "secrets", passphrase=lambda: PASSPHRASE)
