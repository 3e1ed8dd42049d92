"""The model a chat session talks to: its limits and capabilities (from the catalogue), the
context budget and request parameters they give, and what happens when Claude does not know
it. A mixin of ChatSession (chat.py), as SessionSaving is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from claudechat.errors import ClaudechatError
from claudechat.memory import DEFAULT_MAX_CONTEXT_TOKENS
from claudechat.model_catalogue import Catalogue
from claudechat.models import ModelInfo, unknown_model
from claudechat.request import TurnOptions, reply_room, request_params

if TYPE_CHECKING:
    from claudechat.conversation import Conversation, Message
    from claudechat.settings import Settings


class SessionModel:
    # Declared for the type checker: ChatSession.__init__ sets them.
    settings: Settings
    conversation: Conversation
    catalogue: Catalogue
    options: TurnOptions
    notify: Callable[[str], None]
    _described: ModelInfo | None
    _said: set[str]
    _pending_notices: list[str]

    if TYPE_CHECKING:  # defined by ChatSession and SessionSaving

        def branch(self) -> list[Message]: ...

        def save(self) -> None: ...

    def model_info(self) -> ModelInfo:
        """The current model's limits and capabilities (the Models API's cache, refreshed for
        a model it does not know; conservative defaults for one nobody describes)."""
        model = self.conversation.model
        if self._described is None or self._described.id != model:
            # What was waiting to be said of the model before (/model, twice before a turn)
            # is of no use now; this model's own notices follow.
            self._pending_notices.clear()
            try:
                info = self.catalogue.describe(model, note=self._pending_notices.append)
            except ClaudechatError as exc:
                # Not kept: a later turn asks again (the catalogue holds a failure 30 s), so a
                # moment's outage does not leave the whole session on conservative limits.
                self._pending_notices.append(f"cannot list the models ({exc}); assuming defaults")
                return unknown_model(model)
            if not info.known:
                self._pending_notices.append(self.not_described_notice(info))
            self._described = info
        return self._described

    def not_described_notice(self, info: ModelInfo) -> str:
        source = "Bedrock catalogue" if self.settings.provider == "bedrock" else "Models API"
        return (
            f"model {info.id} is not described by the {source}; assuming conservative "
            f"limits ({info.max_input_tokens:,} tokens in, {info.max_tokens:,} out)"
        )

    def budget(self) -> int:
        """The context budget: as set, else the model's window minus the reply's room.

        A setting above that is capped to it, and said once: taken as set, turns of 312,000
        tokens went to a model with a 200,000-token window, and a message too large for the
        window was sent rather than refused. An undescribed model's window is a guess, and
        caps nothing."""
        info = self.model_info()
        room = reply_room(info, self.options)
        window = info.max_input_tokens or DEFAULT_MAX_CONTEXT_TOKENS
        most = max(1, window - room)
        setting = self.settings.max_context_tokens
        if not setting:
            return most
        if info.known and setting > most:
            source = self.settings.sources.get("max_context_tokens", "the settings")
            self.say_once(
                f"max_context_tokens {setting:,} ({source}) is more than {info.id}'s context "
                f"window of {window:,} tokens holds beside the reply's {room:,}; the budget is "
                f"{most:,}"
            )
            return most
        return int(setting)

    def budget_ceiling(self) -> int | None:
        """The most a budget can be: a described model's window less the reply's room (None
        for an undescribed model, whose window is a guess)."""
        info = self.model_info()
        if not (info.known and info.max_input_tokens):
            return None
        return max(1, info.max_input_tokens - reply_room(info, self.options))

    def request_params(self, context_tokens: int | None = None) -> dict[str, Any]:
        params = request_params(self.model_info(), self.options, context_tokens)
        # Said as a request goes out: a message refused before it (one clear line) stays so.
        for notice in [*self._pending_notices, *params.notices]:
            self.say_once(notice)
        return params.body

    def say_once(self, notice: str) -> None:
        if notice not in self._said:
            self._said.add(notice)
            self.notify(notice)

    def mark_said(self, notice: str) -> None:
        """A notice /model, /think or /effort said at once in its own words: the next reply
        said it again, in the request's."""
        self._said.add(notice)

    def _back_to_a_known_model(self, refused: Exception) -> None:
        """Claude does not know the conversation's model (a typo in --model, /model or serve's
        "model"): it goes back to the model of its last reply, or in a conversation with no
        reply yet to the configured one. Kept, it failed every later turn of the conversation,
        --continue and serve's requests without "model" too.

        What became of the model, and a near miss, are notes on the error, said after it:
        said as they happened, they came above the error they follow from."""
        unknown = self.conversation.model
        near = self.near_miss(unknown)
        if near:
            refused.add_note(f"did you mean {near}? (`claudechat models` lists the models)")
        answered = [m.model for m in reversed(self.branch()) if m.role == "assistant" and m.model]
        if answered:
            known, which = answered[0], "the model of its last reply"
        else:
            known, which = self.settings.model_beneath_command_line()
        if known == unknown:
            # The configuration names it: only changing it helps, and the error named no
            # setting, so a typo in config.toml read as Claude's own refusal.
            source = self.settings.sources.get("model")
            if source and source != "command line":
                refused.add_note(f"model {unknown} is set by {source}: fix it there")
            return
        self.conversation.set("model", known)
        refused.add_note(f"the conversation goes back to {known}, {which}")
        self.save()

    def near_miss(self, unknown: str) -> str | None:
        """A near miss of a model the account offers (claude-sonet-4-6), so the next try is the
        right one: the closest, the newest (the list's first) of equally close ones. None for
        a model the list has and Claude refused: no typo, and another near it ("did you mean
        claude-sonnet-4-5?" of claude-sonnet-4-6) is no answer."""
        import difflib

        try:
            offered = [info.id for info in self.catalogue.models()]
        except ClaudechatError:
            return None  # no list to compare with: the error alone
        if unknown in offered:
            return None
        wanted = unknown.lower()

        def likeness(model: str) -> float:
            return difflib.SequenceMatcher(None, model, wanted).ratio()

        closest = max(offered, key=likeness, default=None)  # the first of equally close ones
        if closest is None or likeness(closest) < 0.75:
            return None
        return closest
