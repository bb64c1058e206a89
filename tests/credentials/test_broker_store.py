"""The broker opens the secret store only when something needs it: a provider served by stored logins,
`/v0/auth/status`, or `/v0/auth/reload`. An API-key proxy never loads keyring and its backends (about
10 MiB and a D-Bus probe). Each case runs in a fresh interpreter, so `sys.modules` tells what was loaded."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from proxy_engine.config import LoadedConfig, parse_config_text
    from proxy_engine.credentials.broker import CredentialBroker
    from proxy_engine.paths import Paths
    from proxy_engine.runtime import build_runtime

    KEYS = "providers:\\n  openai: {api_key: env:STORE_TEST_KEY}\\n"
    LOGINS = KEYS + "  claude: {kind: anthropic, auth: oauth}\\n"

    def runtime(text):
        return build_runtime(LoadedConfig(parse_config_text(text), None, text), "127.0.0.1")

    async def main(home, case):
        paths = Paths(home / "config.yaml", home / "data", home / "state", home / "run")
        paths.ensure()
        rt = [runtime(LOGINS if case == "logins" else KEYS)]
        broker = CredentialBroker(paths, lambda: rt[0], lambda ev: None)
        await broker.open()
        print("at start:", "keyring" in sys.modules, broker.refresher is not None)
        if case == "status":
            await broker.ensure_store()
        elif case == "reload":
            rt[0] = runtime(LOGINS)
            broker.sync()
            await broker.ensure_store()
        elif case == "auth_reload":
            print("logins:", await broker.reload_logins())
        print("after:", "keyring" in sys.modules, broker.refresher is not None, broker.status()["store"]["backend"])
        await broker.close()

    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
    """
)


def _run(tmp_path: Path, case: str) -> list[str]:
    env = dict(os.environ, PROXYPAL_HOME=str(tmp_path), STORE_TEST_KEY="sk-test",
               PROXYPAL_SECRET_BACKEND="file", PROXYPAL_PASSPHRASE="correct horse")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), case], env=env, capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_an_api_key_proxy_does_not_open_the_store_until_auth_status_asks(tmp_path: Path) -> None:
    start, after = _run(tmp_path, "status")
    assert start == "at start: False False", "no provider uses a login: keyring is not loaded"
    assert after.startswith("after: True True encrypted file"), after


def test_a_provider_served_by_logins_opens_the_store_at_start(tmp_path: Path) -> None:
    start, _after = _run(tmp_path, "logins")
    assert start == "at start: True True"


def test_a_reload_that_adds_a_login_provider_opens_the_store(tmp_path: Path) -> None:
    start, after = _run(tmp_path, "reload")
    assert start == "at start: False False"
    assert after.startswith("after: True True encrypted file"), after


def test_auth_reload_opens_the_store_and_reads_the_logins(tmp_path: Path) -> None:
    start, count, after = _run(tmp_path, "auth_reload")
    assert start == "at start: False False"
    assert count == "logins: 0" and after.startswith("after: True True encrypted file"), after
