"""Whether the replicas share hot state through Redis (issue #14, branch `teamredis`) and member keys
(branch `members`): the tests that need them skip, with the reason, until they are in the engine."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from typing import Any

import pytest

from tests.engine_harness import EngineProcess


def redis_state(status: dict[str, Any]) -> object:
    """The Redis health an engine reports in /v0/status (top level or under `team`), or None."""
    team = status.get("team")
    return status.get("redis") or (team.get("redis") if isinstance(team, dict) else None)


def needs_shared_state(replica: EngineProcess | None = None) -> None:
    """Skip unless the engine has the Redis shared state; with a replica, unless that replica reports it."""
    built = importlib.util.find_spec("proxy_engine.team_state") is not None
    if not built or (replica is not None and redis_state(replica.api("GET", "/v0/status").json()) is None):
        pytest.skip("Redis shared state (spend reserve, limiters, live cooldowns) is not in this engine yet: "
                    "no proxy_engine.team_state, or /v0/status reports no redis health "
                    "(issue #14, branch teamredis)")  # fmt: skip


def member_keys_available() -> bool:
    r = subprocess.run([sys.executable, "-m", "proxy_engine", "keys", "--help"], capture_output=True, timeout=60)
    return r.returncode == 0


def needs_member_keys() -> None:
    if not member_keys_available():
        pytest.skip("member keys (`proxypal-engine keys create/revoke`) are not in this engine yet "
                    "(issue #14, branch members)")  # fmt: skip
