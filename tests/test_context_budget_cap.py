"""A context budget set above the model's window (less the reply's room) is capped to it, and
said once: taken as set, turns of 312,000 tokens went to a model with a 200,000-token window,
and a message larger than the whole window was sent rather than refused."""

from __future__ import annotations

from conftest import conversation_id
from fakes.anthropic_api import Reply
from fakes.replies import estimate_input_tokens

# claude-haiku-4-5 in the fake's catalogue: 200,000 tokens in, 64,000 out (32,000 kept free).
MOST = 200_000 - 32_000


def budget_notices(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("max_context_tokens ")]


def test_turns_past_the_window_leave_out_the_oldest(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    env = {"CLAUDECHAT_MAX_CONTEXT_TOKENS": "500000"}
    cid = None
    for letter in "abc":  # each about 62,000 tokens, as the fake counts them
        fake_api.queue(Reply("noted"))
        args = ("chat", "--continue") if cid else ("chat", "--model", "claude-haiku-4-5")
        result = cli(*args, input=letter * 248_000, env=env)
        assert result.returncode == 0, result.stderr
        cid = conversation_id(result.stderr)
        assert budget_notices(result.stderr) == [
            "max_context_tokens 500,000 (environment CLAUDECHAT_MAX_CONTEXT_TOKENS) is more "
            "than claude-haiku-4-5's context window of 200,000 tokens holds beside the "
            "reply's 32,000; the budget is 168,000"
        ]
    assert all(estimate_input_tokens(request.body) <= MOST for request in fake_api.requests)
    first_sent = fake_api.requests[-1].body["messages"][0]["content"]
    assert "a" * 100 not in str(first_sent)


def test_a_message_larger_than_the_window_is_refused_whatever_the_budget(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "chat",
        "--model",
        "claude-haiku-4-5",
        "--max-context-tokens",
        "500000",
        input="x" * 900_000,  # about 300,000 tokens
    )
    assert result.returncode == 2, result.stderr
    assert "more than the model's whole context window of 200,000 tokens; send less" in (
        result.stderr
    )
    assert len(budget_notices(result.stderr)) == 1
    assert "(command line)" in budget_notices(result.stderr)[0]
    assert not fake_api.requests


def test_a_budget_within_the_window_is_taken_as_set_and_not_remarked(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(Reply("noted"))
    result = cli(
        "chat", "--model", "claude-haiku-4-5", "--max-context-tokens", str(MOST), input="hi"
    )
    assert result.returncode == 0, result.stderr
    assert budget_notices(result.stderr) == []
