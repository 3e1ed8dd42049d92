"""On the embedded store a JSON turn answered first is pushed once its conversation rests
(`serve --push-after`): turns in quick succession are pushed together, every reader here sees
them meanwhile (the journal), SIGTERM pushes what waits, and a server killed leaves it in the
journal for the next push."""

from __future__ import annotations

import json
import signal
import threading
import time

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


def _save(name: str, pushed: list[str]) -> PendingSave:
    def push() -> SaveResult:
        pushed.append(name)
        return SaveResult(pushed=True)

    return PendingSave(push, journaled=True, make_durable=lambda: True)


def test_a_later_turn_replaces_the_push_waiting_and_restarts_the_rest() -> None:
    pushed: list[str] = []
    pushes = DeferredPushes(lambda save: save(), quiet=0.3)
    for name in ("first", "second", "third"):
        pushes.add("c1", _save(name, pushed))
        time.sleep(0.1)
    assert pushed == [] and pushes.conversations() == {"c1"}
    wait_until(lambda: pushed, "pushed", 5)
    time.sleep(0.4)
    assert pushed == ["third"]
    assert pushes.conversations() == set()


def test_a_conversation_that_never_rests_is_pushed_all_the_same() -> None:
    pushed: list[str] = []
    pushes = DeferredPushes(lambda save: save(), quiet=0.2)  # at the latest 1 s after
    started = time.monotonic()
    turn = 0
    while not pushed and time.monotonic() - started < 5:
        pushes.add("c1", _save(f"turn {turn}", pushed))
        turn += 1
        time.sleep(0.05)
    assert pushed, "never pushed while turns kept coming"
    assert 0.9 < time.monotonic() - started < 3


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
    assert pushes.flush(10)
    assert pushed == ["a", "b", "c"]  # the one due first failed; the others went on
    assert pushes.conversations() == set()
