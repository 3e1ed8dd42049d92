"""Request parameters that follow the model's capabilities: nothing the model would refuse.

Thinking is adaptive where the model offers it, extended with a budget where that is all it
has, and left out otherwise; effort goes in output_config only at a level the model lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from claudechat.errors import UsageError
from claudechat.models import EFFORT_LEVELS, ModelInfo

MIN_THINKING_BUDGET = 1024
# The room a reply keeps in a full context: the model's output limit, at most this. Keeping the
# whole limit left Opus (128,000 tokens out) 72,000 of its 200,000-token window for the
# conversation; a request whose context leaves less than the limit asks for what is left.
REPLY_ROOM = 32_000


@dataclass
class TurnOptions:
    """What the user asked for; None means the model's own default."""

    thinking: bool | None = None
    effort: str | None = None
    max_output_tokens: int | None = None


@dataclass
class Params:
    body: dict[str, Any] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)

    @property
    def max_tokens(self) -> int:
        return int(self.body["max_tokens"])


def valid_effort(level: str | None) -> str | None:
    """A level, or None for the model's own ("default": what /effort, --effort and the
    config file take to clear a level set elsewhere)."""
    if level is None:
        return None
    level = level.strip().lower()
    if level == "default":
        return None
    if level not in EFFORT_LEVELS:
        raise UsageError(
            f"unknown effort level {level[:20]!r}; use one of {', '.join(EFFORT_LEVELS)} or default"
        )
    return level


def output_limit(info: ModelInfo, options: TurnOptions) -> int:
    limit = info.max_tokens or 8192
    return min(options.max_output_tokens or limit, limit)


def reply_room(info: ModelInfo, options: TurnOptions) -> int:
    """What the context budget leaves free of the window, for the reply."""
    return min(output_limit(info, options), REPLY_ROOM)


def request_params(
    info: ModelInfo, options: TurnOptions, context_tokens: int | None = None
) -> Params:
    """`context_tokens`: the request's context (estimated generously where not yet sent);
    max_tokens then fits the window beside it, as the API requires of the models that check."""
    max_tokens = output_limit(info, options)
    window = info.max_input_tokens
    if context_tokens is not None and window and context_tokens < window:
        max_tokens = min(max_tokens, window - context_tokens)
    params = Params({"max_tokens": max_tokens})
    _thinking(info, options, params)
    _effort(info, options, params)
    return params


def _thinking(info: ModelInfo, options: TurnOptions, params: Params) -> None:
    if options.thinking is False:
        return
    if "adaptive" in info.thinking:
        params.body["thinking"] = {"type": "adaptive", "display": "summarized"}
    elif "enabled" in info.thinking:
        if params.max_tokens > MIN_THINKING_BUDGET * 2:
            # A quarter of the output for thinking, at least the API's minimum, below max_tokens.
            budget = max(MIN_THINKING_BUDGET, params.max_tokens // 4)
            params.body["thinking"] = {"type": "enabled", "budget_tokens": budget}
        elif options.thinking:  # the model can think: the room for the reply is too small
            limit = output_limit(info, options)
            room = (
                f"the context leaves {params.max_tokens:,} tokens of the window for the reply"
                if params.max_tokens < limit
                else f"the output limit is {limit:,} tokens"
            )
            params.notices.append(f"{room}, too few for thinking; it answers without")
    elif options.thinking:
        params.notices.append(cannot_think_notice(info.id))


def _effort(info: ModelInfo, options: TurnOptions, params: Params) -> None:
    if options.effort is None:
        return
    if options.effort in info.effort:
        params.body["output_config"] = {"effort": options.effort}
    elif info.effort:
        params.notices.append(other_effort_notice(info.id, options.effort, info.effort))
    else:
        params.notices.append(no_effort_notice(info.id))


# A request's notices that /think and /effort say at once in their own words: they mark them
# said (SessionModel.mark_said), so the next reply does not say them a second time.
def cannot_think_notice(model: str) -> str:
    return f"{model} cannot think aloud; it answers without thinking"


def no_effort_notice(model: str) -> str:
    return f"{model} takes no effort level; sent without one"


def other_effort_notice(model: str, effort: str, levels: Sequence[str]) -> str:
    return f"{model} has no effort level {effort!r} (it has {', '.join(levels)}); sent without one"
