"""The team configuration's own promises: S3 layout and encryption, clear failures, user scoping."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from claudechat.conversation import Conversation
from claudechat.errors import UsageError
from claudechat.settings import load_settings
from claudechat.storage import open_store
from fakes.anthropic_api import Reply


def bucket_and_prefix(storage_url: str) -> tuple[str, str]:
    bucket, _, prefix = storage_url.removeprefix("s3://").partition("/")
    return bucket, prefix


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"CLAUDECHAT_S3_SSE": "AES256"}, {"ServerSideEncryption": "AES256"}),
        (
            {"CLAUDECHAT_S3_SSE": "aws:kms", "CLAUDECHAT_S3_KMS_KEY_ID": "alias/claudechat"},
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/claudechat"},
        ),
    ],
    ids=["sse-s3", "sse-kms"],
)
def test_documents_are_encrypted_json_at_prefix_user_id(  # type: ignore[no-untyped-def]
    team, s3, monkeypatch, settings, expected
) -> None:
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    store = open_store(load_settings())
    convo = Conversation.new("tester", "claude-sonnet-4-6")
    convo.append("user", "hi")
    store.save(convo)
    bucket, prefix = bucket_and_prefix(team.storage_url)
    head = s3.client().head_object(Bucket=bucket, Key=f"{prefix}/tester/{convo.id}.json")
    assert head["ContentType"] == "application/json"
    for field, value in expected.items():
        assert head[field].endswith(value)
    (row,) = store.list("tester").rows
    assert row.s3_file_location == f"s3://{bucket}/{prefix}/tester/{convo.id}.json"


def test_a_missing_bucket_is_named_never_created_and_nothing_is_lost(  # type: ignore[no-untyped-def]
    cli, team, s3, fake_api
) -> None:
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    env = {"CLAUDECHAT_STORAGE_URL": f"s3://{missing}/x"}
    result = cli("chat", input="hello", env=env)
    # No outage that passes: the configuration's exit code (test_store_refused.py).
    assert result.returncode == 2, result.stderr
    assert result.stdout == "echo: hello\n"
    assert f"S3 bucket {missing!r} does not exist" in result.stderr
    assert "saved locally and will be pushed once that is fixed" in result.stderr
    assert "Traceback" not in result.stderr
    names = [b["Name"] for b in s3.client().list_buckets()["Buckets"]]
    assert missing not in names

    conversation_id = result.stderr.split()[-1]
    # A second process's entry for the same conversation: still one conversation waiting.
    assert cli("rename", conversation_id[:8], "still one", env=env).returncode == 0
    listed = cli("list", env=env)
    assert listed.stdout.split("\t")[0].endswith("*")
    assert "1 conversation waits to be pushed" in listed.stderr
    assert "echo: hello" in cli("show", conversation_id, env=env).stdout

    s3.create_bucket(missing)
    synced = cli("sync", env=env)
    assert synced.returncode == 0 and "pushed 1 conversation" in synced.stderr
    assert not cli("list", env=env).stdout.split("\t")[0].endswith("*")
    keys = s3.client().list_objects_v2(Bucket=missing)["Contents"]
    assert [k["Key"] for k in keys] == [f"x/tester/{conversation_id}.json"]


def test_an_unreachable_database_is_named_without_the_password(cli) -> None:  # type: ignore[no-untyped-def]
    url = "postgresql+psycopg2://chat:hunter2@127.0.0.1:9/chats"
    result = cli("list", env={"CLAUDECHAT_DATABASE_URL": url})
    assert result.returncode == 5
    assert "database chats on 127.0.0.1:9" in result.stderr
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_storage_url_is_a_usage_error(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("list", env={"CLAUDECHAT_STORAGE_URL": "ftp://x/y"})
    assert result.returncode == 2 and "unsupported storage URL" in result.stderr


def test_two_users_sharing_one_database_and_bucket(cli, team, fake_api) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(Reply("for alice"), Reply("for bob"))
    alice = cli("chat", input="alice's secret", env={"CLAUDECHAT_USER": "alice"})
    bob = cli("chat", input="bob's secret", env={"CLAUDECHAT_USER": "bob"})
    alice_id = re.search(r"[0-9a-f-]{36}", alice.stderr).group(0)  # type: ignore[union-attr]
    bob_id = re.search(r"[0-9a-f-]{36}", bob.stderr).group(0)  # type: ignore[union-attr]

    as_alice = {"CLAUDECHAT_USER": "alice"}
    listed = json.loads(cli("list", "--json", env=as_alice).stdout)
    assert [c["id"] for c in listed] == [alice_id]
    for reference in (bob_id, bob_id[:8]):
        denied = cli("show", reference, env=as_alice)
        missing = cli(
            "show", "ffffffff-ffff-4fff-8fff-ffffffffffff"[: len(reference)], env=as_alice
        )
        assert denied.returncode == missing.returncode == 1
        assert denied.stderr.replace(reference, "X") == missing.stderr.replace(
            "ffffffff-ffff-4fff-8fff-ffffffffffff"[: len(reference)], "X"
        )
        assert "bob's secret" not in denied.stdout
    resumed = cli("chat", "--resume", bob_id, input="let me in", env=as_alice)
    assert resumed.returncode == 1 and "no conversation" in resumed.stderr


def test_user_ids_cannot_reach_other_keys(team) -> None:  # type: ignore[no-untyped-def]
    store = open_store(load_settings())
    for user in ("../bob", "alice/../bob", "", "a" * 200):
        convo = Conversation.new(user, "m")
        convo.append("user", "x")
        with pytest.raises(UsageError, match="invalid user id"):
            store.save(convo)
