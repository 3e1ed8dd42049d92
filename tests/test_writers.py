"""Many writers at once, on one conversation and on separate ones, on both configurations.

Every message sent is counted against what is stored (exactly once each, with exactly one
reply); the fake Messages API's recorded requests show that each request carried its own
session's message only (never another session's unanswered one); and nothing is forked.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path

from conftest import FORK_SERVER, content_text, echoed
from test_faults import conversation_id, stored

WRITERS = 8
WRITER = Path(__file__).with_name("writer.py")


def run_writers(reference: str, turns: int) -> dict[str, list[str]]:
    """WRITERS processes at once, each sending `turns` messages; their messages by writer."""
    messages = {f"w{w}": [f"w{w} t{t}" for t in range(turns)] for w in range(WRITERS)}
    processes = [
        FORK_SERVER.popen([sys.executable, str(WRITER), reference, *texts], dict(os.environ), True)
        for texts in messages.values()
    ]
    try:
        for process in processes:
            _out, err = process.communicate(timeout=180)
            assert process.returncode == 0, err
            assert "Traceback" not in err and "warning" not in err, err
    finally:
        for process in processes:  # after a failure, none is left running
            process.kill()
    return messages


def assert_each_request_carried_only_its_own_message(fake_api, sent: list[str]) -> None:  # type: ignore[no-untyped-def]
    asked = []
    for request in fake_api.requests:
        messages = request.body["messages"]
        for message in messages:
            content = message["content"]
            blocks = [content] if isinstance(content, str) else content
            # Consecutive user messages would be merged into one with several blocks: a
            # single text block means no other session's unanswered message rode along.
            assert len([b for b in blocks if isinstance(b, str) or b["type"] == "text"]) == 1
        assert messages[-1]["role"] == "user"
        asked.append(content_text(messages[-1]["content"]))
    assert sorted(asked) == sorted(sent)  # every message asked about once, nothing twice


def assert_stored_exactly_once(document: dict, sent: list[str]) -> None:  # type: ignore[type-arg]
    texts = Counter(content_text(m["content"]) for m in document["messages"])
    for text in sent:
        assert texts[text] == 1, text
        assert texts[f"echo: {text}"] == 1, text
    assert sum(texts.values()) == 2 * len(sent)
    by_id = {m["id"]: m for m in document["messages"]}
    for message in document["messages"]:
        if message["role"] == "assistant":  # each reply answers the message it echoes
            asked = by_id[message["parent_id"]]
            assert content_text(message["content"]) == "echo: " + content_text(asked["content"])


def test_many_writers_on_one_conversation_lose_nothing_and_answer_nothing_twice(  # type: ignore[no-untyped-def]
    backend, fake_api, cli
) -> None:
    shared = conversation_id(cli("chat", input="seed").stderr)
    written = run_writers(shared, turns=3)
    sent = ["seed", *(text for texts in written.values() for text in texts)]
    assert_each_request_carried_only_its_own_message(fake_api, sent)
    assert_stored_exactly_once(stored(cli, shared), sent)
    listed = cli("list")
    assert listed.returncode == 0, listed.stderr
    (line,) = listed.stdout.splitlines()  # one conversation: nothing forked
    assert line.startswith(shared[:8])


def test_many_writers_on_separate_conversations_never_meet(backend, fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    written = run_writers("new", turns=2)
    sent = [text for texts in written.values() for text in texts]
    assert_each_request_carried_only_its_own_message(fake_api, sent)
    listed = cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert sorted(r["name"] for r in rows) == sorted(texts[0] for texts in written.values())
    for row in rows:
        texts = written[row["name"].split()[0]]
        document = stored(cli, row["id"])
        assert [content_text(m["content"]) for m in document["messages"]] == echoed(*texts)


def lock_files(home: Path) -> list[str]:
    folder = home / "journal" / ".writers"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_process_done_with_the_journal_leaves_no_lock_file(fake_api, cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    """Each process that saved left its lock file for good: 22, then 25 after three turns."""
    for turn in range(3):
        assert cli("chat", input=f"turn {turn}").returncode == 0
    assert lock_files(isolated_home) == []


def test_a_gone_writers_lock_file_is_removed_and_a_live_ones_kept(cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    """A crashed process (or an earlier version) left its file; the next start removes it,
    but not the file of a session still running, whose entry is not pushed behind its back."""
    from claudechat.conversation import Conversation
    from claudechat.storage.journal import Journal

    live = Journal(isolated_home / "journal")
    unsaved = Conversation.new("tester", "claude-sonnet-4-6")
    unsaved.append("user", "still being written")
    live.write(unsaved)  # holds its lock, as a running session does
    (isolated_home / "journal" / ".writers" / "0123abcd.lock").touch()  # a crashed one's
    assert cli("list").returncode == 0
    assert lock_files(isolated_home) == [f"{live.writer}.lock"]
    assert [e.conversation.id for e in live.entries("tester")] == [unsaved.id]
    live.release()
    assert lock_files(isolated_home) == []
