"""Shared fixtures: a private data directory for every test, real servers on loopback.

The servers are the only fakes: a Messages API (and Bedrock runtime) speaking the real wire
formats, moto's S3 server and a real PostgreSQL cluster, all started here on 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import serve_harness
from fakes.anthropic_api import FakeAnthropic
from forked import ForkServer
from s3_server import S3Server, aws_test_env
from servers import PostgresServer

if TYPE_CHECKING:
    from claudechat.conversation import Conversation

API_KEY = "sk-ant-test-key"
TEST_USER = "tester"


def migrated_by_the_program(home: Path, **env: str) -> None:
    """`claudechat db upgrade` in a home of its own, with none of the tests' CLAUDECHAT_
    settings: the templates the tests' stores start from."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDECHAT_")}
    completed = subprocess.run(
        [sys.executable, "-m", "claudechat", "db", "upgrade"],
        env={**clean, "CLAUDECHAT_HOME": str(home), "CLAUDECHAT_USER": TEST_USER, **env},
        capture_output=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr


def pytest_configure(config: pytest.Config) -> None:
    """A SIGTERM (`timeout 300 pytest`, a CI job cancelled) ends the run as Ctrl-C does, so
    fixtures tear down: Python's default ended the process at once, and the session's
    PostgreSQL server ran on for good, its folder left in /tmp. Each xdist worker loads this
    file too, and stops its own servers."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupted_by_sigterm)


def _interrupted_by_sigterm(signum: int, _frame: object) -> None:
    # A second SIGTERM, while the first one's teardown runs, ends the process as before.
    signal.signal(signum, signal.SIG_DFL)
    raise KeyboardInterrupt("SIGTERM")


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An embedded database that the program itself created and migrated, once per test
    process. Migrating costs a start a third of a second (Alembic), which hundreds of tests
    paid again; first starts on an empty home are tested under the fresh_store mark."""
    home = tmp_path_factory.mktemp("template-home")
    migrated_by_the_program(home)
    database = home / "claudechat.db"
    assert not database.with_name("claudechat.db-wal").exists()  # closed: all in one file
    return database


@pytest.fixture(scope="session", autouse=True)
def serve_homes_in_pytest_temp(tmp_path_factory: pytest.TempPathFactory) -> None:
    serve_harness.HOMES_PARENT = tmp_path_factory.mktemp("serve-homes")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A Serve started in the test's body (not by a fixture, which stops its own) is stopped
    when the body ends, passed or failed: one that a failing assertion left running ran on
    after the test run, holding its port and home."""
    before = serve_harness.running()
    try:
        return (yield)
    finally:
        serve_harness.stop_all(serve_harness.running() - before)


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Path:
    """Every test gets its own data directory and none of the developer's settings; its
    embedded database starts migrated unless the test is marked fresh_store."""
    for name in list(os.environ):
        if name.startswith(("CLAUDECHAT_", "ANTHROPIC_", "AWS_")) or name == "NO_COLOR":
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    if request.node.get_closest_marker("fresh_store") is None:
        template: Path = request.getfixturevalue("migrated_database")
        home.mkdir(mode=0o700)
        shutil.copyfile(template, home / template.name)
        os.chmod(home / template.name, 0o600)
    monkeypatch.setenv("CLAUDECHAT_HOME", str(home))
    monkeypatch.setenv("CLAUDECHAT_USER", TEST_USER)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    return home


# -- the fake Claude -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key=API_KEY) as server:
        yield server


@pytest.fixture
def fake_api(fake_server: FakeAnthropic, monkeypatch: pytest.MonkeyPatch) -> FakeAnthropic:
    fake_server.reset()
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_server.base_url)
    return fake_server


@pytest.fixture
def bedrock(fake_api: FakeAnthropic, monkeypatch: pytest.MonkeyPatch) -> FakeAnthropic:
    """The fake as the Bedrock runtime, with credentials and a region of the AWS chain."""
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.delenv("ANTHROPIC_BASE_URL")
    monkeypatch.setenv("ANTHROPIC_BEDROCK_BASE_URL", fake_api.base_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("CLAUDECHAT_PROVIDER", "bedrock")
    return fake_api


# -- storage backends ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


@pytest.fixture(scope="session")
def migrated_postgres_template(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A PostgreSQL database the program migrated, copied by CREATE DATABASE ... TEMPLATE
    for each team test (as migrated_database is for the embedded store). One per test
    process: a template being copied must have no other session open on it."""
    name = f"template_{uuid.uuid4().hex[:12]}"
    url = postgres.create_database(name)
    migrated_by_the_program(
        tmp_path_factory.mktemp("template-team-home"), CLAUDECHAT_DATABASE_URL=url
    )
    return name


@dataclass
class Backend:
    name: str
    database_url: str | None = None
    storage_url: str | None = None
    s3_endpoint: str | None = None


@pytest.fixture(params=["embedded", "team"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """The embedded default (SQLite + a folder) and the team setup (PostgreSQL + S3)."""
    if request.param == "embedded":
        return Backend("embedded")
    return team_backend(request, monkeypatch)


@pytest.fixture
def team(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """The team setup alone, for what only it has (a server to stop, a bucket to lose)."""
    return team_backend(request, monkeypatch)


def team_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Backend:
    postgres: PostgresServer = request.getfixturevalue("postgres")
    s3: S3Server = request.getfixturevalue("s3")
    unique = uuid.uuid4().hex[:12]
    template = None
    if request.node.get_closest_marker("fresh_store") is None:
        template = request.getfixturevalue("migrated_postgres_template")
    database_url = postgres.create_database(f"t_{unique}", template)
    bucket = f"claudechat-{unique}"
    s3.create_bucket(bucket)
    for name, value in aws_test_env(s3.endpoint_url).items():
        monkeypatch.setenv(name, value)
    storage_url = f"s3://{bucket}/chats"
    monkeypatch.setenv("CLAUDECHAT_DATABASE_URL", database_url)
    monkeypatch.setenv("CLAUDECHAT_STORAGE_URL", storage_url)
    return Backend("team", database_url, storage_url, s3.endpoint_url)


# -- running the real program --------------------------------------------------------------


# One-shot runs are forked from an interpreter that has imported the program (forkserver.py).
# Read here, once: each test's isolated_home takes CLAUDECHAT_ settings out of its environment.
FORK_SERVER = ForkServer(
    dict(os.environ), fresh=os.environ.get("CLAUDECHAT_TEST_FRESH_PROCESSES", "") not in ("", "0")
)


def run_cli(
    *args: str,
    input: bytes | str | None = b"",
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """The installed program in a process of its own: real pipes, so it sees no terminal."""
    command = [sys.executable, "-m", "claudechat", *args]
    process = FORK_SERVER.popen(command, env={**os.environ, **(env or {})})
    try:
        data = input.encode() if isinstance(input, str) else input
        stdout, stderr = process.communicate(data, timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    return subprocess.CompletedProcess(
        command,
        process.returncode,
        stdout.decode("utf-8", "replace"),
        stderr.decode("utf-8", "replace"),
    )


@pytest.fixture
def cli():  # type: ignore[no-untyped-def]
    return run_cli


def conversation_id(stderr: str) -> str:
    """The id a one-turn run names on stderr ("conversation ID")."""
    match = re.search(r"conversation ([0-9a-f-]{36})", stderr)
    assert match, stderr
    return match.group(1)


def echoed(*sent: str) -> list[str]:
    """A conversation's texts when the fake echoed each message sent: message, reply, ..."""
    return [text for message in sent for text in (message, f"echo: {message}")]


def content_text(content: str | list[dict[str, object]]) -> str:
    """The text of a message's content, as a document stores it or a request carries it:
    one string, or a list of blocks whose text blocks are joined."""
    if isinstance(content, str):
        return content
    return "".join(str(b["text"]) for b in content if b.get("type") == "text")


def save_conversation(conversation: Conversation) -> None:
    """`conversation` pushed to the configured store, as a program run would leave it."""
    from claudechat.settings import load_settings
    from claudechat.storage import open_store

    store = open_store(load_settings())
    assert store.save(conversation).pushed
    store.close()


def leave_copy_behind(home: Path, conversation: Conversation) -> None:
    """This machine's copy of `conversation` left older than the stored document: another
    machine saved a turn since."""
    copy = home / "cache" / conversation.user_id / f"{conversation.id}.json"
    older = copy.read_bytes()
    conversation.append("user", "a turn from another machine")
    conversation.append("assistant", "that this one never read")
    save_conversation(conversation)
    copy.unlink()  # not written over: on the embedded store it is a link to the stored file
    copy.write_bytes(older)
