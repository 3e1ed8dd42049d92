"""A session's recovery from a turn that went wrong: /retry cut short, a message the API
refused set aside, and a model Claude does not know given up for a known one."""

from __future__ import annotations

import pytest

from claudechat.chat import ChatSession
from claudechat.claude import Claude
from claudechat.errors import ReplyCutOffError
from claudechat.settings import load_settings
from claudechat.storage import open_store
from conftest import content_text
from fakes.anthropic_api import ErrorReply, Reply


def test_a_retry_cut_short_keeps_the_earlier_reply(fake_api) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings()
    session = ChatSession.start(settings, open_store(settings), Claude(settings))
    fake_api.queue(Reply("the first, complete answer"))
    session.send("question", lambda _text: None)
    fake_api.queue(Reply(chunks=["a new ", "answer"], cut_after=1))
    with pytest.raises(ReplyCutOffError):
        session.retry(lambda _text: None)
    stored = open_store(settings).load("tester", session.conversation.id)
    assert [(m.text, m.status) for m in stored.messages] == [
        ("question", "complete"),
        ("the first, complete answer", "complete"),
        ("a new ", "incomplete"),
    ]
    # The next turn builds on the complete answer, not on the fragment.
    session.send("thanks", lambda _text: None)
    assert [content_text(m["content"]) for m in fake_api.requests[-1].body["messages"]] == [
        "question",
        "the first, complete answer",
        "thanks",
    ]


def test_a_message_left_without_a_reply_is_set_aside_not_sent_with_the_next(fake_api) -> None:  # type: ignore[no-untyped-def]
    """A message the API refused for itself went along with every later one in the same
    session, so each later turn failed too; /retry still answers it."""
    from claudechat.errors import ApiError

    settings = load_settings()
    session = ChatSession.start(settings, open_store(settings), Claude(settings))
    fake_api.queue(Reply("hello back"))
    session.send("hello", lambda _text: None)
    too_long = ErrorReply(400, "invalid_request_error", "prompt is too long")
    fake_api.queue(too_long, too_long)
    with pytest.raises(ApiError):
        session.send("a very long paste", lambda _text: None)
    with pytest.raises(ApiError):
        session.retry(lambda _text: None)  # it is still what /retry answers
    sent = [content_text(m["content"]) for m in fake_api.requests[-1].body["messages"]]
    assert sent == ["hello", "hello back", "a very long paste"]
    fake_api.queue(Reply("short answer"))
    session.send("a short question", lambda _text: None)
    sent = [content_text(m["content"]) for m in fake_api.requests[-1].body["messages"]]
    assert sent == ["hello", "hello back", "a short question"]
    stored = open_store(settings).load("tester", session.conversation.id)
    assert ("a very long paste", "pending") in [(m.text, m.status) for m in stored.messages]
    assert session.branch()[-1].text == "short answer"


def test_a_notice_about_a_model_left_before_any_turn_is_not_said(fake_api) -> None:  # type: ignore[no-untyped-def]
    """/model with a name nobody describes, then /model with a known one: the first one's
    'assuming conservative limits' was said at the next turn, about a model not in use."""
    settings = load_settings()
    session = ChatSession.start(settings, open_store(settings), Claude(settings))
    said: list[str] = []
    session.notify = said.append
    session.set_model("nonexistent-model")
    session.model_info()  # as /model shows the model's limits
    session.set_model("claude-sonnet-4-6")
    session.send("hello", lambda _text: None)
    assert not [line for line in said if "nonexistent-model" in line], said


def test_a_model_claude_does_not_know_is_not_kept_on_the_conversation(fake_api) -> None:  # type: ignore[no-untyped-def]
    """A typo in /model (or --model, or serve's "model") stayed on the conversation: every
    later turn, --continue included, failed with the same 404."""
    from claudechat.errors import ApiError

    settings = load_settings()
    session = ChatSession.start(settings, open_store(settings), Claude(settings))
    said: list[str] = []
    session.notify = said.append
    session.send("hello", lambda _text: None)
    good = session.conversation.model
    session.set_model("claude-sonnet-4-7-typo")
    fake_api.queue(ErrorReply(404, "not_found_error", "model: claude-sonnet-4-7-typo"))
    with pytest.raises(ApiError, match="does not know model") as refused:
        session.send("again", lambda _text: None)
    assert session.conversation.model == good
    assert open_store(settings).load("tester", session.conversation.id).model == good
    gone_back = f"the conversation goes back to {good}, the model of its last reply"
    assert gone_back in refused.value.__notes__  # said after the error, not before it
    session.send("and now", lambda _text: None)
    assert fake_api.requests[-1].body["model"] == good


@pytest.mark.parametrize("configured", [True, False], ids=["configured", "default"])
def test_a_model_claude_does_not_know_on_a_new_conversation_gives_way_to_the_configured_one(  # type: ignore[no-untyped-def]
    fake_api, cli, isolated_home, configured
) -> None:
    """With no reply to go back to, a typo in --model stayed on the new conversation, and
    every --continue failed again until a model was named."""
    from claudechat.models import fallback_model

    if configured:
        (isolated_home / "config.toml").write_text('model = "claude-haiku-4-5"\n')
    known = "claude-haiku-4-5" if configured else fallback_model()
    fake_api.queue(ErrorReply(404, "not_found_error", "model: claude-sonnet-4-7-typo"))
    first = cli("chat", "--model", "claude-sonnet-4-7-typo", "hello")
    assert first.returncode == 3, first.stderr
    assert fake_api.requests[-1].body["model"] == "claude-sonnet-4-7-typo"
    which = "the configured model" if configured else "the default model"
    said = first.stderr
    assert f"the conversation goes back to {known}, {which}" in said, said
    assert "did you mean claude-sonnet-4-6?" in said  # the near miss, named
    # Both after the error they follow from: they came above it.
    error = said.index("does not know model 'claude-sonnet-4-7-typo'")
    assert error < said.index("did you mean") < said.index("goes back to"), said
    again = cli("chat", "--continue", "hello again")
    assert again.returncode == 0, again.stderr
    assert fake_api.requests[-1].body["model"] == known


@pytest.mark.parametrize("where", ["config file", "environment"])
def test_a_misspelt_configured_model_is_said_to_come_from_its_setting(  # type: ignore[no-untyped-def]
    fake_api, cli, isolated_home, where
) -> None:
    """A typo in config.toml's model was refused in Claude's words alone, with a near miss,
    and nothing said the value was the config file's, nor that only changing it would help."""
    env = {}
    if where == "config file":
        (isolated_home / "config.toml").write_text('model = "claude-sonet-4-6"\n')
        source = f"config file {isolated_home / 'config.toml'}"
    else:
        env = {"CLAUDECHAT_MODEL": "claude-sonet-4-6"}
        source = "environment CLAUDECHAT_MODEL"
    fake_api.queue(ErrorReply(404, "not_found_error", "model: claude-sonet-4-6"))
    result = cli("chat", "hello", env=env)
    assert result.returncode == 3, result.stderr
    said = result.stderr
    assert f"model claude-sonet-4-6 is set by {source}: fix it there" in said, said
    error = said.index("does not know model 'claude-sonet-4-6'")
    assert error < said.index("did you mean claude-sonnet-4-6?") < said.index("is set by"), said
    assert "goes back to" not in said


def test_a_misspelt_model_option_names_no_setting(fake_api, cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    (isolated_home / "config.toml").write_text('model = "claude-sonet-4-6"\n')
    fake_api.queue(ErrorReply(404, "not_found_error", "model: claude-sonet-4-6"))
    result = cli("chat", "--model", "claude-sonet-4-6", "hello")
    assert result.returncode == 3, result.stderr
    assert "is set by" not in result.stderr


def test_a_listed_model_claude_refuses_is_not_its_own_near_miss(fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    """It said "did you mean claude-opus-4-6?" of claude-opus-4-6 itself, then the next
    nearest ("did you mean claude-opus-4-5?"): a listed model is no typo."""
    assert cli("chat", "hello").returncode == 0
    fake_api.queue(ErrorReply(404, "not_found_error", "model: claude-opus-4-6"))
    refused = cli("chat", "--continue", "--model", "claude-opus-4-6", "again")
    assert refused.returncode == 3
    assert "goes back to claude-sonnet-4-6" in refused.stderr, refused.stderr
    assert "did you mean" not in refused.stderr
