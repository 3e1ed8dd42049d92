"""A setting or an environment that can never work is one line on stderr and exit 2 (a store
that is down is exit 5); never a traceback, and no message sent on a setup that cannot save."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from test_repl import PROMPT

COMMANDS = [["list"], ["show", "abcd"], ["config"], ["doctor"], ["sync"], ["db", "upgrade"]]


def assert_one_line(stderr: str, *needles: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("claudechat: "), stderr
    for needle in needles:
        assert needle in lines[0], stderr


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("postgresq://chat@127.0.0.1/chats", "invalid database URL"),
        ("nonsense", "invalid database URL"),
        ("postgresql://chat@127.0.0.1:notaport/chats", "invalid database URL"),
        ("mysql://chat@127.0.0.1/chats", "invalid database URL"),
        ("sqlite:////tmp/a%00b.db", "NUL"),
        ("sqlite:///relative-never-created.db", "relative to the current folder"),
        ("sqlite://", "keeps nothing past the command"),
        ("sqlite:///:memory:", "keeps nothing past the command"),
    ],
)
def test_a_bad_database_url_is_a_configuration_error(cli, fake_api, url, needle) -> None:  # type: ignore[no-untyped-def]
    env = {"CLAUDECHAT_DATABASE_URL": url}
    listed = cli("list", env=env)
    assert listed.returncode == 2
    assert_one_line(listed.stderr, needle)
    chatted = cli("chat", input="hello", env=env)
    assert chatted.returncode == 2, chatted.stderr
    assert "Traceback" not in chatted.stderr and "saved locally" not in chatted.stderr
    assert fake_api.requests == []  # refused before anything was sent


def test_database_urls_are_read_as_sqlalchemy_reads_them() -> None:
    """A password may hold "#", "/", "?" or "[": urllib's parsing refused such URLs (its host
    part ends there), and SQLite's own URIs are not taken for relative paths."""
    from claudechat.storage.database_url import check_database_url

    for password in ("p#ss", "pa/ss", "p?ss", "p[ss"):
        check_database_url(f"postgresql://chat:{password}@127.0.0.1:5432/chats")
    check_database_url("postgresql://[::1]:5432/chats")
    check_database_url("postgresql:///chats?host=/var/run/postgresql")
    check_database_url("sqlite+pysqlite:////tmp/x.db?timeout=5")
    check_database_url("sqlite:///file:/tmp/x.db?uri=true")


def test_a_scheme_typo_sends_nothing(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    result = cli("chat", input="hello", env={"CLAUDECHAT_DATABASE_URL": "postgresq://c@h/d"})
    assert result.returncode == 2
    assert fake_api.requests == []


def test_a_plain_postgresql_url_uses_the_shipped_driver(cli, fake_api, postgres) -> None:  # type: ignore[no-untyped-def]
    url = postgres.create_database("plain_scheme")
    assert url.startswith("postgresql+psycopg2://")
    env = {"CLAUDECHAT_DATABASE_URL": url.replace("postgresql+psycopg2://", "postgresql://")}
    chatted = cli("chat", input="over plain postgresql", env=env)
    assert chatted.returncode == 0, chatted.stderr
    assert "saved locally" not in chatted.stderr
    listed = cli("list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert [row["title"] for row in json.loads(listed.stdout)] == ["over plain postgresql"]
    assert json.loads(listed.stdout)[0]["synced"] is True


@pytest.mark.parametrize(
    "base_url", ["http://127.0.0.1:notaport", "localhost:8080", "http://", "ftp://example.com"]
)
def test_a_malformed_api_base_url_is_a_configuration_error(cli, fake_api, base_url) -> None:  # type: ignore[no-untyped-def]
    result = cli("chat", input="hello", env={"ANTHROPIC_BASE_URL": base_url})
    assert result.returncode == 2
    assert_one_line(result.stderr, "ANTHROPIC_BASE_URL is not a valid URL")
    assert fake_api.requests == []


def test_a_base_url_with_a_space_around_it_is_refused_before_anything_is_saved(  # type: ignore[no-untyped-def]
    cli, fake_api
) -> None:
    """Checked stripped but sent as it was: refused by the SDK after the message was saved."""
    result = cli("chat", input="hello", env={"ANTHROPIC_BASE_URL": " " + fake_api.base_url})
    assert result.returncode == 2
    assert_one_line(result.stderr, "ANTHROPIC_BASE_URL has a space or line break around it")
    assert fake_api.requests == [] and cli("list").stdout == ""


def test_an_empty_api_base_url_is_refused_before_anything_is_saved(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """`export ANTHROPIC_BASE_URL=`: the SDK took "" for the URL. Three lines came, none
    naming the variable, and the message was saved, pending, in a new conversation."""
    result = cli("chat", input="hello", env={"ANTHROPIC_BASE_URL": ""})
    assert result.returncode == 2
    assert_one_line(result.stderr, "ANTHROPIC_BASE_URL is set but empty")
    assert fake_api.requests == [] and cli("list", "--empty").stdout == ""


def test_an_api_base_url_that_refuses_connections_is_named(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """It said "cannot reach the Anthropic API (... Connection refused)", naming neither the
    address nor the variable that set it (a 404 there names both)."""
    result = cli("chat", input="hello", env={"ANTHROPIC_BASE_URL": "http://u:pw@127.0.0.1:1"})
    assert result.returncode == 3, result.stderr
    failed = result.stderr.strip().splitlines()[-1]
    assert failed.startswith(
        "claudechat: cannot reach the Anthropic API at http://127.0.0.1:1, set by "
        "ANTHROPIC_BASE_URL ("
    ), failed
    assert "pw" not in result.stderr


def test_a_huge_list_limit_is_a_usage_error(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("list", "--limit", "99999999999999999999999")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--limit" in result.stderr


@pytest.mark.parametrize("args", [*COMMANDS, ["chat"]], ids=lambda args: " ".join(args))
def test_a_relative_home_is_refused_by_every_command(cli, fake_api, args) -> None:  # type: ignore[no-untyped-def]
    result = cli(*args, input="hello", env={"CLAUDECHAT_HOME": "relative/home"})
    assert result.returncode == 2
    assert_one_line(result.stderr, "CLAUDECHAT_HOME must be an absolute path")


@pytest.mark.parametrize("args", [*COMMANDS, ["chat"]], ids=lambda args: " ".join(args))
def test_a_home_that_is_a_file_is_refused_by_every_command(  # type: ignore[no-untyped-def]
    cli, fake_api, tmp_path, args
) -> None:
    """It was "cannot read config file .../f/config.toml" (a file never made), or with
    CLAUDECHAT_CONFIG "cannot create .../f/claudechat.db", after Claude had answered."""
    home = tmp_path / "f"
    home.touch()
    config = tmp_path / "config.toml"
    config.touch()
    for env in ({"CLAUDECHAT_HOME": str(home)}, {"CLAUDECHAT_CONFIG": str(config)}):
        result = cli(*args, input="hello", env={"CLAUDECHAT_HOME": str(home), **env})
        assert result.returncode == 2
        assert_one_line(result.stderr, f"CLAUDECHAT_HOME {home} is a file, not a folder")
    below = cli(*args, input="hello", env={"CLAUDECHAT_HOME": str(home / "sub")})
    assert below.returncode == 2
    assert_one_line(below.stderr, f"{home} is a file")
    assert fake_api.requests == []


def test_a_nul_in_the_storage_url_is_one_line(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("list", env={"CLAUDECHAT_STORAGE_URL": "file:///tmp/a%00b"})
    assert result.returncode == 2
    assert_one_line(result.stderr, "NUL")


def without_file_permission_override(*argv: str) -> list[str]:
    """The program as root without the capability to ignore file permissions: files owned by
    someone else are then as closed to it as they are to an ordinary user."""
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed for this test"
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", *argv]


@pytest.mark.pty
def test_a_home_owned_by_someone_else_is_one_line_in_the_repl(cli, fake_api, isolated_home) -> None:  # type: ignore[no-untyped-def]
    assert cli("chat", input="made while it was mine").returncode == 0
    history = isolated_home / "history"
    history.write_text("")
    os.chmod(history, 0o600)
    for path in [isolated_home, *isolated_home.rglob("*")]:
        os.chown(path, 65534, 65534)  # nobody
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    os.chmod(history, 0o600)
    env = {**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm-256color"}
    argv = without_file_permission_override(sys.executable, "-m", "claudechat", "chat")
    child = pexpect.spawn(argv[0], argv[1:], env=env, encoding="utf-8", timeout=20)
    index = child.expect([pexpect.EOF, PROMPT])
    seen = child.before or ""
    child.close(force=True)
    assert index == 0, "the REPL started on a history file it cannot use: " + seen
    assert child.exitstatus == 2
    assert "cannot use the history file" in seen and "Permission denied" in seen
    assert "Traceback" not in seen


def read_only_run(home: Path, *args: str, input: bytes = b"") -> subprocess.CompletedProcess[str]:
    """The program with its home mounted read-only, in a mount namespace of its own."""
    script = 'mount --bind -o ro "$0" "$0" && exec "$@"'
    argv = ["unshare", "-m", "sh", "-c", script, str(home), sys.executable, "-m", "claudechat"]
    done = subprocess.run([*argv, *args], input=input, capture_output=True, timeout=60)
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


@pytest.mark.fresh_store
def test_a_read_only_home_with_a_journal_entry_is_one_line(cli, fake_api, isolated_home) -> None:  # type: ignore[no-untyped-def]
    assert cli("list").returncode == 0  # the embedded database exists
    outage = {"CLAUDECHAT_DATABASE_URL": "postgresql://chat@127.0.0.1:9/chats"}
    assert "saved locally" in cli("chat", input="journaled", env=outage).stderr
    assert any((isolated_home / "journal").rglob("*.json"))
    for args in [*COMMANDS, ["chat"]]:
        result = read_only_run(isolated_home, *args, input=b"hello")
        assert "Traceback" not in result.stderr, (args, result.stderr)
        assert result.returncode in (0, 1, 5), (args, result.returncode, result.stderr)
        errors = [line for line in result.stderr.splitlines() if line.startswith("claudechat:")]
        assert len(errors) <= 1, (args, result.stderr)


STUCK_CLOSE = """
import time
from claudechat.cli import _exit
from claudechat.commands import opening

class Stuck:
    def close(self):  # as a store whose database a given-up call still holds
        time.sleep(60)

opening.close_at_exit(Stuck())
print("leaving", flush=True)
_exit(0)
"""


def test_leaving_does_not_wait_for_a_store_that_cannot_close() -> None:
    """A store call given up at its deadline could hold the SQLite database for SQLite's own
    busy wait (30 s): closing the store at exit waited for it, after the reply was out."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", STUCK_CLOSE], capture_output=True, text=True, timeout=20
    )
    assert (done.returncode, done.stdout) == (0, "leaving\n"), done.stderr


def test_token_commands_leave_no_open_database_behind(cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    """Their database was never closed (and nothing at exit closes it now): an SQLite -wal and
    -shm were left beside it by every token command."""
    assert cli("token", "create", "bob").returncode == 0
    assert cli("token", "list").returncode == 0
    left = {p.name for p in isolated_home.glob("claudechat.db*")}
    assert "claudechat.db" in left and not left & {"claudechat.db-wal", "claudechat.db-shm"}
