"""The real-service fixtures start real servers."""

from __future__ import annotations

import pytest


@pytest.mark.redis
def test_redis_server_answers(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    assert client.ping() is True
    client.set("k", "v")
    assert client.get("k") == b"v"
    client.close()


@pytest.mark.postgres
def test_postgres_server_answers(postgres_dsn: str) -> None:
    import psycopg

    with psycopg.connect(postgres_dsn) as conn:
        assert conn.execute("select 1 + 1").fetchone() == (2,)
