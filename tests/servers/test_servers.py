"""Smoke checks of the server fixtures themselves: each answers, survives a stop/start, and is private."""

from __future__ import annotations

import os
import stat

import asyncpg
import pytest
import redis.asyncio as aioredis
import redis.exceptions


async def test_postgres_round_trip_and_restart_keep_data(postgres_server, postgres_url):
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute("CREATE TABLE t (v int)")
        await conn.execute("INSERT INTO t VALUES (41)")
    finally:
        await conn.close()
    postgres_server.stop()
    assert not postgres_server.running
    with pytest.raises((OSError, asyncpg.PostgresError)):
        await asyncpg.connect(postgres_url, timeout=2)
    postgres_server.start()
    conn = await asyncpg.connect(postgres_url)
    try:
        assert await conn.fetchval("SELECT v + 1 FROM t") == 42
        # Under root the cluster runs as an unprivileged user, never as root.
        assert await conn.fetchval("SELECT current_setting('listen_addresses')") == "127.0.0.1"
    finally:
        await conn.close()
    mode = stat.S_IMODE(os.stat(postgres_server.data).st_mode)
    assert mode & 0o077 == 0, oct(mode)
    if os.geteuid() == 0:
        assert os.stat(postgres_server.data).st_uid != 0


async def test_each_postgres_url_is_a_fresh_database(postgres_server):
    a, b = postgres_server.create_database(), postgres_server.create_database()
    assert a != b
    conn = await asyncpg.connect(a)
    try:
        await conn.execute("CREATE TABLE only_in_a (v int)")
    finally:
        await conn.close()
    conn = await asyncpg.connect(b)
    try:
        assert await conn.fetchval("SELECT to_regclass('only_in_a')") is None
    finally:
        await conn.close()


async def test_redis_round_trip_stop_start_and_flush(redis_server, redis_url):
    client = aioredis.from_url(redis_url)
    try:
        assert await client.incrby("n", 2) == 2
        redis_server.stop()
        with pytest.raises(redis.exceptions.ConnectionError):
            await client.get("n")
        redis_server.start()
        assert await client.get("n") is None  # nothing is saved across a restart
        await client.set("n", "1")
        redis_server.flush_all()
        assert await client.get("n") is None
    finally:
        await client.aclose()
