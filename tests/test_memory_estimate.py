"""The token estimate of text not yet sent: cautious for CJK, Hangul, kana and other non-Latin
scripts, where a tokenizer gives about one token a character or more. At three characters a
token, 200,000 Japanese characters were estimated at about 66,700 tokens."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claudechat.blocks import text_block
from claudechat.errors import ContextTooLargeError
from claudechat.memory import ConversationMemory, estimate_block_tokens, estimate_tokens


def test_japanese_text_counts_about_one_token_a_character() -> None:
    japanese = "日本語のテキストです。" * 20_000  # 220,000 characters
    assert estimate_tokens(japanese) >= len(japanese)
    assert estimate_block_tokens([text_block(japanese)]) >= len(japanese)


def test_hangul_chinese_and_cyrillic_count_one_token_a_character() -> None:
    for text in ("한국어 문장입니다", "中文文本", "Русский текст"):
        letters = sum(1 for character in text if character != " ")
        assert estimate_tokens(text * 1000) >= letters * 1000


def test_english_and_accented_latin_keep_three_characters_a_token() -> None:
    assert estimate_tokens("word " * 3000) == 5000 + 4
    assert estimate_tokens("café " * 3000) == 5000 + 4


def test_a_japanese_message_past_the_window_is_refused_as_such() -> None:
    """About 66,700 tokens estimated, it fit a 200,000-token window and was sent."""
    memory = ConversationMemory(max_context_tokens=150_000, window=200_000)
    with pytest.raises(ContextTooLargeError, match="whole context window of 200,000 tokens"):
        memory.update_memory("user", "日本語" * 70_000)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.text(max_size=300))
def test_the_estimate_never_decreases_as_text_is_appended(text: str, more: str) -> None:
    assert estimate_tokens(text + more) >= estimate_tokens(text)
    longer = estimate_block_tokens([text_block(text), text_block(more)])
    assert longer >= estimate_block_tokens([text_block(text)])
