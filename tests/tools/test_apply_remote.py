"""`proxypal-tui tools apply NAME --url URL --key KEY`: point a tool at a team gateway with a member key,
as a real subprocess; the local ProxyPal config is left alone."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from tests.tools.test_cli import env, run  # noqa: F401  (env is a fixture, found by name)

KEY = "ppk_member-key-for-tests-0123456789"


def test_apply_points_tools_at_a_gateway_with_a_member_key(env: dict[str, str]) -> None:  # noqa: F811
    config = Path(env["PROXYPAL_HOME"], "config.yaml")
    before = config.read_text()
    r = run(env, "apply", "claude-code", "--url", "https://gw.example.com", "--key", KEY)
    assert r.returncode == 0, r.stderr
    assert "Pointed Claude Code at https://gw.example.com." in r.stdout
    assert KEY not in r.stdout, "the diff masks the key"
    claude = json.loads(Path(env["HOME"], ".claude", "settings.json").read_text())["env"]
    assert claude == {"ANTHROPIC_BASE_URL": "https://gw.example.com", "ANTHROPIC_AUTH_TOKEN": KEY}
    r = run(env, "apply", "codex", "--url", "http://10.1.2.3:8401", "--key", KEY)
    assert r.returncode == 0, r.stderr
    codex = tomllib.loads(Path(env["HOME"], ".codex", "config.toml").read_text())
    assert "http://10.1.2.3:8401/v1" in json.dumps(codex)
    assert config.read_text() == before, "no client key is added to the local config"


def test_apply_refuses_a_url_it_cannot_use(env: dict[str, str]) -> None:  # noqa: F811
    for args, said in ((("--url", "https://gw.example.com"), "--url needs --key"),
                       (("--url", "https://gw.example.com/proxy", "--key", KEY), "without a path"),
                       (("--url", "ftp://gw.example.com", "--key", KEY), "http(s)://HOST"),
                       (("--key", "two words"), "without spaces")):  # fmt: skip
        r = run(env, "apply", "claude-code", *args)
        assert r.returncode == 1 and said in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not Path(env["HOME"], ".claude", "settings.json").exists()
