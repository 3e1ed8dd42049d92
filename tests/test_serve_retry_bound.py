"""How long `claudechat serve` waits for Claude before asking again: briefly, then the caller
gets Claude's refusal with its Retry-After. A 429 with `retry-after: 37` reached the client
only after the server had waited it out twice (74 s, past any client's timeout, then told to
wait 37 s more); with one queued, the answer was a 200 after 37 s. The REPL and pipe mode still
wait up to a minute. The server is test_serve.py's embedded one."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from claudechat.errors import ApiError
from claudechat.turn_retries import (
    LONGEST_WAIT_OVER_HTTP_SECONDS,
    LONGEST_WAIT_SECONDS,
    retry_delay,
)
from fakes.anthropic_api import ErrorReply, FakeAnthropic, Reply
from serve_harness import Serve, access_lines, conversation_json, text_of
from test_serve import fake, server  # noqa: F401  (the fixtures)

LONG_WAIT = {"retry-after": "37"}
RATE_LIMITED = ErrorReply(429, "rate_limit_error", "slow down", headers=LONG_WAIT)
OVERLOADED = ErrorReply(529, "overloaded_error", "busy", headers=LONG_WAIT)


def test_a_terminal_waits_what_claude_asks_and_http_does_not() -> None:
    """One policy, the front end's bound its parameter."""
    refused = ApiError("rate limited", retryable=True, status=429, retry_in=37.0)
    assert retry_delay(refused, 1) == 37.0
    assert retry_delay(refused, 1, LONGEST_WAIT_SECONDS) == 37.0
    assert retry_delay(refused, 1, LONGEST_WAIT_OVER_HTTP_SECONDS) is None
    briefly = ApiError("rate limited", retryable=True, status=429, retry_in=1.0)
    assert retry_delay(briefly, 1, LONGEST_WAIT_OVER_HTTP_SECONDS) == 1.0


@pytest.mark.parametrize("server", ["embedded"], indirect=True)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(
    ("refusal", "status", "kind"),
    [(RATE_LIMITED, 429, "rate_limited"), (OVERLOADED, 502, "upstream_error")],
    ids=["429", "529"],
)
def test_a_long_retry_after_goes_to_the_caller_at_once(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
    refusal: ErrorReply,
    status: int,
    kind: str,
    stream: bool,
) -> None:
    fake.queue(refusal, refusal, refusal, refusal, refusal)
    before = len(server.log())
    with server.client() as http:
        http.post("/new_chat", json={})
        body = {"user_input": "are you there", "stream": stream}
        # httpx's default timeout, as a script would have it: it never saw the 429.
        answer = http.post("/chat", json=body, timeout=httpx.Timeout(5.0))
        assert (answer.status_code, answer.json()["error"]["type"]) == (status, kind)
        assert answer.headers["retry-after"] == "37"
        kept = conversation_json(http, answer.json()["conversation_id"])
    assert len(fake.requests) == 1  # not asked again
    assert [(m["role"], text_of(m["content"])) for m in kept["messages"]] == [
        ("user", "are you there")
    ]
    (line,) = access_lines(server, before, rf'"POST /chat" {status} [^\n]*')
    milliseconds = float(re.search(r" ([\d.]+)ms ", line).group(1))  # type: ignore[union-attr]
    assert milliseconds < 3000, line


@pytest.mark.parametrize("server", ["embedded"], indirect=True)
def test_a_short_wait_is_still_taken_and_logged_naming_user_and_conversation(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    """The "retrying" warning named neither: an operator could not match it to the access
    log's line, which names both. Never the message's text."""
    briefly = ErrorReply(429, "rate_limit_error", "slow down", headers={"retry-after": "1"})
    fake.queue(briefly, Reply("here now"))
    before = len(server.log())
    with server.client() as http:
        http.post("/new_chat", json={})
        started = time.monotonic()
        answer = http.post("/chat", json={"user_input": "a secret question"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["reply"] == "here now"
    assert time.monotonic() - started >= 1
    conversation = answer.json()["conversation_id"]
    (access,) = access_lines(server, before, r'"POST /chat" 200 [^\n]*')
    assert f"user=tester conversation={conversation}" in access
    log = server.log()[before:]
    (warning,) = re.findall(r"[^\n]*retrying in 1 s \(1/2\)[^\n]*", log)
    assert warning.endswith(f" user=tester conversation={conversation}"), warning
    assert "a secret question" not in log


@pytest.mark.parametrize("server", ["embedded"], indirect=True)
@pytest.mark.parametrize(
    "given", [{"retry-after-ms": "3500"}, {"retry-after": "3.5"}], ids=["ms", "fraction"]
)
def test_a_wait_not_in_whole_seconds_is_passed_on_in_whole_seconds(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
    given: dict[str, str],
) -> None:
    """The session went by retry-after-ms, and the caller got the 429 with no Retry-After; a
    "3.5" went on as it came, which HTTP does not allow (whole seconds or a date)."""
    refusal = ErrorReply(429, "rate_limit_error", "slow down", headers=given)
    fake.queue(refusal, refusal, refusal)
    with server.client() as http:
        http.post("/new_chat", json={})
        answer = http.post("/chat", json={"user_input": "are you there"})
    assert answer.status_code == 429, answer.text
    assert answer.headers["retry-after"] == "4"  # 3.5 s, rounded up
