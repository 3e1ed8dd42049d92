"""Streams from servers that are almost the Messages API (proxies, reimplementations) and
streams that go wrong mid-reply: every one ends as a kept reply or a kept message, never a
traceback, with the exit code the README promises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claudechat.conversation import Usage
from conftest import content_text, conversation_id
from fakes.anthropic_api import ErrorReply, Reply
from fakes.replies import LOGIN_PAGE
from test_repl import PROMPT, leave, say, spawn


def stored(cli, stderr: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    shown = cli("show", conversation_id(stderr), "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)  # type: ignore[no-any-return]


def kept(document: dict) -> list[tuple[str, str, str]]:  # type: ignore[type-arg]
    return [(m["role"], content_text(m["content"]), m["status"]) for m in document["messages"]]


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Reply("one two three four", malformed_after=2), "could not be read"),
        (Reply("one two three four", unopened_block_after=2), "could not be read"),
        (Reply("one two three four", error_event=("api_error", "boom"), cut_after=2), "boom"),
    ],
    ids=["event-not-json", "delta-for-unopened-block", "error-event-after-text"],
)
def test_a_broken_stream_after_text_is_a_kept_cut_off_reply(cli, fake_api, fault, reason) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(fault)
    result = cli("chat", input="go")
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr
    assert "the reply was cut off" in result.stderr and reason in result.stderr
    assert result.stdout == "one two \n"
    assert kept(stored(cli, result.stderr)) == [
        ("user", "go", "complete"),
        ("assistant", "one two ", "incomplete"),
    ]
    assert len(fake_api.requests) == 1  # text was shown: nothing is re-sent silently


def test_a_stalled_stream_is_reported_after_the_idle_timeout(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(Reply("one two three", stall_after=1, stall_seconds=8))
    result = cli("chat", input="go", env={"CLAUDECHAT_STREAM_IDLE_TIMEOUT": "0.5"})
    assert result.returncode == 4, result.stderr
    assert "sent nothing for 0.5 s" in result.stderr
    assert "stream_idle_timeout" in result.stderr
    assert kept(stored(cli, result.stderr))[-1] == ("assistant", "one ", "incomplete")


def test_the_idle_timeout_is_a_setting(cli, isolated_home: Path) -> None:  # type: ignore[no-untyped-def]
    assert "stream_idle_timeout = 60.0  # default" in cli("config").stdout
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / "config.toml").write_text("stream_idle_timeout = 5\n")
    assert "stream_idle_timeout = 5.0  # config file" in cli("config").stdout
    for bad in ("0", "-1", "soon", "nan"):
        result = cli("config", env={"CLAUDECHAT_STREAM_IDLE_TIMEOUT": bad})
        assert result.returncode == 2, bad
        assert "stream_idle_timeout has an invalid value" in result.stderr


def test_a_server_that_does_not_stream_is_named_and_the_message_kept(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(Reply("a whole message", not_streamed=True))
    result = cli("chat", input="stream please")
    assert result.returncode == 3, result.stderr
    assert "did not stream the reply" in result.stderr
    assert "cut off" not in result.stderr
    assert kept(stored(cli, result.stderr)) == [("user", "stream please", "pending")]
    assert len(fake_api.requests) == 1


def test_a_web_page_in_place_of_the_stream_is_named_and_not_asked_again(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """A captive portal's or a proxy's login page (200, text/html) read as a stream cut off
    before it began: asked three times, then "the reply broke off before any text arrived"."""
    fake_api.queue(Reply(html_page=True))
    result = cli("chat", input="stream please")
    assert result.returncode == 3, result.stderr
    assert "did not stream the reply (it answered with text/html" in result.stderr
    assert "cut off" not in result.stderr and "broke off" not in result.stderr
    assert kept(stored(cli, result.stderr)) == [("user", "stream please", "pending")]
    assert len(fake_api.requests) == 1


@pytest.mark.parametrize("usage", [{}, {"output_tokens": None}], ids=["empty", "null"])
def test_usage_without_output_tokens_is_unknown_and_the_document_readable(  # type: ignore[no-untyped-def]
    cli, fake_api, usage
) -> None:
    fake_api.queue(Reply("fine", input_tokens=11, delta_usage=usage))
    result = cli("chat", input="hello")
    assert result.returncode == 0, result.stderr
    document = stored(cli, result.stderr)
    # message_start's figure (1, as the API sends it) stays: the delta knew no better one.
    assert document["messages"][-1]["usage"]["output_tokens"] == 1
    assert document["messages"][-1]["usage"]["input_tokens"] == 11
    doctor = cli("doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    again = cli("chat", "--continue", input="more")
    assert again.returncode == 0, again.stderr


def test_the_latest_usage_figure_wins(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    # message_delta's usage is cumulative; a server may only know the input there.
    delta = {"input_tokens": 42, "output_tokens": 7, "cache_read_input_tokens": 5}
    fake_api.queue(Reply("hi", input_tokens=0, delta_usage=delta))
    result = cli("chat", input="count me")
    usage = stored(cli, result.stderr)["messages"][-1]["usage"]
    assert usage == {
        "input_tokens": 42,
        "output_tokens": 7,
        "cache_read_tokens": 5,
        "cache_creation_tokens": 0,
    }


def test_a_document_with_null_usage_already_written_is_shown(cli, isolated_home: Path) -> None:  # type: ignore[no-untyped-def]
    """Earlier versions stored a proxy's null output_tokens; such documents must still open."""
    cid = "0b6a3c3e-1f2d-4c5b-9a8e-7d6c5b4a3f21"
    message = {"role": "assistant", "content": "hi", "created_at": "2026-01-01T00:00:00+00:00"}
    message["usage"] = {"input_tokens": 3, "output_tokens": None}
    document = {
        "format": 1,
        "id": cid,
        "user_id": "tester",
        "model": "claude-sonnet-4-6",
        "created_at": "2026-01-01T00:00:00+00:00",
        "updated_at": "2026-01-01T00:00:00+00:00",
        "messages": [
            {"role": "user", "content": "hello", "created_at": "2026-01-01T00:00:00+00:00"},
            message,
        ],
    }
    folder = isolated_home / "conversations" / "tester"
    folder.mkdir(parents=True)
    (folder / f"{cid}.json").write_text(json.dumps(document))
    doctor = cli("doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "row re-created" in doctor.stdout
    shown = cli("show", cid[:8])
    assert shown.returncode == 0, shown.stderr
    assert "hi" in shown.stdout


def test_usage_that_could_not_be_read_back_cannot_be_made() -> None:
    with pytest.raises(ValueError, match="output_tokens"):
        Usage(output_tokens=None)  # type: ignore[arg-type]
    assert Usage.from_dict({"output_tokens": None}).output_tokens == 0


@pytest.mark.pty
def test_the_repl_stays_up_after_a_malformed_event(fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(Reply("alpha beta gamma delta", malformed_after=2), Reply("recovered fine"))
    child = spawn()
    say(child, "first")
    child.expect_exact("the reply was cut off")
    child.expect_exact(PROMPT)
    say(child, "second")
    child.expect_exact("recovered fine")
    child.expect_exact(PROMPT)
    cid = leave(child)
    document = json.loads(cli("show", cid, "--json").stdout)
    assert kept(document) == [
        ("user", "first", "complete"),
        ("assistant", "alpha beta ", "incomplete"),
        ("user", "second", "complete"),
        ("assistant", "recovered fine", "complete"),
    ]


def test_a_rate_limit_is_waited_out_as_claude_asks_and_said_so(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """The session retries now (the SDK's own waits could not be stopped): it waits what
    retry-after says, and says so, instead of seconds of silence."""
    from fakes.anthropic_api import ErrorReply

    fake_api.queue(ErrorReply(429, "rate_limit_error", headers={"retry-after": "1"}))
    fake_api.queue(Reply("there you are"))
    done = cli("chat", "hello?")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "there you are"
    assert (
        "rate limiting requests (429): rate_limit_error: Error from the fake; "
        "retrying in 1 s (1/2)" in done.stderr
    )
    first, second = fake_api.requests[-2:]
    assert second.received_at - first.received_at >= 1


def test_claude_saying_not_to_retry_or_to_wait_long_is_heeded(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """x-should-retry: false is the API's own word (the SDK heeded it); a retry-after past a
    minute is the user's to wait out, and the line says how long."""
    from fakes.anthropic_api import ErrorReply

    fake_api.queue(ErrorReply(500, "api_error", headers={"x-should-retry": "false"}))
    asked = len(fake_api.requests)
    refused = cli("chat", "once")
    assert refused.returncode == 3 and len(fake_api.requests) == asked + 1, refused.stderr
    fake_api.queue(ErrorReply(429, "rate_limit_error", headers={"retry-after": "100"}))
    limited = cli("chat", "later")
    assert limited.returncode == 3 and len(fake_api.requests) == asked + 2, limited.stderr
    assert (
        "rate limiting requests (429; it asks to wait 100 s): rate_limit_error:" in limited.stderr
    )


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "7", "retry-after-ms": "1500"}, 1.5),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # a date gone by
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_is_read_as_the_sdk_reads_it(headers: dict[str, str], seconds: float) -> None:
    from claudechat.claude_errors import retry_in

    assert retry_in(headers) == seconds


def test_a_server_that_never_answers_costs_one_idle_timeout(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """Accepted and never answered: asked three times, each for the whole idle timeout, a
    one-turn run took three minutes before it said so."""
    from servers import Blackhole

    with Blackhole() as hole:
        env = {
            "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{hole.port}",
            "CLAUDECHAT_STREAM_IDLE_TIMEOUT": "0.5",
        }
        result = cli("chat", input="anyone there?", env=env)
        assert hole.accepted == 2  # the models list (its own deadline), then the message once
    assert result.returncode == 3, result.stderr
    assert "retrying" not in result.stderr
    assert kept(stored(cli, result.stderr)) == [("user", "anyone there?", "pending")]
    # Named, as a refused address is, with the wait and the setting that bounds it: "the
    # Anthropic API did not answer in time" said neither where nor how long.
    assert result.stderr.splitlines()[-1] == (
        f"claudechat: the Anthropic API at http://127.0.0.1:{hole.port}, set by "
        "ANTHROPIC_BASE_URL, did not answer within 0.5 s (the stream_idle_timeout setting); "
        "try again"
    )


def test_a_silent_models_api_is_named_with_its_wait(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """`claudechat models` with no cached list, against a server that never answers."""
    from servers import Blackhole

    with Blackhole() as hole:
        address = f"http://127.0.0.1:{hole.port}"
        env = {"ANTHROPIC_BASE_URL": address, "CLAUDECHAT_STREAM_IDLE_TIMEOUT": "0.5"}
        result = cli("models", env=env)
    assert result.returncode == 3, result.stderr
    assert result.stderr == (
        f"claudechat: the Anthropic API at {address}, set by ANTHROPIC_BASE_URL, did not answer "
        "within 0.5 s (the stream_idle_timeout setting); try again\n"
    )


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (("text/html; charset=utf-8", LOGIN_PAGE),
         "did not answer the list of models with JSON (it answered with text/html: a proxy"),
        (("application/json", b"[1, 2]"), "cannot read the list of models from the Anthropic API"),
    ],
    ids=["web page", "not a page of models"],
)  # fmt: skip
def test_a_models_list_that_cannot_be_read_is_not_a_cut_off(cli, fake_api, answer, said) -> None:  # type: ignore[no-untyped-def]
    """A proxy's login page in place of the models list failed inside the SDK and read as
    "the reply was cut off: the stream could not be read ('str' object has no attribute
    '_set_private_attributes')" (exit 4), in `models` and in the first chat's notice."""
    fake_api.models_answer = answer
    listed = cli("models")
    assert listed.returncode == 3, listed.stderr
    assert said in listed.stderr and "cut off" not in listed.stderr
    assert len(listed.stderr.strip().splitlines()) == 1, listed.stderr
    chat = cli("chat", input="hello")
    assert chat.returncode == 0, chat.stderr
    assert "cannot list the models (" in chat.stderr and said in chat.stderr, chat.stderr
    assert "cut off" not in chat.stderr


def test_a_models_list_whose_pages_repeat_ends(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """A server that says there is more, and hands out the same page again for the next one
    (a proxy's bug): `models` and a first chat asked for the next page forever, a thousand
    times a second, and never ended."""
    from fakes.models_catalogue import default_models

    models = default_models()
    same_page = {"data": models, "has_more": True, "last_id": models[-1]["id"]}
    fake_api.models_answer = ("application/json", json.dumps(same_page).encode())
    listed = cli("models", "--json", timeout=30)
    assert listed.returncode == 0, listed.stderr
    assert [m["id"] for m in json.loads(listed.stdout)] == [m["id"] for m in models]
    assert len(fake_api.model_requests) == 2  # the page, then the same page: the end


def test_an_odd_entry_in_the_models_list_prints_no_library_warning(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """An entry whose id is a number printed pydantic's three-line serializer warning."""
    from fakes.models_catalogue import default_models

    odd = {"data": [*default_models(), {"id": 5}], "has_more": False}
    fake_api.models_answer = ("application/json", json.dumps(odd).encode())
    listed = cli("models")
    assert "Warning" not in listed.stderr and "pydantic" not in listed.stderr, listed.stderr


def test_the_servers_full_stop_is_not_doubled_by_what_follows(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """The retry line read "...please wait before trying again.; retrying in 0.469 s"."""
    limited = ErrorReply(429, "rate_limit_error", "Please wait before trying again.",
                         {"retry-after-ms": "1"})  # fmt: skip
    fake_api.queue(limited, limited, limited)
    result = cli("chat", input="hello")
    assert result.returncode == 3, result.stderr
    assert "rate_limit_error: Please wait before trying again; retrying in" in result.stderr
    assert ".;" not in result.stderr, result.stderr


def test_a_stop_reason_that_is_no_string_is_taken_as_none(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    # A server that is almost the API: the reply is kept whole, its odd stop reason not.
    fake_api.queue(Reply("kept whole", stop_reason={"odd": True}))  # type: ignore[arg-type]
    result = cli("chat", input="hello")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert stored(cli, result.stderr)["messages"][-1]["stop_reason"] is None
