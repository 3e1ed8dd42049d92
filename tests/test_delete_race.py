"""`delete` racing a save in another process: once delete says it removed a conversation, it
stays gone, on both configurations."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from claudechat.conversation import Conversation
from claudechat.errors import ConversationDeletedError
from claudechat.settings import load_settings
from claudechat.storage import open_store
from claudechat.storage.deletions import mark_deleted
from test_delete import saved

PAIRS = 16  # without the fix, every run brought two or more of them back
# How long each delete waits after its save starts: spread so that the saves reach the store
# at every point of the deletes, between a document and its row among them.
DELAYS = [i * 0.01 for i in range(PAIRS)]


def delayed(cli, delay: float, *args: str):  # type: ignore[no-untyped-def]
    time.sleep(delay)
    return cli(*args)


def test_a_save_that_loses_the_race_with_delete_writes_nothing_back(  # type: ignore[no-untyped-def]
    cli, backend, fake_api
) -> None:
    """A save whose document went in just before the tombstone wrote its row and search
    entries after the delete: `list` showed 2 or 3 of 8 again, `search` found their text,
    `show` said they were deleted and `doctor` found rows without documents."""
    doomed = [saved(f"zeppelin cargo manifest {n}") for n in range(PAIRS)]
    with ThreadPoolExecutor(max_workers=2 * PAIRS) as pool:
        saves, deletes = [], []
        for n, conversation in enumerate(doomed):
            if n % 2:
                save = ("rename", conversation.id, f"zeppelin renamed {n}")
            else:
                save = ("chat", "-r", conversation.id, f"zeppelin turn {n}")
            saves.append(pool.submit(cli, *save))
            deletes.append(pool.submit(delayed, cli, DELAYS[n], "delete", conversation.id, "-y"))
        for done in deletes:
            result = done.result()
            assert result.returncode == 0 and "deleted " in result.stderr, result.stderr
        for done in saves:
            result = done.result()
            # Before the delete, or after it and told so: never a success that is then undone.
            told = "was deleted" in result.stderr or "no conversation" in result.stderr
            assert result.returncode == 0 or told, result.stderr
    assert json.loads(cli("list", "--json").stdout) == []
    assert json.loads(cli("search", "zeppelin", "--json").stdout) == []
    doctor = cli("doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr


def test_a_save_into_a_deleted_id_writes_no_row_and_says_it_was_deleted(backend) -> None:  # type: ignore[no-untyped-def]
    """The losing save's row transaction, run at the very moment the race leaves it: its
    document stored, the id deleted."""
    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    conversation.append("user", "a quokka census")
    store = open_store(load_settings())
    with store.metadata.writing() as connection:
        mark_deleted(connection, "tester", conversation.id)
    with pytest.raises(ConversationDeletedError, match="was deleted"):
        store.record(conversation)
    assert store.metadata.get("tester", conversation.id) is None
    store.revive("tester", conversation.id)  # an import of its export: saved again
    assert store.save(conversation).pushed
    assert store.metadata.get("tester", conversation.id) is not None
    store.close()
