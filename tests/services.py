"""Real Redis and PostgreSQL servers for tests, started on 127.0.0.1 in a temporary directory.

Each server is started once per test session on a free port and stopped at the end. When the
binaries are missing the tests that need them are skipped locally, but fail under CI (``CI=true``),
where ``.ci/run`` installs them: a green CI never hides a backend that was not tested.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["postgres_dsn", "postgres_server", "redis_server", "redis_url"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not installed; .ci/run must install it")
    pytest.skip(f"{what} is not installed")


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port}")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A real redis-server for the session; yields its base URL ``redis://127.0.0.1:PORT``."""
    exe = shutil.which("redis-server")
    if exe is None:
        _missing("redis-server")
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="costroute-redis-") as tmp:
        proc = subprocess.Popen(
            [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", tmp],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for_port(port, proc, "redis-server")
            yield f"redis://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(10)


@pytest.fixture()
def redis_url(redis_server: str) -> str:
    """An empty Redis database (flushed before the test)."""
    import redis

    client = redis.Redis.from_url(redis_server + "/0")
    client.flushall()
    client.close()
    return redis_server + "/0"


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _as_postgres_user() -> list[str]:
    """initdb and postgres refuse to run as root: run them as the ``postgres`` system user."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    return [runuser, "-u", "postgres", "--"] if runuser else ["su", "postgres", "-c"]


def _wait_for_postgres(dsn: str) -> None:
    """An open port is not enough: a busy machine can still answer "the database system is
    starting up". Wait until a connection succeeds."""
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            psycopg.connect(dsn, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL cluster for the session; yields a DSN to its ``postgres`` database."""
    bindir = _pg_bin()
    if bindir is None:
        _missing("PostgreSQL")
    port = _free_port()
    tmp = tempfile.mkdtemp(prefix="costroute-pg-")
    prefix = _as_postgres_user()
    if prefix:
        shutil.chown(tmp, "postgres", "postgres")
    data = os.path.join(tmp, "data")
    subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", data, "-U", "costroute", "--auth=trust", "-E", "UTF8"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    proc = subprocess.Popen(
        [*prefix, str(bindir / "postgres"), "-D", data, "-p", str(port), "-c",
         "listen_addresses=127.0.0.1", "-k", tmp, "-c", "fsync=off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, proc, "postgres")
        dsn = f"postgresql://costroute@127.0.0.1:{port}/postgres"
        _wait_for_postgres(dsn)
        yield dsn
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture()
def postgres_dsn(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the session's PostgreSQL server, dropped after the test."""
    import uuid

    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = postgres_server.rsplit("/", 1)[0] + "/" + name
    yield dsn
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
