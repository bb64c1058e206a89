"""Session affinity over a real pool and cooldown table (SQLite): sessions keep their credential while it is usable."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy_engine.credentials.affinity import SessionAffinity
from proxy_engine.credentials.cooldowns import CooldownStore
from proxy_engine.credentials.pool import Credential, CredentialPool

A, B = Credential("a"), Credential("b")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def pool(tmp_path: Path) -> CredentialPool:
    return CredentialPool("openai", [A, B], await CooldownStore.open(tmp_path / "data" / "usage.db"))


def _ids(affinity: SessionAffinity, pool: CredentialPool, session: str, turns: int) -> set[str]:
    return {affinity.pick(pool, session, "gpt-5").id for _ in range(turns)}


async def test_two_sessions_each_keep_their_own_credential_over_many_turns(pool: CredentialPool) -> None:
    affinity = SessionAffinity()
    first = {s: affinity.pick(pool, s, "gpt-5").id for s in ("s1", "s2")}
    assert first == {"s1": "a", "s2": "b"}, "the first pick is the pool's round-robin"
    for _ in range(20):
        assert affinity.pick(pool, "s1", "gpt-5").id == "a"
        assert pool.pick("gpt-5") is not None  # requests without a session keep rotating in between
        assert affinity.pick(pool, "s2", "gpt-5").id == "b"


async def test_without_a_session_the_pool_still_rotates(pool: CredentialPool) -> None:
    affinity = SessionAffinity()
    affinity.pick(pool, "s1", "gpt-5")
    assert [pool.pick("gpt-5").id for _ in range(4)] == ["b", "a", "b", "a"]


async def test_a_cooled_down_credential_moves_the_session_which_then_sticks_to_the_new_one(
    pool: CredentialPool,
) -> None:
    affinity = SessionAffinity()
    assert affinity.pick(pool, "s1", "gpt-5").id == "a"
    await pool.report(A, "gpt-5", 429, retry_after=60)
    assert _ids(affinity, pool, "s1", 10) == {"b"}
    await pool.clear("a")  # `a` is usable again, but the session's prompt cache now lives with `b`
    assert _ids(affinity, pool, "s1", 10) == {"b"}
    assert affinity.held("s1", "openai") == "b"


async def test_cooldowns_are_per_model_so_another_model_keeps_the_credential(pool: CredentialPool) -> None:
    affinity = SessionAffinity()
    assert affinity.pick(pool, "s1", "gpt-5").id == "a"
    await pool.report(A, "gpt-5", 503)
    assert affinity.pick(pool, "s1", "gpt-4o").id == "a"


async def test_a_credential_this_request_already_tried_is_not_picked_again(pool: CredentialPool) -> None:
    affinity = SessionAffinity()
    assert affinity.pick(pool, "s1", "gpt-5").id == "a"
    assert affinity.pick(pool, "s1", "gpt-5", exclude={"a"}).id == "b"  # failover within one request
    assert affinity.pick(pool, "s1", "gpt-5", exclude={"a", "b"}) is None
    assert affinity.pick(pool, "s1", "gpt-5").id == "b", "the session follows where it was served"


async def test_a_credential_gone_from_the_config_moves_the_session(pool: CredentialPool) -> None:
    affinity = SessionAffinity()
    assert affinity.pick(pool, "s1", "gpt-5").id == "a"
    pool.set_credentials([B])
    assert affinity.pick(pool, "s1", "gpt-5").id == "b"


async def test_every_credential_cooling_gives_none_and_keeps_nothing_new(pool: CredentialPool) -> None:
    affinity = SessionAffinity()
    await pool.report(A, "gpt-5", 429, retry_after=60)
    await pool.report(B, "gpt-5", 429, retry_after=60)
    assert affinity.pick(pool, "s1", "gpt-5") is None
    assert affinity.held("s1", "openai") is None


async def test_an_idle_session_is_forgotten(pool: CredentialPool) -> None:
    clock = Clock()
    affinity = SessionAffinity(idle_s=3600, clock=clock)
    assert affinity.pick(pool, "s1", "gpt-5").id == "a"
    clock.now += 3599
    assert affinity.pick(pool, "s1", "gpt-5").id == "a", "each use keeps the session alive"
    clock.now += 3601
    assert affinity.held("s1", "openai") is None
    assert affinity.pick(pool, "s1", "gpt-5").id == "b", "a forgotten session gets the pool's next pick"


async def test_the_map_is_bounded_least_recently_used_first(pool: CredentialPool) -> None:
    affinity = SessionAffinity(max_sessions=2)
    for s in ("s1", "s2", "s3"):
        affinity.pick(pool, s, "gpt-5")
    assert len(affinity) == 2
    assert affinity.held("s1", "openai") is None
    assert affinity.held("s3", "openai") is not None


async def test_sessions_are_kept_per_provider(tmp_path: Path) -> None:
    store = await CooldownStore.open(tmp_path / "data" / "usage.db")
    openai = CredentialPool("openai", [A, B], store)
    other = CredentialPool("other", [Credential("x"), Credential("y")], store)
    affinity = SessionAffinity()
    assert affinity.pick(openai, "s1", "m").id == "a"
    assert affinity.pick(other, "s1", "m").id == "x"
    assert (affinity.held("s1", "openai"), affinity.held("s1", "other")) == ("a", "x")
