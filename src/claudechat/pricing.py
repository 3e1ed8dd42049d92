"""What a reply cost: a price table per model (package data with its date and source, extended
or overridden in the config file's [prices] tables) applied to the usage the API reported."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from claudechat.conversation import Usage
from claudechat.models import packaged

if TYPE_CHECKING:
    from claudechat.conversation import Conversation, Message
    from claudechat.settings import Settings

PER = 1_000_000


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> Price:
        base = float(entry["input"])
        return cls(
            input=base,
            output=float(entry["output"]),
            # The API's rule when an entry does not say: writes 1.25x / 2x input, reads 0.1x.
            cache_write_5m=float(entry.get("cache_write_5m", base * 1.25)),
            cache_write_1h=float(entry.get("cache_write_1h", base * 2)),
            cache_read=float(entry.get("cache_read", base * 0.1)),
        )


def price_table(settings: Settings | None = None) -> dict[str, Price]:
    table = dict(_packaged_prices())  # a copy: the packaged one is built once per process
    for prefix, entry in ((settings.get("prices") if settings else None) or {}).items():
        table[prefix] = Price.from_entry(entry)  # checked when the settings were read
    return table


@functools.cache
def _packaged_prices() -> dict[str, Price]:
    # Every save prices its conversation (the row's cost): not worth re-reading each time.
    entries = packaged("prices.toml")["prices"]
    return {prefix: Price.from_entry(entry) for prefix, entry in entries.items()}


def table_date() -> str:
    data = packaged("prices.toml")
    return f"{data['date']} ({data['source']})"


def price_for(model: str | None, table: dict[str, Price]) -> Price | None:
    """The longest prefix of the model id in the table; a Bedrock id counts from "claude"."""
    if not model:
        return None
    name = model[model.index("claude") :] if "claude" in model else model
    matches = [prefix for prefix in table if name.startswith(prefix)]
    return table[max(matches, key=len)] if matches else None


def cost(usage: Usage, price: Price) -> float:
    """USD; claudechat's cache breakpoints are the default 5-minute ones."""
    return (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_creation_tokens * price.cache_write_5m
        + usage.cache_read_tokens * price.cache_read
    ) / PER


def saved_by_cache(usage: Usage, price: Price) -> float:
    """What the cache reads would have cost at the full input rate, minus what they did."""
    return usage.cache_read_tokens * (price.input - price.cache_read) / PER


def money(amount: float | None) -> str:
    if amount is None:
        return "$?"
    return f"${amount:.4f}" if amount < 1 else f"${amount:,.2f}"


def usd_figure(amount: float | None) -> float | None:
    """A JSON figure: to the millionth of a dollar, null when unknown."""
    return None if amount is None else round(amount, 6)


def turn_line(usage: Usage, amount: float | None) -> str:
    """The dim line after a reply: what was sent at full or cache-write rate, what came back,
    what was read from cache, and the money."""
    sent = usage.input_tokens + usage.cache_creation_tokens
    return (
        f"{sent:,} in · {usage.output_tokens:,} out · {usage.cache_read_tokens:,} from cache"
        f" · {money(amount)}"
    )


@dataclass
class Spend:
    """Usage and money summed over replies (of one conversation, day or model)."""

    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    saved: float = 0.0
    unpriced: int = 0  # replies of models the table has no price for

    def add(self, usage: Usage, model: str | None, table: dict[str, Price]) -> None:
        self.usage = self.usage + usage
        price = price_for(model, table)
        if price is None:
            self.unpriced += 1
            return
        self.cost += cost(usage, price)
        self.saved += saved_by_cache(usage, price)

    @property
    def total_cost(self) -> float | None:
        """None (shown `?`) while a reply has no price: the others' sum alone read as the
        whole, $0.0000 for a conversation of an unpriced model, where list showed `?`."""
        return None if self.unpriced else self.cost

    @property
    def total_saved(self) -> float | None:
        return None if self.unpriced else self.saved

    def unpriced_said(self) -> str:
        """ " (2 replies of models with no price)", or nothing when every reply has one."""
        if not self.unpriced:
            return ""
        if self.unpriced == 1:
            return " (1 reply of a model with no price)"
        return f" ({self.unpriced:,} replies of models with no price)"


def conversation_cost(messages: Any, table: dict[str, Price]) -> float | None:
    """The replies' cost alone, as conversation_spend(...).cost, None when a reply's model has
    no price; every save computes it, so without summing usage or looking a model up twice."""
    total = 0.0
    prices: dict[str | None, Price | None] = {}
    for message in messages:
        if message.role != "assistant" or message.usage is None:
            continue
        if message.model not in prices:
            prices[message.model] = price_for(message.model, table)
        price = prices[message.model]
        if price is None:
            return None
        total += cost(message.usage, price)
    return total


def made_here(conversation: Conversation) -> list[Message]:
    """The messages paid for in this conversation: a fork's copies of its parent's replies
    (made before the fork was) were paid for by the parent, and are counted there. `list`
    and `/usage` both count these: `/usage` in a fork counted the copies again."""
    if conversation.parent_id is None:
        return conversation.messages
    return [m for m in conversation.messages if m.created_at >= conversation.created_at]


def conversation_spend(messages: Any, table: dict[str, Price]) -> Spend:
    spend = Spend()
    for message in messages:
        if message.role == "assistant" and message.usage is not None:
            spend.add(message.usage, message.model, table)
    return spend
