"""The headless pieces behind the Providers screen: the credential board and the login command lines."""

from __future__ import annotations

import sys
from pathlib import Path

from proxy_engine.protocol import AuthChanged, CredentialCooldown
from proxypal_tui.core.credentials import CredentialBoard
from proxypal_tui.core.login import LoginEvent, LoginRequest
from proxypal_tui.screens.providers import cooldown_cell, logout_request
from tests.tui.feed_script import FIXED_NOW, STORE, demo_providers

NOW = FIXED_NOW


def board() -> CredentialBoard:
    b = CredentialBoard()
    b.load({"store": STORE, "providers": demo_providers(NOW)})
    return b


def test_load_reads_store_states_and_cooldowns() -> None:
    b = board()
    assert b.loaded and b.loads == 1 and b.store.backend.startswith("encrypted file")
    assert [c.key for c in b.credentials()] == [
        "anthropic/keyring:anthropic",
        "claude/ann@example.com",
        "gemini/keyring:gemini",
        "openai/env:OPENAI_API_KEY",
    ]
    openai = b.find("openai/env:OPENAI_API_KEY")
    assert openai is not None and openai.shown_state(NOW) == "cooling"
    assert [c.model for c in openai.active_cooldowns(NOW)] == ["gpt-4o", "gpt-4o-mini"]
    assert cooldown_cell(openai, NOW) == "gpt-4o 45s +1"
    # Time passes: the first cooldown ends, then the second; the state follows.
    assert cooldown_cell(openai, NOW + 60) == "gpt-4o-mini 4m00s"
    assert openai.shown_state(NOW + 301) == "valid" and cooldown_cell(openai, NOW + 301) == ""


def test_events_update_the_board_and_login_events_reach_the_providers_that_use_the_login() -> None:
    b = board()
    version = b.version
    b.cooldown_started(
        CredentialCooldown(provider="gemini", credential="keyring:gemini", model="m1", until=NOW + 10, reason="429")
    )
    gemini = b.find("gemini/keyring:gemini")
    assert gemini is not None and gemini.cooldowns["m1"].until == NOW + 10 and b.version == version + 1
    assert not b.stale
    # The refresher names the login ("claude"), not the config provider; here they match by `login`.
    b.auth_changed(
        AuthChanged(provider="claude", credential="ann@example.com", state="error", message="refresh failed")
    )
    claude = b.find("claude/ann@example.com")
    assert claude is not None and claude.state == "error" and claude.message == "refresh failed"
    assert b.stale  # the app reloads the whole status after an auth change
    b.stale = False
    b.cooldown_started(CredentialCooldown(provider="nobody", credential="x", model="m", until=NOW + 5))
    assert b.stale and "nobody" not in b.providers  # unknown: reload, never invent a row


def test_malformed_answers_do_not_break_the_board() -> None:
    b = CredentialBoard()
    b.load({"providers": [{"name": "p", "credentials": [{"id": "c", "cooldowns": [{"model": "m"}, "junk"]}]}, 7]})
    cred = b.find("p/c")
    assert cred is not None and cred.cooldowns == {} and cred.state == "unknown" and b.store.backend == ""


def test_login_command_lines_never_carry_a_secret(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "proxy_engine"]
    cfg = tmp_path / "config.yaml"
    assert LoginRequest("copilot", "device").argv(cli, cfg)[3:] == ["--config", str(cfg), "login", "copilot", "--json"]
    assert LoginRequest("codex", "device").argv(cli, None)[-1] == "--device"
    assert LoginRequest("claude", "paste").argv(cli, None)[-1] == "--no-browser"
    key = LoginRequest("gemini", "api_key", name="gemini").argv(cli, None)
    assert key[-4:] == ["--json", "--api-key-stdin", "--name", "gemini"]
    assert LoginRequest("codex", "logout", label="ann@example.com").argv(cli, None)[-4:] == [
        "codex", "--json", "--label", "ann@example.com",
    ]  # fmt: skip
    assert LoginRequest("gemini", "logout_key").argv(cli, None)[-3:] == ["gemini", "--json", "--api-key"]


def test_login_lines_parse_and_anything_else_is_ignored() -> None:
    ev = LoginEvent.parse('{"type":"device_code","user_code":"AB-12","verification_uri":"https://x/device"}\n')
    assert ev is not None and ev.type == "device_code" and ev.get("user_code") == "AB-12" and not ev.final
    assert LoginEvent.parse('{"type":"done","provider":"copilot"}').final  # type: ignore[union-attr]
    for junk in ("Waiting for approval...", "[1, 2]", '{"no_type": 1}', ""):
        assert LoginEvent.parse(junk) is None


def test_logout_targets() -> None:
    b = board()
    claude, anthropic, openai = (b.find(k) for k in ("claude/ann@example.com", "anthropic/keyring:anthropic",
                                                     "openai/env:OPENAI_API_KEY"))  # fmt: skip
    login = logout_request(b.providers["claude"], claude)
    assert login == LoginRequest("claude", "logout", label="ann@example.com")
    assert logout_request(b.providers["anthropic"], anthropic) == LoginRequest("anthropic", "logout_key")
    assert logout_request(b.providers["openai"], openai) is None  # env: keys belong to the environment


def test_a_request_started_and_finished_in_one_batch_is_not_built_twice() -> None:
    from proxypal_tui.core.state import LiveState
    from tests.tui.feed_script import record

    live = LiveState()
    done = record(1) | {"id": "a"}
    batch = [
        {"type": "request.started", "id": "a", "ts": 1.0},
        {"type": "request.started", "id": "b", "ts": 2.0},
        {"type": "request.finished", **done},
    ]
    version = live.feed.version
    live.apply(batch)
    assert live.feed.version == version + 2  # b started, a finished: a's start was skipped
    assert [(r.id, r.status) for r in live.feed.newest_first()] == [("b", None), ("a", 200)]
    assert live.events_seen == 3
    live.apply([{"type": "request.finished", **record(2), "id": "b"}])  # a batch of one: handled as is
    assert live.feed.get("b").status == record(2)["status"]  # type: ignore[union-attr]
