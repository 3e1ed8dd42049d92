"""The REPL's commands about the model, thinking and money: /model, /effort, /think,
/thinking and /usage, and the dim line after each reply. No terminal code beyond status lines."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from claudechat.errors import Terminated, UsageError
from claudechat.models import ModelInfo, bedrock_models, cached_models
from claudechat.output import console, is_rich, one_line, safe_text, status
from claudechat.pricing import (
    conversation_spend,
    cost,
    made_here,
    money,
    price_for,
    price_table,
    turn_line,
)
from claudechat.request import (
    cannot_think_notice,
    no_effort_notice,
    other_effort_notice,
    output_limit,
    valid_effort,
)

if TYPE_CHECKING:
    from claudechat.chat import ChatSession
    from claudechat.settings import Settings


def model_ids(settings: Settings) -> list[str]:
    """For Tab: the ids the cache (or the Bedrock catalogue) knows; never an API call."""
    if settings.provider == "bedrock":
        return [m.id for m in bedrock_models(settings)]
    return [m.id for m in cached_models(settings.data_dir)]


def describe_model(session: ChatSession) -> str:
    info: ModelInfo = session.model_info()
    price = price_for(info.id, price_table(session.settings))
    parts = [f"model: {info.id}" + (f" ({info.display_name})" if info.display_name else "")]
    if info.max_input_tokens:
        parts.append(f"context window {info.max_input_tokens:,} tokens")
    parts.append(f"output limit {output_limit(info, session.options):,}")
    parts.append(f"budget {session.budget():,}")
    # What the model offers, then what this session asks for where the user chose: after
    # /think off and /effort max, /model still read as if neither had been said.
    thinking = "thinking " + (", ".join(info.thinking) or "none")
    if session.options.thinking is not None and info.thinking:
        thinking += f" (now {'on' if session.options.thinking else 'off'})"
    parts.append(thinking)
    if info.effort:
        chosen = session.options.effort
        parts.append("effort " + "/".join(info.effort) + (f" (now {chosen})" if chosen else ""))
    if price is not None:
        parts.append(f"${price.input:g} in / ${price.output:g} out per million")
    if not info.known:
        # A typo (claude-sonet-4-6) was taken as it came; only a reply's 404 said what it
        # may have meant.
        near = session.near_miss(info.id)
        hint = f"; did you mean {near}?" if near else ""
        parts.append(f"(not described: conservative limits{hint})")
        session.mark_said(session.not_described_notice(info))
    return " · ".join(parts)


# How long /model may wait on the Models API (an id no list holds) before the wait is said.
MODEL_WAIT_SAID_AFTER = 0.5


def model_command(session: ChatSession, argument: str) -> None:
    if argument:
        previous = session.conversation.model
        session.set_model(argument)
        try:
            _looked_up(session)
        except Terminated:
            raise
        except KeyboardInterrupt:
            session.set_model(previous)
            status(f"(cancelled: the model stays {one_line(previous, 80)})", "yellow")
            return
    status(describe_model(session))
    if session.model_info().known:
        # Said only at the next reply ("cannot think aloud", "takes no effort level"), after
        # /model had described the model without a word of it. A model nobody describes has
        # conservative guesses, not capabilities: the reply says what it could not send.
        _say_what_the_model_cannot_take(session)


def _say_what_the_model_cannot_take(session: ChatSession) -> None:
    effort, levels = session.options.effort, session.model_info().effort
    if effort is not None and not levels:
        _say_no_effort(session, effort)
    elif effort is not None and effort not in levels:
        status(
            f"effort: {effort}, but {session.conversation.model} takes {', '.join(levels)} "
            "only: it applies once the model takes it"
        )
        session.mark_said(other_effort_notice(session.model_info().id, effort, levels))
    if session.options.thinking and not session.model_info().thinking:
        _say_cannot_think(session)


def _looked_up(session: ChatSession) -> None:
    """The model described, the wait said: an id no list holds is asked of the Models API,
    and /model sat silent for the seconds it took to answer."""
    from claudechat.progress import said_while_waiting

    source = "Bedrock catalogue" if session.settings.provider == "bedrock" else "Models API"
    model = safe_text(session.conversation.model)
    with said_while_waiting(
        f"asking the {source} about {model}", f"asking the {source}", MODEL_WAIT_SAID_AFTER
    ):
        session.model_info()


def effort_command(session: ChatSession, argument: str) -> None:
    levels = session.model_info().effort
    offered = ", ".join(levels) if levels else "none for this model"
    if argument:
        level = valid_effort(argument)
        if level is not None and levels and level not in levels:
            # Taken without a word, and refused by the API at the next message.
            raise UsageError(f"{session.conversation.model} takes effort {offered}, not {level}")
        session.options.effort = level
    effort = session.options.effort
    if effort is not None and not levels:
        # It read as taken ("effort: high (levels: none for this model)"), and was left out of
        # every request without a word until the next message.
        _say_no_effort(session, effort)
        return
    status(f"effort: {effort or 'the model default'} (levels: {offered})")


def _say_no_effort(session: ChatSession, effort: str) -> None:
    status(
        f"effort: {effort}, but {session.conversation.model} takes no effort level: it "
        "applies once the model takes one"
    )
    session.mark_said(no_effort_notice(session.model_info().id))


def think_command(session: ChatSession, argument: str) -> None:
    if argument.lower() in ("on", "off"):
        session.options.thinking = argument.lower() == "on"
    elif argument:
        status("usage: /think on|off")
        return
    state = {True: "on", False: "off", None: "on where the model can"}[session.options.thinking]
    if session.options.thinking and not session.model_info().thinking:
        # Said only at the next reply ("cannot think aloud"), after "thinking: on" here.
        _say_cannot_think(session)
        return
    status(f"thinking: {state}")


def _say_cannot_think(session: ChatSession) -> None:
    status(
        f"thinking: on, but {session.conversation.model} cannot think aloud: it applies "
        "once the model can"
    )
    session.mark_said(cannot_think_notice(session.model_info().id))


class InterruptedThinking:
    """Thinking a Ctrl-C stopped before any answer, and the message it was for. Unsigned, it
    cannot go back to the API, so the REPL keeps it for /thinking, not in the conversation."""

    def __init__(self) -> None:
        self.message_id: str | None = None
        self.thinking = ""

    def keep(self, session: ChatSession, thinking: str) -> None:
        if thinking and session.unanswered is not None:
            self.message_id, self.thinking = session.unanswered, thinking

    def shown(self, session: ChatSession) -> str | None:
        """The thinking while its message still waits for an answer: a reply since (or
        another message) has thinking of its own, or none, newer than it."""
        if self.message_id is None or session.unanswered != self.message_id:
            return None
        return self.thinking


def thinking_command(session: ChatSession, _argument: str, cut_short: str | None = None) -> None:
    """The newest thinking of this branch, in full; `cut_short` is thinking a Ctrl-C stopped
    before any answer, newer than the branch's (it is not in the conversation: it said "no
    thinking in this conversation yet", though the thinking had been on screen)."""
    if cut_short:
        _print_thinking(cut_short)
        status("(cut short by Ctrl-C before any answer; not kept in the conversation)")
        return
    for message in reversed(session.branch()):
        thoughts = [b["thinking"] for b in message.content if b.get("type") == "thinking"]
        if message.role == "assistant" and thoughts:
            _print_thinking("\n\n".join(thoughts))
            return
    status("no thinking in this conversation yet")


def _print_thinking(thinking: str) -> None:
    text = safe_text(thinking)
    if is_rich(sys.stdout):
        # Soft wrap: the terminal folds long lines, a copy keeps them whole.
        console().print(text, style="dim", markup=False, highlight=False, soft_wrap=True)
    else:
        print(text)


def usage_command(session: ChatSession, _argument: str) -> None:
    # A fork's own replies, as list and usage count them.
    spend = conversation_spend(made_here(session.conversation), price_table(session.settings))
    usage = spend.usage
    status(
        f"this conversation: {usage.input_tokens:,} input at full rate + "
        f"{usage.cache_creation_tokens:,} written to cache + {usage.cache_read_tokens:,} read "
        f"from cache = {usage.prompt_tokens:,} tokens in · {usage.output_tokens:,} out"
    )
    status(
        f"cost {money(spend.total_cost)} · caching saved {money(spend.total_saved)}"
        + spend.unpriced_said()
    )


def show_turn_usage(session: ChatSession) -> None:
    """The dim line after a reply (tokens and money), on stderr: the REPL's and pipe mode's."""
    line = turn_usage_line(session)
    if line:
        status(line)


def turn_usage_line(session: ChatSession) -> str | None:
    reply = session.conversation.find(session.head) if session.head else None
    if reply is None or reply.role != "assistant" or reply.usage is None:
        return None
    price = price_for(reply.model, price_table(session.settings))
    return turn_line(reply.usage, cost(reply.usage, price) if price else None)
