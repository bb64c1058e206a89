"""pytest fixtures for real PostgreSQL and Redis servers (registered suite-wide by `tests/conftest.py`).

- `postgres_server` / `redis_server` (session): one server each for the whole run, started on first use,
  stopped by PID at the end. A test that stops one mid-test (a fault test) leaves it to the next
  function fixture, which starts it again.
- `postgres_url` (function): a fresh empty database on that server. `redis_url` (function): the
  server flushed empty.
- `postgres_factory` / `redis_factory` (function): extra servers of a test's own, stopped after it.
Missing binaries skip the test with the reason; a server that fails to start fails it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.servers.binaries import MISSING_POSTGRES, MISSING_REDIS, postgres_bin_dir, redis_server_bin
from tests.servers.postgres import PostgresServer
from tests.servers.redis import RedisServer


def _need_postgres() -> None:
    if postgres_bin_dir() is None:
        pytest.skip(MISSING_POSTGRES)


def _need_redis() -> None:
    if redis_server_bin() is None:
        pytest.skip(MISSING_REDIS)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    _need_postgres()
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    postgres_server.ensure_running()
    return postgres_server.create_database()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    _need_redis()
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.ensure_running()
    redis_server.flush_all()
    return redis_server.url


@pytest.fixture
def postgres_factory() -> Iterator[Callable[[], PostgresServer]]:
    _need_postgres()
    made: list[PostgresServer] = []

    def make() -> PostgresServer:
        server = PostgresServer()
        made.append(server)
        server.start()
        return server

    yield make
    for s in made:
        s.close()


@pytest.fixture
def redis_factory() -> Iterator[Callable[[], RedisServer]]:
    _need_redis()
    made: list[RedisServer] = []

    def make() -> RedisServer:
        server = RedisServer()
        made.append(server)
        server.start()
        return server

    yield make
    for s in made:
        s.close()
