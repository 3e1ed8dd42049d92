"""The packaged price table (data/prices.toml) against Anthropic's published list prices of
2026-11-28: each newer model at its own price, and no price at all where one figure per token
kind cannot say it, rather than an older model's by prefix."""

from __future__ import annotations

import json

import pytest

from claudechat.pricing import Price, price_for, price_table
from fakes.anthropic_api import Reply


@pytest.mark.parametrize(
    ("model", "price"),
    [
        # Opus 5.5 was the Opus 5 price by prefix ($5 / $25, reads $0.50).
        ("claude-opus-5-5", Price(4.0, 20.0, 5.0, 8.0, 0.2)),
        # Sonnet 5.5 was the Sonnet 5 price, reads at $0.20 where they are $0.10.
        ("claude-sonnet-5-5", Price(2.0, 10.0, 2.5, 4.0, 0.1)),
        ("claude-fable-5-1", Price(10.0, 50.0, 12.5, 20.0, 0.25)),
        ("claude-mythos-5-1", Price(10.0, 50.0, 12.5, 20.0, 0.25)),
        ("us.anthropic.claude-opus-5-5", Price(4.0, 20.0, 5.0, 8.0, 0.2)),
        # The older ones keep theirs.
        ("claude-opus-5", Price(5.0, 25.0, 6.25, 10.0, 0.5)),
        ("claude-sonnet-5", Price(2.0, 10.0, 2.5, 4.0, 0.2)),
        ("claude-opus-4-8", Price(5.0, 25.0, 6.25, 10.0, 0.5)),
    ],
)
def test_each_newer_model_has_its_own_list_price(model: str, price: Price) -> None:
    assert price_for(model, price_table()) == price


@pytest.mark.parametrize(
    "model",
    [
        "claude-haiku-5-5",  # priced by prompt length: $0.10 / $0.50 to 100,000 tokens, then 5x
        "claude-fable-5-2",  # $8 / $40, but no cache prices published on Anthropic's pages
        "claude-mythos-5-2",
    ],
)
def test_a_model_one_price_cannot_describe_has_none(model: str) -> None:
    assert price_for(model, price_table()) is None


def test_usage_prices_an_opus_5_5_reply_at_its_own_rates(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """usage showed $0.03 for this reply: Opus 5's $5 / $25, as its prefix matched."""
    fake_api.queue(Reply("a", input_tokens=1000, output_tokens=1000))
    assert cli("chat", "--model", "claude-opus-5-5", input="hi").returncode == 0
    [row] = json.loads(cli("usage", "--by", "model", "--json").stdout)
    # 1,000 x $4 + 1,000 x $20 per million
    assert (row["model"], row["cost"], row["unpriced"]) == ("claude-opus-5-5", 0.024, 0)
