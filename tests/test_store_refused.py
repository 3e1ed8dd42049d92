"""A store that refuses the configuration is no outage: a wrong database password, user or name,
an option libpq does not know, a missing bucket, S3 credentials it rejects. Waiting does not
fix them, so they are said as what to fix, and a piped chat exits 2 (README: invalid
configuration, credentials refused); the turn is kept in the journal all the same, and pushed
once the configuration is fixed. They all said "pushed when the store is back" and exited 0."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator

import psycopg2
import pytest

from conftest import API_KEY, conversation_id
from fakes.anthropic_api import FakeAnthropic
from serve_harness import Serve, clean_env, team_env
from servers import PostgresServer

PASSWORD_ROLE = f"pw_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def password_role(postgres: PostgresServer) -> Iterator[str]:
    """A role that logs in with a password over TCP; the test cluster trusts every other."""
    rule = f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n"
    hba = postgres.data_dir / "pg_hba.conf"
    original = hba.read_text()
    connection = psycopg2.connect(postgres.dsn(), connect_timeout=5)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD 'right'")
            hba.write_text(rule + original)  # the first rule that matches applies
            cursor.execute("SELECT pg_reload_conf()")
        yield PASSWORD_ROLE
    finally:
        hba.write_text(original)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_reload_conf()")
            cursor.execute(f"DROP ROLE {PASSWORD_ROLE}")
        connection.close()


def _wrong_password(url: str) -> str:
    return url.replace("//postgres@", f"//{PASSWORD_ROLE}:wrong@")


def _missing_database(url: str) -> str:
    return url + "t"  # the operator's typo: claudechat -> claudechatt


def _missing_role(url: str) -> str:
    return url.replace("//postgres@", "//nobody_here@")


def _unknown_option(url: str) -> str:
    return url + "?foo=bar"


@pytest.mark.parametrize(
    ("spoil", "said"),
    [
        (_wrong_password, "password authentication failed"),
        (_missing_database, "does not exist"),
        (_missing_role, 'role "nobody_here" does not exist'),
        (_unknown_option, 'invalid connection option "foo"'),
    ],
    ids=["password", "database", "role", "option"],
)
def test_a_database_that_refuses_the_configuration_exits_2_and_keeps_the_turn(  # type: ignore[no-untyped-def]
    request, cli, team, fake_api, spoil: Callable[[str], str], said: str
) -> None:
    if spoil is _wrong_password:
        request.getfixturevalue("password_role")
    env = {"CLAUDECHAT_DATABASE_URL": spoil(team.database_url)}
    result = cli("chat", input="hello", env=env)
    assert result.returncode == 2, result.stderr
    assert result.stdout == "echo: hello\n"
    assert "the store refused the configuration" in result.stderr
    assert said in result.stderr and "fix the database URL" in result.stderr
    assert "pushed once that is fixed" in result.stderr
    assert "when the store is back" not in result.stderr
    assert "wrong" not in result.stderr and "Traceback" not in result.stderr
    _pushed_once_fixed(cli, conversation_id(result.stderr))


def test_a_refusal_before_the_message_is_sent_exits_2_and_says_it_was_not_sent(  # type: ignore[no-untyped-def]
    cli, team, fake_api
) -> None:
    """`chat -c` lists the conversations first: the refusal came before the message was sent,
    and left with the outage's exit 5."""
    env = {"CLAUDECHAT_DATABASE_URL": _missing_database(team.database_url)}
    result = cli("chat", "-c", input="hello", env=env)
    assert result.returncode == 2, result.stderr
    assert "the store refused the configuration" in result.stderr
    assert result.stderr.rstrip().endswith("; your message was not sent")
    assert not fake_api.requests


def test_s3_credentials_the_server_rejects_are_no_outage_to_wait_for(  # type: ignore[no-untyped-def]
    cli, team, s3, fake_api
) -> None:
    from moto.core.authorization import enable_iam_authentication

    with enable_iam_authentication():  # the test keys are no IAM user's: InvalidAccessKeyId
        result = cli("chat", input="hello")
    assert result.returncode == 2, result.stderr
    assert "the store refused the configuration: access to S3 bucket" in result.stderr
    assert "InvalidAccessKeyId" in result.stderr and "fix the AWS credentials" in result.stderr
    assert "pushed once that is fixed" in result.stderr
    _pushed_once_fixed(cli, conversation_id(result.stderr))


def _pushed_once_fixed(cli, conversation: str) -> None:  # type: ignore[no-untyped-def]
    synced = cli("sync")
    assert synced.returncode == 0 and "pushed 1 conversation" in synced.stderr
    assert "echo: hello" in cli("show", conversation).stdout


@pytest.mark.parametrize("refusal", ["bucket", "credentials"])
def test_serve_refuses_to_start_on_a_blob_store_that_refuses_it(  # type: ignore[no-untyped-def]
    postgres, s3, fake_server: FakeAnthropic, refusal: str
) -> None:
    from moto.core.authorization import enable_iam_authentication

    env = {
        **clean_env(ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=fake_server.base_url),
        **team_env(postgres, s3),
    }
    if refusal == "bucket":
        env["CLAUDECHAT_STORAGE_URL"] = f"s3://missing-{uuid.uuid4().hex[:8]}/chats"
    server = Serve(env)
    refusing = enable_iam_authentication() if refusal == "credentials" else contextlib.nullcontext()
    with refusing, pytest.raises(RuntimeError, match="serve exited 2") as refused:
        server.start()
    log = str(refused.value)
    assert "the store refused the configuration" in log and "Traceback" not in log
    assert "serving on" not in log


def test_new_in_the_repl_says_the_conversation_waits_for_the_fix(  # type: ignore[no-untyped-def]
    team, fake_api, monkeypatch
) -> None:
    """/new said "pushed when the store is back" of a store that refused the configuration."""
    import pexpect

    from test_repl import CTRL_D, say, spawn

    monkeypatch.setenv("CLAUDECHAT_DATABASE_URL", _missing_database(team.database_url))
    child = spawn()
    try:
        say(child, "hello")
        child.expect_exact("echo: hello")
        say(child, "/new")
        child.expect(r"new conversation \(([0-9a-f]{8}) is saved on this machine, ([^)]*)\)")
        assert child.match.group(2) == "pushed once the store's configuration is fixed"
        child.send(CTRL_D)
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


@pytest.mark.parametrize(
    "outage",
    [
        'connection to server at "127.0.0.1", port 5432 failed: Connection refused',
        "timeout expired",
        "FATAL:  the database system is starting up",
        "FATAL:  the database system is shutting down",
        "FATAL:  the database system is not yet accepting connections",
        "FATAL:  sorry, too many clients already",
        'FATAL:  too many connections for role "alice"',
        "FATAL:  remaining connection slots are reserved for non-replication superuser",
        'FATAL:  database "chat" is not currently accepting connections',
        "FATAL:  terminating connection due to administrator command",
        "server closed the connection unexpectedly",
        'could not translate host name "db.example" to address: Name or service not known',
    ],
)
def test_an_outage_is_never_taken_for_a_refused_configuration(outage: str) -> None:
    """A refusal exits 2 with "fix the URL": an outage said so would send people to fix a
    configuration that is right, and stop the wait for the store to come back."""
    from claudechat.storage.metadata import refuses_configuration

    assert not refuses_configuration(outage)


def test_a_refusal_on_the_second_address_tried_is_one() -> None:
    """libpq says a line per address (localhost: ::1, then 127.0.0.1); only the first was read."""
    from sqlalchemy.exc import OperationalError

    from claudechat.errors import StoreRefusedError
    from claudechat.storage.metadata import database_errors

    said = (
        'connection to server at "localhost" (::1), port 5432 failed: Connection refused\n'
        'connection to server at "localhost" (127.0.0.1), port 5432 failed: FATAL:  '
        'password authentication failed for user "chat"'
    )
    with (
        pytest.raises(StoreRefusedError, match="the store refused the configuration"),
        database_errors("postgresql://chat@localhost/claudechat"),
    ):
        raise OperationalError("connect", {}, Exception(said))
