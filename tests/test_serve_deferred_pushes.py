"""On the embedded store a JSON turn answered first is pushed once its conversation rests
(`serve --push-after`): turns in quick succession are pushed together, every reader here sees
them meanwhile (the journal), SIGTERM pushes what waits, and a server killed leaves it in the
journal for the next push."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from claudechat.conversation import Conversation
from claudechat.server.deferred_pushes import DeferredPushes
from claudechat.storage.results import PendingSave, SaveResult
from conftest import API_KEY
from fakes.anthropic_api import FakeAnthropic
from serve_harness import Serve, clean_env, text_of, wait_until
from test_serve_answer_first import stored_texts, texts_of


def serve_with(fake: FakeAnthropic, push_after: float) -> Serve:
    fake.reset()
    env = clean_env(ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=fake.base_url)
    return Serve(env, "--no-auth", "--push-after", str(push_after))


def journal_entries(serve: Serve) -> list[str]:
    return sorted(p.name for p in (serve.home / "journal").glob("*/*.json"))


def three_turns(serve: Serve) -> tuple[str, list[str]]:
    with serve.client() as http:
        started = http.post("/new_chat", json={}).json()["conversation_id"]
        replies = []
        for turn in range(3):
            answer = http.post("/chat", json={"user_input": f"turn {turn}"})
            assert answer.status_code == 200, answer.text
            replies.append(answer.json()["reply"])
    return started, [t for turn, r in enumerate(replies) for t in (f"turn {turn}", r)]


def test_turns_answered_first_reach_the_store_once_the_conversation_rests(
    fake_server: FakeAnthropic,
) -> None:
    with serve_with(fake_server, push_after=1) as serve:
        started, expected = three_turns(serve)
        wait_until(lambda: stored_texts(serve, started) == expected, "pushed once rested", 30)
        wait_until(lambda: journal_entries(serve) == [], "the journal entry dropped", 10)
        listed = serve.cli("list", "--json")
        assert [row["synced"] for row in json.loads(listed.stdout)] == [True], listed.stdout


def test_waiting_turns_are_seen_left_by_the_drain_and_pushed_at_sigterm(
    fake_server: FakeAnthropic,
) -> None:
    """Every reader here sees the turns waiting (the journal is read); the journal's drain
    (every 5 s) pushes what nothing else will, not a conversation whose push waits here; and
    stopped, the server pushes what waits before it exits."""
    with serve_with(fake_server, push_after=120) as serve:
        started, expected = three_turns(serve)
        assert stored_texts(serve, started) == []
        assert len(journal_entries(serve)) == 1  # one entry holds the three turns
        with serve.client() as http:
            assert texts_of(http, started) == expected
        shown = serve.cli("show", started, "--json")
        assert shown.returncode == 0, shown.stderr
        assert [text_of(m["content"]) for m in json.loads(shown.stdout)["messages"]] == expected
        listed = serve.cli("list", "--json")
        assert [row["synced"] for row in json.loads(listed.stdout)] == [False], listed.stdout
        time.sleep(6.5)  # a drain's round has passed
        assert stored_texts(serve, started) == []
        assert serve.stop() == 0
        assert stored_texts(serve, started) == expected
        assert journal_entries(serve) == []
        assert "ERROR" not in serve.log()


def test_a_killed_server_leaves_the_turns_in_the_journal_exactly_once(
    fake_server: FakeAnthropic,
) -> None:
    with serve_with(fake_server, push_after=120) as serve:
        started, expected = three_turns(serve)
        assert serve.process is not None
        serve.process.send_signal(signal.SIGKILL)
        serve.process.wait(10)
        assert stored_texts(serve, started) == []
        synced = serve.cli("sync")
        assert synced.returncode == 0, synced.stderr
        assert stored_texts(serve, started) == expected  # each message once
        shown = serve.cli("show", started, "--json")
        assert [text_of(m["content"]) for m in json.loads(shown.stdout)["messages"]] == expected


# -- the schedule, with pushes of the test's own -----------------------------------------------


def _save(name: str, pushed: list[str], holds: Conversation | None = None) -> PendingSave:
    def push() -> SaveResult:
        pushed.append(name)
        return SaveResult(pushed=True)

    return PendingSave(push, journaled=True, make_durable=lambda: True, conversation=holds)


def test_a_later_turn_replaces_the_push_waiting() -> None:
    pushed: list[str] = []
    pushes = DeferredPushes(lambda save: save(), quiet=1.0)
    for name in ("first", "second", "third"):
        pushes.add("c1", _save(name, pushed))
    assert pushed == [] and pushes.conversations() == {"c1"}
    wait_until(lambda: pushed, "pushed", 10)
    time.sleep(0.3)
    assert pushed == ["third"]
    assert pushes.conversations() == set()


def test_each_turn_starts_the_quiet_spell_again() -> None:
    pushed: list[str] = []
    pushes = DeferredPushes(lambda save: save(), quiet=2.0)
    started = time.monotonic()
    for name in ("first", "second", "third"):
        pushes.add("c1", _save(name, pushed))
        time.sleep(1.0)
    assert pushed == [], "pushed before the conversation rested"  # 3 s after the first
    wait_until(lambda: pushed, "pushed", 10)
    assert pushed == ["third"] and time.monotonic() - started >= 4.0


def test_a_conversation_that_never_rests_is_pushed_all_the_same() -> None:
    pushed: list[str] = []
    pushes = DeferredPushes(lambda save: save(), quiet=0.5)  # at the latest 2.5 s after
    started = time.monotonic()
    turn = 0
    while not pushed and time.monotonic() - started < 8:
        pushes.add("c1", _save(f"turn {turn}", pushed))
        turn += 1
        time.sleep(0.05)
    assert pushed, "never pushed while turns kept coming"
    assert 1.2 < time.monotonic() - started < 6


CONVERSATION = "0b9e0f0c-4a43-4a4e-9d0f-6a3c5d1e2f70"


def _turns_saved(*texts: str) -> Conversation:
    conversation = Conversation.new("tester", "m")
    conversation.id = CONVERSATION
    for text in texts:
        conversation.append("user", text)
    return conversation


def test_a_save_answered_late_does_not_replace_one_that_holds_it() -> None:
    """Two turns of one conversation at once: the second's save is written first, the first's
    merges it in (the journal's entry holds both), and the first turn is answered first. The
    second's older save, added last, must not replace the one holding both."""
    pushed: list[str] = []
    both = _turns_saved("one", "two")
    only_second = Conversation.from_document(both.to_document())
    only_second.messages = only_second.messages[1:]
    pushes = DeferredPushes(lambda save: save(), quiet=60)
    pushes.add("c1", _save("both", pushed, both))
    pushes.add("c1", _save("only the second", pushed, only_second))
    assert pushes.flush(10) == 0
    assert pushed == ["both"]


def test_saves_neither_holding_the_other_are_both_pushed() -> None:
    pushed: list[str] = []
    first, second = _turns_saved("one"), _turns_saved("two")
    pushes = DeferredPushes(lambda save: save(), quiet=60)
    pushes.add("c1", _save("first", pushed, first))
    pushes.add("c1", _save("second", pushed, second))
    pushes.add("c1", _save("first again", pushed, first))  # the same, written later
    assert pushes.flush(10) == 0
    assert pushed == ["second", "first again"]


def test_a_deleted_conversations_push_is_dropped() -> None:
    pushed: list[str] = []
    pushes = DeferredPushes(lambda save: save(), quiet=60)
    pushes.add("gone", _save("gone", pushed))
    pushes.add("kept", _save("kept", pushed))
    pushes.drop("gone")
    assert pushes.flush(10) == 0
    assert pushed == ["kept"]


def test_a_flush_out_of_time_says_what_is_left_and_takes_no_more() -> None:
    release = threading.Event()
    pushed: list[str] = []

    def push(save: PendingSave) -> None:
        release.wait(10)
        save()

    pushes = DeferredPushes(push, quiet=60)
    pushes.add("a", _save("a", pushed))
    pushes.add("b", _save("b", pushed))
    assert pushes.flush(1.0) == 2  # one under way, one waiting
    release.set()
    pushes.add("c", _save("c", pushed))
    wait_until(lambda: pushed == ["a"], "the push under way done", 10)
    time.sleep(0.3)
    assert pushed == ["a"]  # stopped: the journal keeps b and c for the next start


def test_a_flush_counts_a_conversation_pushed_and_waiting_again_once() -> None:
    release = threading.Event()
    pushes = DeferredPushes(lambda save: release.wait(10), quiet=60)
    pushes.add("a", _save("a", []))
    assert pushes.flush(0.5) == 1  # under way
    pushes.add("a", _save("a again", []))  # a later turn of it, answered meanwhile
    assert pushes.flush(0.2) == 1
    release.set()


def test_flush_runs_every_waiting_push_at_once_and_a_failing_one_stops_nothing() -> None:
    pushed: list[str] = []
    held = threading.Event()

    def push(save: PendingSave) -> None:
        if not held.is_set():
            held.set()
            raise RuntimeError("a push that fails")
        save()

    pushes = DeferredPushes(push, quiet=60)
    pushes.add("broken", _save("broken", pushed))
    for name in ("a", "b", "c"):
        pushes.add(name, _save(name, pushed))
    assert pushes.flush(10) == 0
    assert pushed == ["a", "b", "c"]  # the one due first failed; the others went on
    assert pushes.conversations() == set()


def test_pushes_due_together_go_apart() -> None:
    """Conversations begun together come due together: their pushes are paced, not run back
    to back in the worker's GIL."""
    from claudechat.server.deferred_pushes import PACE_SECONDS

    pushed_at: list[float] = []
    pushes = DeferredPushes(lambda _save: pushed_at.append(time.monotonic()), quiet=0.1)
    for name in ("a", "b", "c", "d"):
        pushes.add(name, _save(name, []))
    wait_until(lambda: len(pushed_at) == 4, "all pushed", 5)
    gaps = [later - earlier for earlier, later in itertools.pairwise(pushed_at)]
    assert min(gaps) >= PACE_SECONDS * 0.9, gaps


def test_push_after_must_be_a_finite_number_of_seconds(tmp_path: Path) -> None:
    for value in ("nan", "inf", "1e10", "-1"):
        started = subprocess.run(
            [sys.executable, "-m", "claudechat", "serve", "--push-after", value],
            env={**clean_env(), "CLAUDECHAT_HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert started.returncode == 2, (value, started.stderr)
        assert "--push-after" in started.stderr and "Traceback" not in started.stderr
