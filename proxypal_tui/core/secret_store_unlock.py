"""Two ways past "the encrypted secrets file needs a passphrase" on a machine with no OS keyring.

A passphrase for this session lives only in the TUI's memory and reaches the engine and the login
runs through their environment (`PROXYPAL_PASSPHRASE`), never argv or disk. The opt-in key file is
made by the same command a user would run: `proxypal-engine auth keyfile`.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

PASSPHRASE_ENV = "PROXYPAL_PASSPHRASE"  # the engine's name (proxy_engine/secrets/encrypted_file.py)
KEYFILE_TIMEOUT_S = 60.0


def needs_passphrase(message: str) -> bool:
    """Whether a login's error is the file store asking for a passphrase it did not get."""
    return PASSPHRASE_ENV in message


def with_passphrase(env: dict[str, str] | None, passphrase: str) -> dict[str, str]:
    """The environment for engine and login runs, carrying the session's passphrase."""
    base = dict(os.environ) if env is None else dict(env)
    base[PASSPHRASE_ENV] = passphrase
    return base


@dataclass(frozen=True)
class KeyfileOutcome:
    ok: bool
    message: str


def keyfile_argv(cli: list[str], config: Path | None) -> list[str]:
    return [*cli, *(["--config", str(config)] if config else []), "auth", "keyfile"]


async def create_keyfile(cli: list[str], config: Path | None, env: dict[str, str] | None) -> KeyfileOutcome:
    """Run `proxypal-engine auth keyfile` (no terminal: it can never prompt) and say how it went."""
    proc = await asyncio.create_subprocess_exec(
        *keyfile_argv(cli, config),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), KEYFILE_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return KeyfileOutcome(False, "proxypal-engine auth keyfile did not finish in time")
    text = (out.decode("utf-8", "replace") + err.decode("utf-8", "replace")).strip()
    lines = [ln.removeprefix("error: ") for ln in text.splitlines() if ln.strip()]
    if proc.returncode == 0:
        return KeyfileOutcome(True, lines[0] if lines else "the key file is in use")
    return KeyfileOutcome(False, lines[-1] if lines else f"auth keyfile exited with code {proc.returncode}")
