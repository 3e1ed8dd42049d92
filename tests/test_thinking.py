"""Thinking through the real program: requested as the model allows, stored with its
signature, shown apart from the answer, dropped from the context when the model changes."""

from __future__ import annotations

import json

from conftest import conversation_id
from fakes.anthropic_api import Reply

THOUGHT = "First I weigh the options. Then I pick one."


def stored(cli, cid: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return json.loads(cli("show", cid, "--json").stdout)  # type: ignore[no-any-return]


def test_pipe_keeps_thinking_off_stdout_and_stores_every_block(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(Reply("The answer.", thinking=THOUGHT, signature="sig-1", redacted="opaque=="))
    result = cli("chat", input="question")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "The answer.\n"
    assert "weigh" not in result.stderr  # thinking on stderr only when asked for
    assert fake_api.requests[-1].body["thinking"] == {"type": "adaptive", "display": "summarized"}
    reply = stored(cli, conversation_id(result.stderr))["messages"][-1]
    assert reply["content"] == [
        {"type": "thinking", "thinking": THOUGHT, "signature": "sig-1"},
        {"type": "redacted_thinking", "data": "opaque=="},
        {"type": "text", "text": "The answer."},
    ]

    collapsed = cli("show", conversation_id(result.stderr)).stdout
    assert "_thought · 11 tokens (show --thinking prints it)_" in collapsed
    assert "weigh" not in collapsed
    full = cli("show", conversation_id(result.stderr), "--thinking").stdout
    assert f"> {THOUGHT}\n\nThe answer." in full

    fake_api.queue(Reply("Shown.", thinking=THOUGHT))
    shown = cli("chat", "--continue", "--show-thinking", input="again")
    assert shown.stdout == "Shown.\n"
    assert THOUGHT in shown.stderr
    # Sent back exactly as it came: signature and redacted block included.
    assert fake_api.requests[-1].body["messages"][1]["content"] == reply["content"]


def test_notices_after_streamed_thinking_start_lines_of_their_own(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """A retry notice (or the conversation line) was glued to the thinking's last line."""
    broken = Reply("The answer.", thinking="Let me think about it", cut_after=2)
    fake_api.queue(broken, Reply("The answer.", thinking="Let me think again"))
    result = cli("chat", "--show-thinking", input="think")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].rstrip() == "Let me", lines  # cut off mid-thought
    assert lines[1].startswith("the reply was cut off") and "retrying in" in lines[1]
    assert lines[2:] == ["Let me think again", lines[-2], lines[-1]]
    assert " out · " in lines[-2] and lines[-1].startswith("conversation ")  # usage, then the id


def test_thinking_is_dropped_from_the_context_when_the_model_changes(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(Reply("Four.", thinking=THOUGHT, redacted="opaque=="))
    assert cli("chat", input="two plus two").returncode == 0
    assert cli("chat", "--continue", "--model", "claude-opus-4-6", input="sure?").returncode == 0
    sent = fake_api.requests[-1].body
    assert sent["model"] == "claude-opus-4-6"
    assert sent["messages"][1]["content"] == [{"type": "text", "text": "Four."}]


def test_request_follows_the_models_capabilities(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    assert cli("chat", "--model", "claude-sonnet-4-5", input="a").returncode == 0
    body = fake_api.requests[-1].body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 16_000}
    assert body["max_tokens"] == 64_000 and "output_config" not in body

    result = cli("chat", "--model", "claude-haiku-4-5", "--thinking", "--effort", "high", input="b")
    assert result.returncode == 0, result.stderr
    body = fake_api.requests[-1].body
    assert "thinking" not in body and "output_config" not in body
    assert result.stderr.count("claude-haiku-4-5 cannot think aloud") == 1
    assert "claude-haiku-4-5 takes no effort level" in result.stderr

    result = cli("chat", "--model", "claude-opus-4-6", "--effort", "max", input="c")
    body = fake_api.requests[-1].body
    assert body["output_config"] == {"effort": "max"} and body["max_tokens"] == 128_000
    result = cli("chat", "--no-thinking", "--effort", "xhigh", input="d")
    body = fake_api.requests[-1].body
    assert "thinking" not in body and "output_config" not in body
    assert "claude-sonnet-4-6 has no effort level 'xhigh'" in result.stderr

    bad = cli("chat", "--effort", "extreme", input="e")
    assert bad.returncode == 2 and "unknown effort level 'extreme'" in bad.stderr

    # "default" clears a level set elsewhere (the config file), as /effort default does.
    configured = {"CLAUDECHAT_EFFORT": "high"}
    assert cli("chat", input="f", env=configured).returncode == 0
    assert fake_api.requests[-1].body["output_config"] == {"effort": "high"}
    cleared = cli("chat", "--effort", "default", input="g", env=configured)
    assert cleared.returncode == 0, cleared.stderr
    assert "output_config" not in fake_api.requests[-1].body


def test_bedrock_streams_thinking_in_event_stream_frames(cli, fake_api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ANTHROPIC_BEDROCK_BASE_URL", fake_api.base_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("CLAUDECHAT_PROVIDER", "bedrock")
    fake_api.queue(Reply("From Bedrock.", thinking=THOUGHT, signature="sig-b"))
    result = cli("chat", "--show-thinking", input="hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "From Bedrock.\n" and THOUGHT in result.stderr
    assert fake_api.requests[-1].body["thinking"]["type"] == "adaptive"
    assert fake_api.model_requests == []  # Bedrock: the packaged catalogue, no Models API
    reply = stored(cli, conversation_id(result.stderr))["messages"][-1]
    assert reply["content"][0] == {"type": "thinking", "thinking": THOUGHT, "signature": "sig-b"}
