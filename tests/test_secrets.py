"""Secrets stay secret: API keys, AWS credentials and database passwords never reach output,
local files, the metadata database or the bucket; local data is private to its owner."""

from __future__ import annotations

import io
import json
import os
import stat
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from subprocess import CompletedProcess

import pexpect
import pytest

from conftest import content_text, conversation_id
from fakes.anthropic_api import ErrorReply, FakeAnthropic, Reply

TOKEN = uuid.uuid4().hex[:16]
API_KEY = f"sk-ant-DISTINCTIVE-{TOKEN}-api03"
WRONG_API_KEY = f"sk-ant-WRONGKEY-{TOKEN}-api03"
AWS_ACCESS_KEY_ID = f"AKIADISTINCT{TOKEN[:8].upper()}"
AWS_SECRET_ACCESS_KEY = f"DISTINCTIVE/aws+secret/{TOKEN}"
AWS_SESSION_TOKEN = f"DISTINCTIVE-session-token-{TOKEN}"
DB_PASSWORD = f"Pg-DISTINCTIVE-{TOKEN}"
UNREACHABLE_DB = f"postgresql+psycopg2://chat:{DB_PASSWORD}@127.0.0.1:9/chats"
MASKED_DB = "postgresql+psycopg2://chat:***@127.0.0.1:9/chats"


def assert_clean(results: list[CompletedProcess[str]], *secrets: str) -> None:
    for result in results:
        assert "Traceback" not in result.stderr, result.stderr
        for secret in secrets:
            assert secret not in result.stdout, (result.args, secret)
            assert secret not in result.stderr, (result.args, secret)


def sent_key(headers: dict[str, str]) -> str | None:
    """The SDK sends the key as x-api-key or as a bearer token, depending on its version."""
    bearer = headers.get("authorization", "").removeprefix("Bearer ")
    return headers.get("x-api-key") or bearer or None


def stored_bytes(home: Path, backend, s3) -> Iterator[tuple[str, bytes]]:  # type: ignore[no-untyped-def]
    """Everything claudechat keeps: local files, the metadata database and the bucket."""
    files = [path for path in home.rglob("*") if path.is_file()]
    assert files, f"nothing stored under {home}"
    for path in files:
        yield str(path), path.read_bytes()
    if backend.name == "embedded":
        # The metadata DB and the conversation's document were among the files read.
        assert (home / "claudechat.db").is_file()
        assert any(p.suffix == ".json" and "conversations" in p.parts for p in files)
        return
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(backend.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT * FROM conversations")).all()
            assert rows, "no metadata rows in PostgreSQL"
            yield "table conversations", repr(rows).encode()
            for table in inspect(engine).get_table_names():
                everything = connection.execute(text(f'SELECT * FROM "{table}"')).all()
                yield f"table {table}", repr(everything).encode()
    finally:
        engine.dispose()
    bucket = backend.storage_url.removeprefix("s3://").split("/", 1)[0]
    client = s3.client()
    objects = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert objects, f"no objects in bucket {bucket}"
    for item in objects:
        got = client.get_object(Bucket=bucket, Key=item["Key"])
        yield f"s3://{bucket}/{item['Key']}", got["Body"].read() + repr(got["Metadata"]).encode()


def assert_not_stored(home: Path, backend, request, *secrets: str) -> None:  # type: ignore[no-untyped-def]
    s3 = request.getfixturevalue("s3") if backend.name == "team" else None
    for where, data in stored_bytes(home, backend, s3):
        for secret in secrets:
            assert secret.encode() not in data, f"{secret!r} found in {where}"


# -- the Anthropic API key -----------------------------------------------------------------


def test_the_api_key_never_appears_in_output_or_storage(  # type: ignore[no-untyped-def]
    cli, backend, isolated_home, monkeypatch, request
) -> None:
    with FakeAnthropic(api_key=API_KEY) as fake:
        monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        fake.queue(Reply("first answer"))
        first = cli("chat", "--name", "key check", input="first turn")
        assert first.returncode == 0, first.stderr
        cid = conversation_id(first.stderr)
        refused = cli("chat", input="with a wrong key", env={"ANTHROPIC_API_KEY": WRONG_API_KEY})
        assert refused.returncode == 2
        assert "rejected the credentials (401)" in refused.stderr
        config = cli("config")
        listed = cli("list", "--json")
        shown = cli("show", cid, "--json")
        requests = list(fake.requests)

    # The keys really were used: the right one answered, the wrong one was refused.
    assert [sent_key(r.headers) for r in requests] == [API_KEY, WRONG_API_KEY]
    assert config.returncode == listed.returncode == shown.returncode == 0
    assert [content_text(m["content"]) for m in json.loads(shown.stdout)["messages"]] == [
        "first turn",
        "first answer",
    ]
    assert len(json.loads(listed.stdout)) == 2  # the refused turn's message is kept too
    results = [first, refused, config, listed, shown]
    assert_clean(results, API_KEY, WRONG_API_KEY, TOKEN)
    assert_not_stored(isolated_home, backend, request, API_KEY, WRONG_API_KEY, TOKEN)


@pytest.mark.parametrize(
    "padded",
    [API_KEY + " ", API_KEY + "\n", " " + API_KEY, "sk-ant a"],
    ids=["space-after", "newline-after", "space-before", "space-within"],  # the key varies
)
def test_a_key_with_a_space_or_line_break_is_refused_without_being_shown(  # type: ignore[no-untyped-def]
    cli, fake_api, padded
) -> None:
    """It was sent, refused as a header by the HTTP library, whose error quoted it whole
    (four times, with retries), and taken for a network outage."""
    refused = cli("chat", input="hello", env={"ANTHROPIC_API_KEY": padded})
    assert refused.returncode == 2, refused.stderr
    assert "ANTHROPIC_API_KEY holds a space, a line break" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert API_KEY not in refused.stderr and "sk-ant a" not in refused.stderr
    assert fake_api.requests == [] and cli("list").stdout == ""


def test_keys_and_bearer_tokens_quoted_in_an_error_are_masked() -> None:
    from claudechat.secret_masking import mask_url_password

    quoted = "Illegal header value b'Bearer sk-ant-api03-SECRET '"
    assert mask_url_password(quoted) == "Illegal header value b'Bearer *** '"
    assert mask_url_password("key sk-ant-api03-SECRET, then") == "key sk-ant-***, then"


# -- AWS credentials with Bedrock ----------------------------------------------------------


def test_aws_credentials_never_appear_in_output_or_storage(  # type: ignore[no-untyped-def]
    cli, fake_api, backend, isolated_home, monkeypatch, request
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.delenv("ANTHROPIC_BASE_URL")
    monkeypatch.setenv("ANTHROPIC_BEDROCK_BASE_URL", fake_api.base_url)
    monkeypatch.setenv("CLAUDECHAT_PROVIDER", "bedrock")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    # The same credentials also reach moto's S3 for the team backend, which accepts any.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET_ACCESS_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", AWS_SESSION_TOKEN)

    fake_api.queue(Reply("from bedrock"))
    first = cli("chat", input="first turn")
    assert first.returncode == 0, first.stderr
    assert first.stdout == "from bedrock\n"
    cid = conversation_id(first.stderr)
    fake_api.queue(ErrorReply(403, "AccessDeniedException", "User is not authorized"))
    denied = cli("chat", input="denied turn")
    assert denied.returncode == 3
    assert "refused access to model 'claude-sonnet-4-6' (403)" in denied.stderr
    config = cli("config")
    listed = cli("list", "--json")
    shown = cli("show", cid, "--json")
    assert config.returncode == listed.returncode == shown.returncode == 0
    assert 'provider = "bedrock"' in config.stdout

    # Signed with these credentials, and the secret itself never sent.
    bedrock_requests = [r for r in fake_api.requests if r.path.startswith("/model/")]
    assert len(bedrock_requests) == 2
    for sent in bedrock_requests:
        assert sent.headers["authorization"].startswith(
            f"AWS4-HMAC-SHA256 Credential={AWS_ACCESS_KEY_ID}/"
        )
        assert AWS_SECRET_ACCESS_KEY not in json.dumps(sent.headers)

    results = [first, denied, config, listed, shown]
    secrets = (AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_ACCESS_KEY_ID)
    assert_clean(results, *secrets)
    assert_not_stored(isolated_home, backend, request, *secrets)


# -- database passwords --------------------------------------------------------------------


def write_config(home: Path, text: str, mode: int) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "config.toml"
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_a_database_password_is_masked_and_never_in_errors(cli, fake_api, isolated_home) -> None:  # type: ignore[no-untyped-def]
    env = {"CLAUDECHAT_DATABASE_URL": UNREACHABLE_DB}
    config = cli("config", env=env)
    assert config.returncode == 0, config.stderr
    assert f'database_url = "{MASKED_DB}"' in config.stdout

    listed = cli("list", env=env)
    assert listed.returncode == 5
    assert "database chats on 127.0.0.1:9" in listed.stderr
    upgraded = cli("db", "upgrade", env=env)
    assert upgraded.returncode == 5
    # A chat still works, saved locally while the database is down, and says so.
    chatted = cli("chat", input="while the database is down", env=env)
    assert chatted.returncode == 0, chatted.stderr
    assert "saved locally" in chatted.stderr
    results = [config, listed, upgraded, chatted]
    assert_clean(results, DB_PASSWORD)
    for path in isolated_home.rglob("*"):
        if path.is_file():
            assert DB_PASSWORD.encode() not in path.read_bytes(), path

    # The same URL from the config file is masked the same way.
    write_config(isolated_home, f'database_url = "{UNREACHABLE_DB}"\n', 0o600)
    from_file = cli("config")
    assert f'database_url = "{MASKED_DB}"' in from_file.stdout
    assert_clean([from_file], DB_PASSWORD)


def test_a_malformed_database_url_is_one_line_without_the_password(cli) -> None:  # type: ignore[no-untyped-def]
    url = f"postgresql+psycopg2://chat:{DB_PASSWORD}@127.0.0.1:notaport/chats"
    result = cli("list", env={"CLAUDECHAT_DATABASE_URL": url})
    assert_clean([result], DB_PASSWORD)
    assert result.returncode == 2  # a configuration error, not a database that is down
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("claudechat: "), result.stderr


def test_a_config_file_with_a_password_must_not_be_readable_by_others(cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    path = write_config(isolated_home, f'database_url = "{UNREACHABLE_DB}"\n', 0o644)
    exposed = cli("config")
    assert exposed.returncode == 0
    assert f"chmod 600 {path}" in exposed.stderr
    assert "warning" in exposed.stderr and "secret" in exposed.stderr
    os.chmod(path, 0o600)
    private = cli("config")
    assert private.returncode == 0
    assert private.stderr == ""
    assert_clean([exposed, private], DB_PASSWORD)


@pytest.mark.parametrize(
    "endpoint",
    [
        f"http://minio:{DB_PASSWORD}@127.0.0.1:9",  # unreachable: every S3 call fails
        f"http://minio:{DB_PASSWORD} x@127.0.0.1:notaport",  # malformed
    ],
    ids=["unreachable", "malformed"],
)
def test_a_password_in_the_s3_endpoint_is_never_echoed(cli, fake_api, endpoint) -> None:  # type: ignore[no-untyped-def]
    env = {
        "CLAUDECHAT_STORAGE_URL": "s3://team-chats/claudechat",
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ACCESS_KEY_ID": AWS_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET_ACCESS_KEY,
        "AWS_REGION": "us-east-1",
    }
    chatted = cli("chat", input="hello", env=env)
    listed = cli("list", env=env)
    synced = cli("sync", env=env)
    assert "S3" in chatted.stderr + listed.stderr + synced.stderr  # the failure was reported
    assert_clean([chatted, listed, synced], DB_PASSWORD, AWS_SECRET_ACCESS_KEY)


# -- local data is private -----------------------------------------------------------------


def modes(home: Path) -> dict[str, int]:
    found = {str(home): stat.S_IMODE(home.stat().st_mode)}
    for path in home.rglob("*"):
        found[str(path.relative_to(home))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def assert_private(home: Path) -> dict[str, int]:
    found = modes(home)
    for name, mode in found.items():
        path = home / name
        expected = 0o700 if path.is_dir() else 0o600
        assert mode == expected, f"{name} has mode {mode:o}, not {expected:o}"
    return found


@pytest.mark.fresh_store
def test_local_data_is_private_whatever_the_umask(cli, fake_api, isolated_home) -> None:  # type: ignore[no-untyped-def]
    previous = os.umask(0)  # the children inherit it: everything they create is theirs to set
    try:
        piped = cli("chat", input="a piped turn")
        assert piped.returncode == 0, piped.stderr
        child = pexpect.spawn(
            sys.executable,
            ["-m", "claudechat", "chat"],
            env={**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm-256color"},
            encoding="utf-8",
            dimensions=(30, 100),
            timeout=20,
        )
        child.logfile_read = io.StringIO()
        child.expect_exact("›")
        child.send("a typed turn\r")
        child.expect_exact("echo: a typed turn")
        child.expect_exact("›")
        # While the REPL holds the database open (SQLite's -wal and -shm exist now).
        during = assert_private(isolated_home)
        child.send("\x04")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0, child.logfile_read.getvalue()
    finally:
        os.umask(previous)
    after = assert_private(isolated_home)
    for expected in ("claudechat.db", "history", "journal", "conversations"):
        assert expected in after, sorted(after)
    assert any(name.endswith(".json") for name in after if name.startswith("conversations/"))
    assert "claudechat.db-wal" in during or "claudechat.db-wal" in after, sorted(during)
