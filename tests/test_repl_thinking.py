"""Thinking in the real REPL, seen through a terminal emulator: dimmed while it streams, one
line once the answer starts, /thinking in full; the dim line and /usage agree on money."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

import pexpect
import pyte
import pytest

from fakes.anthropic_api import Reply
from test_repl import CTRL_C, PROMPT, leave, say, spawn, stored

pytestmark = pytest.mark.pty
THOUGHT = " ".join(f"step{i} of the reasoning." for i in range(40))


def screen_lines(raw: str) -> list[str]:
    screen = pyte.HistoryScreen(100, 30, history=500)
    stream = pyte.Stream(screen)
    stream.feed(raw.replace("\n", "\r\n") if "\r\n" not in raw else raw)
    history = ["".join(char.data for char in line.values()).rstrip() for line in screen.history.top]
    return history + [line.rstrip() for line in screen.display]


@pytest.fixture
def watched(fake_api, cli) -> Iterator[tuple[pexpect.spawn, io.StringIO]]:  # type: ignore[no-untyped-def]
    assert cli("models").returncode == 0  # a cache for Tab completion
    child = spawn()
    seen = io.StringIO()
    child.logfile_read = seen
    yield child, seen
    child.close(force=True)


def test_thinking_streams_dimmed_then_collapses_and_prints_in_full(watched, fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    child, seen = watched
    fake_api.queue(
        Reply(
            "The answer is 42.",
            thinking=THOUGHT,
            delay=0.03,
            input_tokens=1000,
            cache_creation_input_tokens=190,
            cache_read_input_tokens=9800,
            output_tokens=412,
        )
    )
    say(child, "what is the answer?")
    child.expect_exact("step3")
    assert re.search(r"\x1b\[(?:0;)?2m[^\x1b]*step0 of the reasoning", seen.getvalue())  # dimmed
    child.expect(r"thought for \d+ s · [\d,]+ tokens")
    child.expect_exact("The answer is 42.")
    child.expect_exact("1,190 in · 412 out · 9,800 from cache · $0.0128")
    child.expect_exact(PROMPT)
    lines = screen_lines(seen.getvalue())
    assert any(re.fullmatch(r"thought for \d+ s · [\d,]+ tokens", line) for line in lines)
    assert not any("step5 of" in line for line in lines)  # the streamed thinking collapsed
    answer = lines.index("The answer is 42.")
    assert lines[answer - 1].startswith("thought for")  # above the answer

    say(child, "/thinking")
    child.expect_exact("step39 of the reasoning.")
    say(child, "/usage")
    child.expect_exact("$0.0265")
    child.expect_exact(PROMPT)
    said = " ".join(" ".join(screen_lines(seen.getvalue())).split())  # wrapped to the window
    assert (
        "1,000 input at full rate + 190 written to cache + 9,800 read from cache "
        "= 10,990 tokens in · 412 out"
    ) in said
    assert "cost $0.0128 · caching saved $0.0265" in said
    child.send("/model claude-hai\t")
    child.expect_exact("ku-4-5")  # Tab completed the id from the cache
    child.send("\r")
    child.expect_exact("context window 200,000 tokens")
    document = stored(cli, leave(child))
    thinking = document["messages"][1]["content"][0]
    assert thinking == {"type": "thinking", "thinking": THOUGHT, "signature": "sig-fake"}


def test_ctrl_c_while_thinking_keeps_nothing_half_signed(watched, fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    child, _seen = watched
    fake_api.queue(Reply("never shown", thinking=THOUGHT, delay=0.1))
    say(child, "think hard")
    child.expect_exact("step2")
    child.send(CTRL_C)
    # Nothing of the reply can be kept (unsigned thinking): not "what arrived is kept".
    child.expect_exact("(interrupted before any answer: /retry asks again)")
    child.expect_exact(PROMPT)
    say(child, "then answer this")
    child.expect_exact("echo: then answer this")  # alone: the stopped message is set aside
    child.expect_exact(PROMPT)
    sent = json.dumps(fake_api.requests[-1].body["messages"])
    assert "thinking" not in sent and "step" not in sent

    say(child, "/think off")
    child.expect_exact("thinking: off")
    say(child, "/effort high")
    child.expect_exact("effort: high (levels: low, medium, high, max)")
    say(child, "/model")  # what the session asks for, beside what the model offers
    child.expect(r"thinking adaptive[^·]* \(now off\) · effort low/medium/high/max \(now high\)")
    say(child, "/effort xhigh")  # a level this model lacks: taken, then refused by the API
    child.expect_exact("takes effort low, medium, high, max, not xhigh")
    say(child, "/model claude-haiku-4-5")  # a model with no effort levels at all
    child.expect_exact(PROMPT)
    say(child, "/effort")
    child.expect(r"effort: high, but claude-haiku-4-5 takes no effort level")
    child.expect_exact(PROMPT)
    say(child, "/model claude-sonnet-4-6")
    say(child, "quickly")
    child.expect_exact("echo: quickly")
    child.expect_exact(PROMPT)
    body = fake_api.requests[-1].body
    assert "thinking" not in body and body["output_config"] == {"effort": "high"}
    document = stored(cli, leave(child))
    blocks = [b for m in document["messages"] for b in m["content"]]
    assert not any(b["type"] == "thinking" for b in blocks)


def test_think_on_says_at_once_when_the_model_cannot_think(watched, fake_api) -> None:  # type: ignore[no-untyped-def]
    """It answered "thinking: on", and only the next reply said the model cannot think (as
    /effort already said at once of a model with no effort levels)."""
    child, _seen = watched
    say(child, "/model claude-haiku-4-5")
    child.expect_exact("model: claude-haiku-4-5")
    say(child, "/think on")
    child.expect(r"thinking: on, but claude-haiku-4-5 cannot think aloud")
    say(child, "/model claude-sonnet-4-6")
    child.expect_exact("model: claude-sonnet-4-6")
    say(child, "/think")
    child.expect_exact("thinking: on\x1b[0m")  # the whole line: nothing more to say


def test_a_notice_said_by_a_command_is_not_said_again_by_the_next_reply(watched) -> None:  # type: ignore[no-untyped-def]
    """/think and /effort said at once that the model cannot take them, /model that it did
    not know the model; the next reply said each a second time, in the request's words."""
    child, seen = watched
    say(child, "/model claude-haiku-4-5")
    child.expect_exact("model: claude-haiku-4-5")
    say(child, "/think on")
    child.expect_exact("cannot think aloud: it applies once the model can")
    say(child, "/effort high")
    child.expect_exact("takes no effort level: it applies once the model takes one")
    say(child, "one")
    child.expect_exact("echo: one")
    child.expect_exact(PROMPT)
    say(child, "/model claude-future-1")
    child.expect_exact("(not described: conservative limits")
    say(child, "two")
    child.expect_exact("echo: two")
    child.expect_exact(PROMPT)
    lines = screen_lines(seen.getvalue())
    screen = "\n".join(lines)
    # (Thinking and effort are still asked for: the unknown model's reply says it cannot
    # take them, once.)
    for said in (
        "claude-haiku-4-5 cannot think aloud",
        "claude-haiku-4-5 takes no effort level",
        "not described",
    ):
        assert sum(said in line for line in lines) == 1, screen


def test_model_says_at_once_what_the_new_model_cannot_take(watched) -> None:  # type: ignore[no-untyped-def]
    """/model to a model that cannot think or takes no effort level, while the session asks
    for both, described it without a word; only the next reply said so."""
    child, seen = watched
    say(child, "/think on")
    child.expect_exact("thinking: on")
    say(child, "/effort high")
    child.expect_exact("effort: high (levels:")
    say(child, "/model claude-haiku-4-5")
    child.expect_exact("cannot think aloud: it applies once the model can")
    say(child, "one")
    child.expect_exact("echo: one")
    child.expect_exact(PROMPT)
    lines = screen_lines(seen.getvalue())
    screen = "\n".join(lines)
    for said in ("claude-haiku-4-5 cannot think aloud", "claude-haiku-4-5 takes no effort level"):
        assert sum(said in line for line in lines) == 1, screen
    described = next(i for i, line in enumerate(lines) if line.startswith("model: claude-haiku"))
    after = "\n".join(lines[described : described + 6])
    assert "takes no effort level" in after and "cannot think aloud" in after, screen


@pytest.fixture
def lesser(fake_api) -> None:  # type: ignore[no-untyped-def]
    """A model with one effort level in the catalogue, before `watched` caches it."""
    from fakes.models_catalogue import model_entry

    fake_api.models.append(
        model_entry("claude-lesser-1", "Claude Lesser 1", "2026-01-01T00:00:00Z", effort=("low",))
    )


def test_model_says_at_once_that_it_lacks_the_effort_level_asked(lesser, watched) -> None:  # type: ignore[no-untyped-def]
    """/model to a model with effort levels, but not the session's, said nothing; only the
    next reply said "has no effort level 'max'"."""
    child, seen = watched
    say(child, "/effort max")
    child.expect_exact("effort: max (levels:")
    say(child, "/model claude-lesser-1")
    child.expect_exact("effort: max, but claude-lesser-1 takes low only")
    say(child, "one")
    child.expect_exact("echo: one")
    child.expect_exact(PROMPT)
    lines = screen_lines(seen.getvalue())
    assert sum("effort: max, but claude-lesser-1" in line for line in lines) == 1
    assert not any("has no effort level 'max'" in line for line in lines), "\n".join(lines)
