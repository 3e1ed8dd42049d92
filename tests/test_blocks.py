"""Splitting streamed markdown into finished top-level blocks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claudechat.render import (
    BlockSplitter,
    split_finished_blocks,
)
from renderkit import (
    DOCUMENTS,
    random_chunks,
)

# --------------------------------------------------------------------------- split_finished_blocks


def test_split_at_blank_line_before_column_zero() -> None:
    blocks, rest = split_finished_blocks("# Title\n\nPara one.\n\nPara two\n")
    assert blocks == ["# Title\n\n", "Para one.\n\n"]
    assert rest == "Para two\n"


def test_split_waits_for_the_next_line_to_be_complete() -> None:
    # Whether a blank line ends a block depends on the line after it (a list item
    # may continue the list), so nothing is decided on a partial line.
    assert split_finished_blocks("Para one.\n\n") == ([], "Para one.\n\n")
    assert split_finished_blocks("Para one.\n\nNe") == ([], "Para one.\n\nNe")
    assert split_finished_blocks("Para one.\n\nNext\n") == (["Para one.\n\n"], "Next\n")


def test_no_split_inside_fence_with_blank_lines() -> None:
    text = "```python\na = 1\n\nb = 2\n\n```\n\nAfter\n"
    assert split_finished_blocks(text) == (["```python\na = 1\n\nb = 2\n\n```\n\n"], "After\n")


def test_tilde_fence_is_closed_only_by_tildes_of_at_least_its_length() -> None:
    text = "~~~~\ncode\n\n```\n\n~~~\n\nstill code\n~~~~\n\nAfter\n"
    blocks, rest = split_finished_blocks(text)
    assert blocks == ["~~~~\ncode\n\n```\n\n~~~\n\nstill code\n~~~~\n\n"]
    assert rest == "After\n"


def test_unclosed_fence_stays_unfinished() -> None:
    text = "Intro\n\n```\ncode\n\nmore code\n\nAnd more\n"
    assert split_finished_blocks(text) == (["Intro\n\n"], "```\ncode\n\nmore code\n\nAnd more\n")


def test_inline_triple_backticks_are_not_a_fence() -> None:
    text = "```not a fence```\n\nNext\n\nLast\n"
    assert split_finished_blocks(text) == (["```not a fence```\n\n", "Next\n\n"], "Last\n")


def test_indented_lines_after_blank_stay_with_their_block() -> None:
    text = "- item\n\n  continued\n\n      indented code\n\nNext\n"
    assert split_finished_blocks(text) == (
        ["- item\n\n  continued\n\n      indented code\n\n"],
        "Next\n",
    )


def test_loose_list_items_stay_in_one_block() -> None:
    text = "- a\n\n- b\n\n  - nested\n\n- c\n\nAfter\n\n1. x\n\n2. y\n"
    blocks, rest = split_finished_blocks(text)
    assert blocks == ["- a\n\n- b\n\n  - nested\n\n- c\n\n", "After\n\n"]
    assert rest == "1. x\n\n2. y\n"


def test_fence_inside_list_item() -> None:
    text = "1. Step\n\n   ```\n   a\n\nb at column zero inside the fence\n   ```\n\nAfter\n"
    blocks, rest = split_finished_blocks(text)
    assert len(blocks) == 1 and rest == "After\n"


def test_leading_blank_lines_join_the_first_block() -> None:
    assert split_finished_blocks("\n\nHello\n\nWorld\n") == (["\n\nHello\n\n"], "World\n")


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_blocks_partition_the_text(name: str) -> None:
    text = DOCUMENTS[name]
    blocks, rest = split_finished_blocks(text)
    assert "".join(blocks) + rest == text


_FRAGMENTS = [
    "# H\n",
    "text\n",
    "\n",
    "  indented\n",
    "- item\n",
    "1. one\n",
    "```\n",
    "~~~\n",
    "````py\n",
    "> q\n",
    "| a | b |\n",
    "|---|---|\n",
    "---\n",
    "x",
    " ",
    "\t",
    "`",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=40), st.integers(0, 10_000))
def test_incremental_splitting_matches_whole_text_splitting(parts: list[str], seed: int) -> None:
    text = "".join(parts)
    splitter = BlockSplitter()
    blocks = [block for chunk in random_chunks(text, seed, 5) for block in splitter.feed(chunk)]
    assert (blocks, splitter.remainder) == split_finished_blocks(text)
    assert "".join(blocks) + splitter.remainder == text
