"""The less common recovery paths: rows and blobs that moved under a live session, damaged
journal entries, /retry cut short, and set-up failures that must stay one line."""

from __future__ import annotations

import json
import sqlite3

import pytest

from claudechat.chat import ChatSession
from claudechat.claude import Claude
from claudechat.conversation import Conversation
from claudechat.errors import ReplyCutOffError
from claudechat.settings import load_settings
from claudechat.storage import open_store
from claudechat.storage.journal import Journal
from claudechat.storage.store import ConversationConflictError
from conftest import content_text
from fakes.anthropic_api import ErrorReply, Reply


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
    other.metadata.update(row, row.version)
    row.version += 1

    convo.append("assistant", "hi")
    assert live.save(convo).pushed  # no conflict, no fork
    (listed,) = other.list("tester").rows
    assert (listed.conversation_id, listed.message_count) == (convo.id, 2)
    assert other.load("tester", convo.id).messages[-1].content == "hi"


def test_a_document_removed_under_a_live_session_is_a_conflict(backend) -> None:  # type: ignore[no-untyped-def]
    live = open_store(load_settings())
    convo = saved_conversation(live)
    live.blobs.delete(live.blob_key("tester", convo.id))
    convo.append("assistant", "hi")
    with pytest.raises(ConversationConflictError):
        live.save(convo)
    forked = live.fork(convo)
    assert forked.parent_id == convo.id
    assert [m.content for m in live.load("tester", forked.id).messages] == ["hello", "hi"]


def test_a_journal_entry_rewritten_meanwhile_is_not_removed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    journal = Journal(tmp_path / "journal")
    convo = Conversation.new("tester", "m")
    first = journal.write(convo, None)
    convo.append("user", "newer turn")
    journal.write(convo, None)
    journal.remove("tester", convo.id, first)  # a drain that pushed the older version
    entry = journal.get("tester", convo.id)
    assert entry is not None and entry.conversation.messages[0].content == "newer turn"


def test_a_damaged_journal_entry_is_reported_not_hidden(cli, fake_api, isolated_home) -> None:  # type: ignore[no-untyped-def]
    result = cli("chat", input="kept")
    conversation_id = result.stderr.split()[-1]
    entry = isolated_home / "journal" / "tester" / f"{conversation_id}.json"
    entry.write_text('{"format": 1, "base": nul')

    listed = cli("list")
    assert "journal entr(ies) cannot be read" in listed.stderr
    shown = cli("show", conversation_id)
    assert shown.returncode == 1 and "damaged journal entry" in shown.stderr
    assert "Traceback" not in shown.stderr
    doctor = cli("doctor")
    assert doctor.returncode == 1
    assert "journal entry that cannot be read" in doctor.stdout
    assert entry.exists()  # kept for a person to look at, never dropped


def test_doctor_never_adopts_a_document_that_claims_another_owner(backend, cli) -> None:  # type: ignore[no-untyped-def]
    store = open_store(load_settings())
    convo = saved_conversation(store)
    key = store.blob_key("tester", convo.id)
    forged = json.loads(store.blobs.get(key)) | {"user_id": "mallory"}
    store.blobs.put(key, json.dumps(forged).encode())
    report = cli("doctor")
    assert report.returncode == 1
    assert f"{convo.id}\tdocument that cannot be read" in report.stdout
    assert cli("list", env={"CLAUDECHAT_USER": "mallory"}).stdout == ""


def test_a_retry_cut_short_keeps_the_earlier_reply(fake_api) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings()
    session = ChatSession.start(settings, open_store(settings), Claude(settings))
    fake_api.queue(Reply("the first, complete answer"))
    session.send("question", lambda _text: None)
    fake_api.queue(Reply(chunks=["a new ", "answer"], cut_after=1))
    with pytest.raises(ReplyCutOffError):
        session.retry(lambda _text: None)
    stored = open_store(settings).load("tester", session.conversation.id)
    assert [(m.content, m.status) for m in stored.messages] == [
        ("question", "complete"),
        ("the first, complete answer", "complete"),
        ("a new ", "incomplete"),
    ]
    # The next turn builds on the complete answer, not on the fragment.
    session.send("thanks", lambda _text: None)
    assert [content_text(m["content"]) for m in fake_api.requests[-1].body["messages"]] == [
        "question",
        "the first, complete answer",
        "thanks",
    ]


def test_a_database_schema_newer_than_this_claudechat_is_refused(cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    assert cli("list").returncode == 0
    with sqlite3.connect(isolated_home / "claudechat.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0099'")
    result = cli("list")
    assert result.returncode == 5
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
    ],
    ids=["relative-file-url", "missing-aws-profile", "uncreatable-sqlite"],
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
