"""A code block's long line folds at the window's edge with every character kept: a wide
character (CJK, emoji) that would straddle the edge starts the next row. rich's Segment.divide,
which cut the rows before, put two spaces in its place (码 gone from a Chinese comment at 41
columns, 語 from a Japanese one at 36)."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len, split_graphemes
from rich.console import Console
from rich.segment import Segment
from rich.style import Style

from claudechat.markdown import fold_row, make_markdown
from claudechat.render import MarkdownStreamRenderer
from renderkit import screen_lines

CHINESE = "# 这是一个非常长的中文注释行用于测试代码块在窄终端中的折行行为"
MIXED = "return x * 2  # comment with 日本語 and emoji 🎉"


def code_rows(line: str, width: int, *, streamed: bool) -> list[str]:
    """The rows of a fenced code block holding `line`, as printed, without the blank column
    on their left or the blank rows around them."""
    console = Console(file=io.StringIO(), width=width, force_terminal=True, color_system="256")
    text = f"Code:\n\n```python\n{line}\n```\n"
    if streamed:
        with MarkdownStreamRenderer(console, auto_refresh=False) as renderer:
            renderer.feed(text)
    else:
        console.print(make_markdown(text))
    rows = screen_lines(console)
    return [row[1:] for row in rows[rows.index("Code:") + 1 :] if row]


@pytest.mark.parametrize("streamed", [False, True], ids=["printed", "streamed"])
@pytest.mark.parametrize(
    ("line", "width"), [(CHINESE, 41), (CHINESE, 40), (MIXED, 40), (MIXED, 36), (MIXED, 34)]
)
def test_every_character_of_a_long_code_line_is_shown_once_in_order(
    line: str, width: int, streamed: bool
) -> None:
    rows = code_rows(line, width, streamed=streamed)
    assert len(rows) > 1  # it did fold
    assert "".join(rows) == line
    assert all(cell_len(row) + 1 <= width for row in rows)


_CHARACTERS = st.sampled_from(
    list("abc xyz_#()") + list("这是中文日本語한국어") + ["🎉", "😀", "🚀", "e\u0301"]
)
_SEGMENTS = st.lists(st.lists(_CHARACTERS, max_size=12).map("".join), max_size=8)


@settings(max_examples=400, deadline=None)
@given(_SEGMENTS, st.integers(2, 30))
def test_folded_rows_join_to_the_line_and_fit_the_width(texts: list[str], width: int) -> None:
    styles = [Style(color="red"), Style(bold=True), None]
    row = [Segment(text, styles[index % 3]) for index, text in enumerate(texts)]
    folded = fold_row(row, width)
    assert "".join(segment.text for piece in folded for segment in piece) == "".join(texts)
    widths = [sum(segment.cell_length for segment in piece) for piece in folded]
    assert all(width_of_row <= width for width_of_row in widths)
    for piece, next_piece, used in zip(folded, folded[1:], widths, strict=False):
        # A row ends short only where the next row's first character would not fit.
        next_text = "".join(segment.text for segment in next_piece)
        spans, _ = split_graphemes(next_text)
        assert used + spans[0][2] > width
        # Each piece keeps its segment's style.
        assert all(segment.style in styles for segment in piece)
