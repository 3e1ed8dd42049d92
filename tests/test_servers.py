"""The test servers themselves: PostgreSQL as root via the postgres user, and moto S3."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import sqlalchemy as sa
from botocore.exceptions import ClientError, EndpointConnectionError

try:
    from s3_server import S3Server, aws_test_env
    from servers import PostgresServer
except ImportError:  # tests/ became a package
    from tests.s3_server import S3Server, aws_test_env
    from tests.servers import PostgresServer


# -- PostgreSQL -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


def _scalar(dsn: str, query: str) -> object:
    conn = psycopg2.connect(dsn, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return cur.fetchone()[0]
    finally:
        conn.close()


def test_postgres_runs_as_postgres_user_with_fsync_off(pg: PostgresServer) -> None:
    assert pg.host == "127.0.0.1"
    assert pg.port > 0
    assert pg.base_dir is not None
    assert not str(pg.base_dir).startswith(os.getcwd() + os.sep)
    pid_file = pg.data_dir / "postmaster.pid"
    assert pid_file.exists()
    if os.geteuid() == 0:
        postgres_uid = pwd.getpwnam("postgres").pw_uid
        assert pid_file.stat().st_uid == postgres_uid
        pid = int(pid_file.read_text().split("\n", 1)[0])
        assert os.stat(f"/proc/{pid}").st_uid == postgres_uid
    assert _scalar(pg.dsn(), "SHOW fsync") == "off"
    assert _scalar(pg.dsn(), "SHOW synchronous_commit") == "off"
    assert _scalar(pg.dsn(), "SHOW full_page_writes") == "off"
    assert str(_scalar(pg.dsn(), "SHOW server_version")).startswith("15.")


def test_create_database_and_sqlalchemy_roundtrip(pg: PostgresServer) -> None:
    url = pg.create_database("roundtrip")
    assert url == f"postgresql+psycopg2://postgres@127.0.0.1:{pg.port}/roundtrip"
    assert pg.url("roundtrip") == url
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE notes (id serial PRIMARY KEY, body text)"))
            conn.execute(sa.text("INSERT INTO notes (body) VALUES (:b)"), [{"b": "a"}, {"b": "é"}])
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT body FROM notes ORDER BY id")).scalars().all()
        assert rows == ["a", "é"]
    finally:
        engine.dispose()


def test_pause_makes_connections_fail_and_resume_brings_data_back(pg: PostgresServer) -> None:
    url = pg.create_database("outage")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE kv (k text PRIMARY KEY, v text)"))
            conn.execute(sa.text("INSERT INTO kv VALUES ('answer', '42')"))
        held = psycopg2.connect(pg.dsn("outage"), connect_timeout=5)
        port, data_dir = pg.port, pg.data_dir

        pg.pause()
        # A connection open across the outage: "server closed the connection unexpectedly".
        with pytest.raises(psycopg2.OperationalError), held.cursor() as cur:
            cur.execute("SELECT 1")
        held.close()
        # A new connection: "Connection refused".
        with pytest.raises(psycopg2.OperationalError, match="refused"):
            psycopg2.connect(pg.dsn("outage"), connect_timeout=2)
        # SQLAlchemy wraps it (pooled connection first, then a fresh one: both the same class).
        for _ in range(2):
            with pytest.raises(sa.exc.OperationalError) as info, engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            assert isinstance(info.value.orig, psycopg2.OperationalError)

        pg.resume()
        assert (pg.port, pg.data_dir) == (port, data_dir)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT v FROM kv")).scalar_one() == "42"

        pg.restart()
        assert pg.port == port
        assert _scalar(pg.dsn("outage"), "SELECT count(*) FROM kv") == 1
    finally:
        engine.dispose()


def test_stop_removes_everything_and_is_idempotent(pg: PostgresServer) -> None:
    server = PostgresServer().start()
    base = server.base_dir
    assert base is not None and base.is_dir()
    assert server.port != pg.port
    assert _scalar(server.dsn(), "SELECT 1") == 1
    server.stop()
    assert not base.exists()
    server.stop()
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(server.dsn(), connect_timeout=2)


# -- S3 ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


@pytest.fixture
def bucket(s3: S3Server) -> str:
    # moto's state is process-wide: a fresh bucket per test keeps the tests independent.
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(name)
    return name


def _error(exc: ClientError) -> tuple[str, int]:
    return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]


def test_s3_put_and_get(s3: S3Server, bucket: str) -> None:
    assert s3.endpoint_url == f"http://127.0.0.1:{s3.port}"
    client = s3.client()
    client.put_object(Bucket=bucket, Key="a/b.json", Body=b'{"x": 1}')
    assert client.get_object(Bucket=bucket, Key="a/b.json")["Body"].read() == b'{"x": 1}'
    listed = client.list_objects_v2(Bucket=bucket, Prefix="a/")["Contents"]
    assert [o["Key"] for o in listed] == ["a/b.json"]


def test_s3_conditional_writes_are_enforced(s3: S3Server, bucket: str) -> None:
    client = s3.client()
    first = client.put_object(Bucket=bucket, Key="k", Body=b"1", IfNoneMatch="*")

    with pytest.raises(ClientError) as info:
        client.put_object(Bucket=bucket, Key="k", Body=b"2", IfNoneMatch="*")
    assert _error(info.value) == ("PreconditionFailed", 412)
    assert info.value.response["Error"].get("Condition") == "If-None-Match"

    with pytest.raises(ClientError) as info:
        client.put_object(Bucket=bucket, Key="k", Body=b"2", IfMatch='"0123456789abcdef"')
    assert _error(info.value) == ("PreconditionFailed", 412)
    assert info.value.response["Error"].get("Condition") == "If-Match"

    assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"1"
    second = client.put_object(Bucket=bucket, Key="k", Body=b"2", IfMatch=first["ETag"])
    assert second["ETag"] != first["ETag"]
    assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"2"


def test_s3_conditional_writes_racing_for_one_version_let_exactly_one_win(
    s3: S3Server, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As on S3, a conditional write is atomic: of writers that all expect the same version,
    one succeeds and the others get 412, however their requests interleave."""
    from moto.s3.models import S3Backend

    store = S3Backend.put_object

    def slow_store(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.05)  # between moto's check of the condition and its write: all check
        return store(*args, **kwargs)

    monkeypatch.setattr(S3Backend, "put_object", slow_store)  # moto runs in this process
    writers = 8
    clients = [s3.client() for _ in range(writers)]
    start = threading.Barrier(writers, timeout=30)

    def write(client: Any, etag: str, body: bytes) -> bool:
        start.wait()
        try:
            client.put_object(Bucket=bucket, Key="contended", Body=body, IfMatch=etag)
        except ClientError as exc:
            assert _error(exc) == ("PreconditionFailed", 412)
            return False
        return True

    with ThreadPoolExecutor(writers) as pool:
        for round in range(3):
            etag = clients[0].put_object(Bucket=bucket, Key="contended", Body=b"base")["ETag"]
            bodies = [f"{round} {w}".encode() for w in range(writers)]
            won = list(pool.map(write, clients, [etag] * writers, bodies))
            assert won.count(True) == 1, f"round {round}: {won.count(True)} writers won"
            stored = clients[0].get_object(Bucket=bucket, Key="contended")["Body"].read()
            assert stored == bodies[won.index(True)]


def test_s3_missing_bucket_and_key(s3: S3Server, bucket: str) -> None:
    client = s3.client()
    with pytest.raises(client.exceptions.NoSuchBucket) as info:
        client.get_object(Bucket=f"missing-{uuid.uuid4().hex[:8]}", Key="k")
    assert _error(info.value) == ("NoSuchBucket", 404)
    with pytest.raises(client.exceptions.NoSuchBucket):
        client.put_object(Bucket=f"missing-{uuid.uuid4().hex[:8]}", Key="k", Body=b"")
    with pytest.raises(client.exceptions.NoSuchKey):
        client.get_object(Bucket=bucket, Key="nope")


def test_s3_pause_refuses_connections_and_resume_keeps_state(s3: S3Server, bucket: str) -> None:
    client = s3.client()
    fast_fail = s3.client(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=2)
    client.put_object(Bucket=bucket, Key="k", Body=b"kept")
    endpoint = s3.endpoint_url

    s3.pause()
    try:
        with pytest.raises(EndpointConnectionError):
            fast_fail.get_object(Bucket=bucket, Key="k")
        with pytest.raises(EndpointConnectionError):  # default retries: still fails, quickly
            client.get_object(Bucket=bucket, Key="k")
    finally:
        s3.resume()

    assert s3.endpoint_url == endpoint
    # moto's state lives in this process, not in the server thread: it survives the outage.
    assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"kept"


def test_s3_aws_test_env_reaches_moto_from_a_subprocess(s3: S3Server, bucket: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(aws_test_env(s3.endpoint_url))
    script = textwrap.dedent(
        f"""
        import boto3
        s3 = boto3.client("s3")
        s3.put_object(Bucket={bucket!r}, Key="from-child", Body=b"hi")
        print(s3.get_object(Bucket={bucket!r}, Key="from-child")["Body"].read().decode())
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=Path(__file__).parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "hi"
    assert s3.client().get_object(Bucket=bucket, Key="from-child")["Body"].read() == b"hi"


def test_s3_reset_wipes_all_buckets(s3: S3Server, bucket: str) -> None:
    client = s3.client()
    assert bucket in [b["Name"] for b in client.list_buckets()["Buckets"]]
    s3.reset()
    assert client.list_buckets()["Buckets"] == []


# -- claudechat serve ----------------------------------------------------------------------

_LEFT_RUNNING = """
from pathlib import Path

from serve_harness import Serve, clean_env

PID = Path(__file__).with_name("serve.pid")


def test_fails_with_its_server_running() -> None:
    env = clean_env(ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL="http://127.0.0.1:9")
    server = Serve(env, "--no-auth").start()
    assert server.process is not None
    PID.write_text(str(server.process.pid))
    raise AssertionError("failed before stopping it")


def test_the_next_test_finds_it_stopped() -> None:
    assert not Path(f"/proc/{PID.read_text()}").exists()
"""


def test_a_serve_a_failing_test_left_running_is_stopped_as_the_test_ends(tmp_path: Path) -> None:
    """A Serve started in a test's body, not in a fixture, was stopped by nothing when an
    assertion failed before its stop: the server ran on after the test run, every time."""
    (tmp_path / "test_left_running.py").write_text(_LEFT_RUNNING)
    tests = Path(__file__).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join([str(tests), env.get("PYTHONPATH", "")])
    run = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "conftest"]
    ran = subprocess.run(
        [*run, "-q", "--rootdir", str(tmp_path), str(tmp_path)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    pid = int((tmp_path / "serve.pid").read_text())
    try:
        assert "1 failed, 1 passed" in ran.stdout, ran.stdout + ran.stderr
        assert not Path(f"/proc/{pid}").exists()
    finally:
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, 15)  # the server that run left behind (it started it, for this test)
