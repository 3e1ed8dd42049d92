"""Every stop reason the API gives, and the API's refusals of a model or a parameter: the reply
(or the user's message) is kept, marked in the document, and explained in one line."""

from __future__ import annotations

import json

from conftest import content_text, conversation_id
from fakes.anthropic_api import ErrorReply, Reply

REASONS = {
    "end_turn": None,
    "stop_sequence": None,
    "max_tokens": "stopped at the output limit",
    "refusal": "Claude declined to answer this",
    "model_context_window_exceeded": "Lower max_context_tokens (--max-context-tokens, CLAUDECHAT",
    "pause_turn": "Claude paused its turn",
    "brand_new_reason": "the reply ended with stop reason 'brand_new_reason'",
}


def test_every_stop_reason_is_kept_marked_and_explained(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    cid = None
    for reason, notice in REASONS.items():
        fake_api.queue(Reply(f"reply {reason}", stop_reason=reason))
        args = ("chat", "--continue") if cid else ("chat",)
        result = cli(*args, input=f"ask {reason}")
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"reply {reason}\n"
        cid = conversation_id(result.stderr)
        if notice is None:
            assert "stop reason" not in result.stderr and "stopped" not in result.stderr
        else:
            assert notice in result.stderr
    assert len(fake_api.requests) == len(REASONS)  # a refusal is never retried silently
    document = json.loads(cli("show", cid, "--json").stdout)
    replies = [m for m in document["messages"] if m["role"] == "assistant"]
    assert [(m["stop_reason"], m["status"]) for m in replies] == [
        (reason, "complete") for reason in REASONS
    ]
    # The refused turn is left out of the context (see the test below); the others stay.
    sent = [content_text(m["content"]) for m in fake_api.requests[-1].body["messages"]]
    assert sent[6:8] == ["ask model_context_window_exceeded", "reply model_context_window_exceeded"]
    assert "ask refusal" not in sent and "reply refusal" not in sent
    markdown = cli("show", cid).stdout
    assert "(declined)" in markdown and "(context window full)" in markdown
    assert "(stop reason: brand_new_reason)" in markdown


def test_a_refused_turn_is_kept_but_left_out_of_later_requests(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """The refused message and its reply went along with every later message, and the API
    says a refused turn must be removed before continuing, or the refusals keep coming."""
    fake_api.queue(Reply("answer one"))
    cid = conversation_id(cli("chat", input="turn1").stderr)
    fake_api.queue(Reply("I can't help with that.", stop_reason="refusal"))
    assert cli("chat", "-c", input="turn2 bad").returncode == 0
    fake_api.queue(Reply("answer three"))
    result = cli("chat", "-c", input="turn3")
    assert result.returncode == 0, result.stderr
    sent = fake_api.requests[-1].body["messages"]
    assert [(m["role"], content_text(m["content"])) for m in sent] == [
        ("user", "turn1"),
        ("assistant", "answer one"),
        ("user", "turn3"),
    ]
    document = json.loads(cli("show", cid, "--json").stdout)
    assert [content_text(m["content"]) for m in document["messages"]] == [
        "turn1",
        "answer one",
        "turn2 bad",
        "I can't help with that.",
        "turn3",
        "answer three",
    ]


def test_unknown_or_forbidden_model_and_refused_parameter_keep_the_message(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(ErrorReply(404, "not_found_error", "model: claude-nope-9"))
    result = cli("chat", "--model", "claude-nope-9", input="first words")
    assert result.returncode == 3
    lines = [line for line in result.stderr.splitlines() if "claude-nope-9" in line]
    assert any("does not know model 'claude-nope-9' (404)" in line for line in lines)
    assert "Traceback" not in result.stderr
    assert len(fake_api.model_requests) == 1  # no list was cached: the Models API was asked once
    document = json.loads(cli("show", conversation_id(result.stderr), "--json").stdout)
    assert [(content_text(m["content"]), m["status"]) for m in document["messages"]] == [
        ("first words", "pending")
    ]

    fake_api.queue(ErrorReply(403, "permission_error", "no access to this model"))
    result = cli("chat", "--model", "claude-opus-4-6", input="second")
    assert result.returncode == 3
    assert "refused access to model 'claude-opus-4-6' (403)" in result.stderr

    # The real API refuses a thinking type the model lacks; claudechat never sends one, so a
    # catalogue that changed since the cache was written is what it takes to see the 400.
    fake_api.models[1]["capabilities"]["thinking"]["types"]["adaptive"]["supported"] = False
    result = cli("chat", "--model", "claude-sonnet-4-6", input="fourth")
    assert result.returncode == 3
    assert "rejected the request for model 'claude-sonnet-4-6' (400)" in result.stderr
    assert "thinking.type: 'adaptive' is not supported" in result.stderr


def test_export_marks_a_reply_that_ended_early_as_show_does(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """Markdown and HTML exports head each message as `show` does: they dropped the mark, so
    a reply cut off, declined (an empty section) or never made read as a whole answer."""
    ended_early = {
        "cut off": Reply(chunks=["partial ", "answer ", "never ", "finished"], cut_after=2),
        "declined": Reply("", stop_reason="refusal"),
        "stopped at the output limit": Reply("a long one", stop_reason="max_tokens"),
    }
    cid = None
    for reply in ended_early.values():
        fake_api.queue(reply)
        args = ("chat", "--continue") if cid else ("chat",)
        cid = conversation_id(cli(*args, input="ask").stderr)
    fake_api.queue(ErrorReply(400, "invalid_request_error", "bad request"))
    cli("chat", "--continue", input="left unanswered")  # the message kept, with no reply
    shown = cli("show", cid).stdout
    headings = [line for line in shown.splitlines() if line.startswith("## ")]
    marks = [*ended_early, "no reply"]
    assert [h.rsplit(" (", 1)[1] for h in headings if h.endswith(")")] == [f"{m})" for m in marks]
    markdown = cli("export", cid).stdout
    assert [line for line in markdown.splitlines() if line.startswith("## ")] == headings
    page = cli("export", cid, "-f", "html").stdout
    for mark in marks:
        assert f"({mark})</span>" in page


def test_show_json_gives_every_reply_a_stop_reason(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """null for one cut off: the key was missing there, present on a whole reply."""
    fake_api.queue(Reply(chunks=["partial ", "answer ", "never ", "finished"], cut_after=2))
    cid = conversation_id(cli("chat", input="ask").stderr)
    fake_api.queue(Reply("whole"))
    cli("chat", "--continue", input="again")
    shown = json.loads(cli("show", cid, "--json").stdout)
    replies = [m for m in shown["messages"] if m["role"] == "assistant"]
    assert [(m["status"], m["stop_reason"]) for m in replies] == [
        ("incomplete", None),
        ("complete", "end_turn"),
    ]
    assert all("stop_reason" not in m for m in shown["messages"] if m["role"] == "user")
