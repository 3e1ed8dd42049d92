"""The less common recovery paths: rows and blobs that moved under a live session, damaged
journal entries, documents under an older storage prefix, and set-up failures that must stay
one line. A session's own recoveries: test_session_recovery.py."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from claudechat.conversation import Conversation
from claudechat.settings import load_settings
from claudechat.storage import open_store
from claudechat.storage.journal import Journal
from fakes.anthropic_api import ErrorReply


def rewrite_row(store, row) -> None:  # type: ignore[no-untyped-def]
    """The row written with its fields as given, as another process would write it."""
    from dataclasses import asdict

    from claudechat.storage.schema import conversations

    values = asdict(row)
    del values["conversation_id"], values["user_id"], values["created_at"]
    table = conversations.c
    with store.metadata.writing() as connection:
        connection.execute(
            conversations.update()
            .where(table.conversation_id == row.conversation_id, table.user_id == row.user_id)
            .values(**values)
        )


def saved_conversation(store, text: str = "hello") -> Conversation:  # type: ignore[no-untyped-def]
    convo = Conversation.new("tester", "claude-sonnet-4-6")
    convo.append("user", text)
    store.save(convo)
    return convo


def test_a_row_refreshed_under_a_live_session_follows_the_newer_document(backend) -> None:  # type: ignore[no-untyped-def]
    live = open_store(load_settings())
    convo = saved_conversation(live)
    # Another process (doctor, or a journal drain) bumps the row; the document is unchanged.
    other = open_store(load_settings())
    row = other.metadata.get("tester", convo.id)
    assert row is not None
    rewrite_row(other, row)
    row.version += 1

    convo.append("assistant", "hi")
    assert live.save(convo).pushed  # no conflict, no fork
    (listed,) = other.list("tester").rows
    assert (listed.conversation_id, listed.message_count) == (convo.id, 2)
    assert other.load("tester", convo.id).messages[-1].text == "hi"


def test_a_document_removed_under_a_live_session_is_written_again_whole(backend) -> None:  # type: ignore[no-untyped-def]
    live = open_store(load_settings())
    convo = saved_conversation(live)
    live.blobs.delete(live.blob_key("tester", convo.id))
    convo.append("assistant", "hi")
    result = live.save(convo)  # the conditional write finds nothing, re-reads, writes anew
    assert result.pushed, result.error
    assert [m.text for m in open_store(load_settings()).load("tester", convo.id).messages] == [
        "hello",
        "hi",
    ]
    assert [r.conversation_id for r in live.list("tester").rows] == [convo.id]


def test_a_journal_entry_rewritten_meanwhile_is_not_removed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    journal = Journal(tmp_path / "journal")
    convo = Conversation.new("tester", "m")
    first = journal.write(convo)
    convo.append("user", "newer turn")
    journal.write(convo)
    journal.remove(convo, first)  # a push of the older version finished late
    (entry,) = journal.for_conversation("tester", convo.id)
    assert [m.text for m in entry.conversation.messages] == ["newer turn"]
    journal.release()


def test_the_journal_names_only_users_with_entries_waiting(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """serve pushes every few seconds for the users this names: a user's folder keeps its
    lock file after its entries are gone, and every user was named, at every round."""
    journal = Journal(tmp_path / "journal")
    assert journal.users() == []
    convo = Conversation.new("tester", "m")
    written = journal.write(convo)
    assert journal.users() == ["tester"]
    journal.remove(convo, written)
    assert journal.users() == []
    journal.release()


def test_many_threads_writing_a_new_journal_at_once_never_wait_on_each_other(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`serve` saves from many threads: the writer's lock must be taken once, not by two
    threads at once (the second flock would wait on the first for ever)."""
    journal = Journal(tmp_path / "journal")
    convos = [Conversation.new("tester", "m") for _ in range(16)]
    start = threading.Barrier(len(convos))

    def write(convo: Conversation) -> None:
        convo.append("user", f"from {convo.id}")
        start.wait()
        journal.write(convo)

    threads = [threading.Thread(target=write, args=(c,), daemon=True) for c in convos]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "a journal write never returned"
    entries = journal.entries("tester")
    assert sorted(e.conversation.id for e in entries) == sorted(c.id for c in convos)
    journal.release()


def damaged_entries(home, conversation_id: str) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Unusable journal entries, by kind: (file name, content)."""
    other_id = str(uuid.uuid4())
    foreign = Conversation.new("mallory", "m")
    foreign.append("user", "not tester's")
    wrong = Conversation.new("tester", "m")
    wrong.append("user", "filed under another id")
    entry = lambda c: json.dumps({"format": 2, "writer": "gone", "document": c.to_document()})  # noqa: E731
    return {
        "unreadable": (f"{conversation_id}.gone1.json", '{"format": 2, "document": nul'),
        "wrong-id": (f"{other_id}.gone2.json", entry(wrong)),
        "other-user": (f"{foreign.id}.gone3.json", entry(foreign)),
    }


@pytest.mark.parametrize("kind", ["unreadable", "wrong-id", "other-user"])
def test_an_unusable_journal_entry_is_moved_aside_and_blocks_nothing(  # type: ignore[no-untyped-def]
    cli, fake_api, isolated_home, kind
) -> None:
    result = cli("chat", input="kept")
    conversation_id = result.stderr.split()[-1]
    name, text = damaged_entries(isolated_home, conversation_id)[kind]
    entry = isolated_home / "journal" / "tester" / name
    entry.write_text(text)

    listed = cli("list")
    assert listed.returncode == 0, listed.stderr
    assert "journal entr" in listed.stderr and "moved to" in listed.stderr
    assert listed.stdout.startswith(conversation_id[:8])
    assert len(listed.stdout.splitlines()) == 1  # nobody else's conversation shows up
    assert not entry.exists()
    (aside,) = (isolated_home / "journal" / "damaged").iterdir()
    assert aside.read_text() == text  # kept for a person to look at, never dropped
    shown = cli("show", conversation_id)
    assert shown.returncode == 0, shown.stderr
    again = cli("chat", "--continue", input="and more")
    assert again.returncode == 0, again.stderr
    assert cli("sync").returncode == 0
    doctor = cli("doctor")
    assert doctor.returncode == 1
    assert "journal entry that could not be used (moved aside)" in doctor.stdout
    assert "Traceback" not in listed.stderr + shown.stderr + again.stderr + doctor.stderr


@pytest.mark.parametrize("backend", ["team"], indirect=True)  # a folder has no prefix
def test_a_row_under_an_older_storage_prefix_is_still_read(backend, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    before = open_store(load_settings())
    convo = saved_conversation(before, "saved under the old prefix")
    copied = saved_conversation(before, "copied to the new prefix")
    old_location = before.blobs.location(before.blob_key("tester", convo.id))
    monkeypatch.setenv("CLAUDECHAT_STORAGE_URL", backend.storage_url + "-moved")
    after = open_store(load_settings())
    assert after.blobs.location(after.blob_key("tester", convo.id)) != old_location
    loaded = after.load("tester", convo.id[:8])
    assert [m.text for m in loaded.messages] == ["saved under the old prefix"]
    # A document the new prefix holds (copied there, then changed) is read there, not under
    # the old prefix its row still names.
    key = after.blob_key("tester", copied.id)
    changed = json.loads(before.blobs.get(key))
    changed["name"] = "changed in the copy"
    after.blobs.put(key, json.dumps(changed).encode())
    assert open_store(load_settings()).load("tester", copied.id).name == "changed in the copy"
    # The next save writes it under the new prefix, and the row follows it there.
    loaded.append("assistant", "moved")
    assert after.save(loaded).pushed
    row = after.metadata.get("tester", convo.id)
    assert row is not None and row.s3_file_location.startswith(after.blobs.location(""))
    assert [m.text for m in after.load("tester", convo.id).messages] == [
        "saved under the old prefix",
        "moved",
    ]


def test_a_row_whose_location_names_another_document_is_not_followed(backend) -> None:  # type: ignore[no-untyped-def]
    store = open_store(load_settings())
    mine = saved_conversation(store, "mine")
    other = saved_conversation(store, "someone else's")
    row = store.metadata.get("tester", mine.id)
    assert row is not None
    row.s3_file_location = store.blobs.location(store.blob_key("tester", other.id))
    rewrite_row(store, row)
    # The location's tail must be the row's own {user}/{conversation}.json.
    fresh = open_store(load_settings())
    assert [m.text for m in fresh.load("tester", mine.id).messages] == ["mine"]


def test_doctor_says_why_a_document_is_unreadable_and_adopts_no_other_owners(backend, cli) -> None:  # type: ignore[no-untyped-def]
    store = open_store(load_settings())
    convo = saved_conversation(store)
    key = store.blob_key("tester", convo.id)
    forged = json.loads(store.blobs.get(key)) | {"user_id": "mallory"}
    store.blobs.put(key, json.dumps(forged).encode())
    newer = saved_conversation(store)
    newer_key = store.blob_key("tester", newer.id)
    store.blobs.put(
        newer_key, json.dumps(json.loads(store.blobs.get(newer_key)) | {"format": 99}).encode()
    )
    report = cli("doctor")
    assert report.returncode == 1
    # Set aside, and this machine's copy put back in its place (see test_doctor_unreadable).
    claimed = "(its id or owner does not match its key; kept as "
    assert f"{convo.id}\tdocument that cannot be read, set aside {claimed}" in report.stdout
    assert f"{convo.id}\tdocument that could not be read: replaced by the copy" in report.stdout
    # Its document is there (unreadable), so its row is no "row whose document is missing".
    assert report.stdout.count(f"{convo.id}\t") == 2, report.stdout
    assert cli("list", env={"CLAUDECHAT_USER": "mallory"}).stdout == ""
    # A newer claudechat's document is not damage to repair: it says what to do.
    upgrade = "(a newer format: upgrade claudechat to read it)"
    assert f"{newer.id}\tdocument that cannot be read {upgrade}" in report.stdout


def test_sync_names_the_entries_it_leaves_to_a_running_process(backend, cli) -> None:  # type: ignore[no-untyped-def]
    """'pushed 0 conversation(s)' alone read as nothing waiting, while list marked one."""
    store = open_store(load_settings())
    convo = Conversation.new("tester", "m")
    convo.append("user", "kept by a running session")
    store.journal.write(convo)  # this process is that running session: its lock is held
    try:
        synced = cli("sync")
    finally:
        store.journal.release()
    assert synced.returncode == 0, synced.stderr
    assert "pushed 0 conversations" in synced.stderr
    assert "others wait for 1 claudechat process(es) still running" in synced.stderr


def test_a_database_schema_newer_than_this_claudechat_is_refused(cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    assert cli("list").returncode == 0
    with sqlite3.connect(isolated_home / "claudechat.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0099'")
    result = cli("list")
    assert result.returncode == 2  # a configuration the store refuses: waiting fixes nothing
    assert "newer than this claudechat knows" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("env", "code", "message"),
    [
        ({"CLAUDECHAT_STORAGE_URL": "file://chats"}, 2, "must be an absolute path"),
        (
            {"CLAUDECHAT_STORAGE_URL": "s3://bucket/x", "AWS_PROFILE": "nope"},
            2,
            "cannot set up the S3 client",
        ),
        ({"CLAUDECHAT_DATABASE_URL": "sqlite:////proc/no/such/dir/x.db"}, 5, "cannot create"),
        (  # taken for an outage: every save "saved locally", exit 0
            {
                "CLAUDECHAT_STORAGE_URL": "s3://bucket/x",
                "AWS_ACCESS_KEY_ID": "",
                "AWS_SECRET_ACCESS_KEY": "",
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true",
            },
            2,
            "no AWS credentials for the S3 store",
        ),
    ],
    ids=["relative-file-url", "missing-aws-profile", "uncreatable-sqlite", "no-aws-credentials"],
)
def test_set_up_failures_are_one_line(cli, env, code, message) -> None:  # type: ignore[no-untyped-def]
    result = cli("list", env=env)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bedrock_with_a_missing_profile_is_one_line(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    env = {
        "CLAUDECHAT_PROVIDER": "bedrock",
        "AWS_PROFILE": "nope",
        "AWS_REGION": "us-east-1",
        "ANTHROPIC_BEDROCK_BASE_URL": fake_api.base_url,
    }
    result = cli("chat", input="hello", env=env)
    assert result.returncode == 2
    assert "cannot set up Bedrock" in result.stderr
    assert "Traceback" not in result.stderr


def test_server_text_in_errors_is_shown_not_obeyed(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(ErrorReply(400, "invalid_request_error", "bad \x1b]0;PWNED\x07\x1b[2J request"))
    result = cli("chat", input="hello")
    assert result.returncode == 3
    assert "\x1b]0;PWNED" not in result.stderr and "\x1b[2J" not in result.stderr
    assert "^[]0;PWNED^G^[[2J" in result.stderr


def test_a_base_url_with_no_messages_api_is_named_not_taken_for_an_unknown_model(  # type: ignore[no-untyped-def]
    fake_api, cli
) -> None:
    result = cli("chat", "hello", env={"ANTHROPIC_BASE_URL": fake_api.base_url + "/wrong"})
    assert result.returncode == 3
    lines = [line for line in result.stderr.splitlines() if line.startswith("claudechat:")]
    assert len(lines) == 1, result.stderr
    assert f"404 (not found) at {fake_api.base_url}/wrong/v1/messages:" in lines[0]
    assert "check ANTHROPIC_BASE_URL" in lines[0]
    # The models list, asked first, says the same of its own address.
    assert f"404 (not found) at {fake_api.base_url}/wrong/v1/models:" in result.stderr
    assert "does not know model" not in result.stderr and "goes back" not in result.stderr


def test_a_user_with_no_home_directory_is_told_the_client_cannot_be_set_up(  # type: ignore[no-untyped-def]
    fake_api,
) -> None:
    """The SDK looks for credentials under the home directory; with none (an unknown uid, no
    HOME) its error was taken for a broken stream: retried, then exit 4."""
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="claudechat-stranger-"))  # pytest's folders are 0700
    home.chmod(0o777)
    keep = ("PATH", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "PYTHONPATH")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env |= {"CLAUDECHAT_HOME": str(home), "NO_PROXY": "127.0.0.1"}
    stranger = ["setpriv", "--reuid=54321", "--regid=54321", "--clear-groups"]
    result = subprocess.run(
        [*stranger, sys.executable, "-m", "claudechat", "chat", "hello"],
        env=env,
        input=b"",
        capture_output=True,
        timeout=60,
    )
    shutil.rmtree(home)
    said = result.stderr.decode()
    assert result.returncode == 2, said
    assert "cannot set up the Anthropic client" in said and "cut off" not in said


def test_doctor_leaves_a_row_a_session_saved_meanwhile(backend) -> None:  # type: ignore[no-untyped-def]
    """doctor reads the rows, then every document (seconds on a long history): a session
    saving meanwhile made its row newer than the one doctor read, and the check ended with
    "was changed by another session", exit 5, for a row that needed nothing."""
    from claudechat.storage.repair import DoctorReport, _repair_row

    store = open_store(load_settings())
    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    conversation.append("user", "first")
    assert store.save(conversation).pushed
    read_by_doctor = store.metadata.get("tester", conversation.id)
    conversation.append("assistant", "a reply saved while doctor reads")
    assert store.save(conversation).pushed  # the row doctor read is one version behind
    report = DoctorReport()
    _repair_row(store, store.load("tester", conversation.id), read_by_doctor, report)
    assert report.refreshed == [] and report.adopted == []
    assert store.metadata.get("tester", conversation.id).message_count == 2
    store.close()


def test_a_sslmode_libpq_refuses_is_a_setting_error_before_claude_is_asked(  # type: ignore[no-untyped-def]
    cli, team, fake_api
) -> None:
    """`?sslmode=bogus` was found when the database was first used: after Claude had answered,
    as an outage ("saved locally", exit 0; `list` exit 5)."""
    url = team.database_url + ("&" if "?" in team.database_url else "?") + "sslmode=bogus"
    for command in (["list"], ["chat"]):
        result = cli(*command, input="hello", env={"CLAUDECHAT_DATABASE_URL": url})
        assert result.returncode == 2, result.stderr
        assert "sslmode must be one of disable, allow" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""
    assert fake_api.requests == []
