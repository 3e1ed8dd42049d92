"""Tables drawn by claudechat.mdtables look exactly as rich's Table draws them where rich has
all the room it wants; where rich wraps or cuts cells short, every character is still shown.

The comparison is of what reaches the terminal: the same markdown printed by a console with
claudechat's table element and with rich's own, byte for byte. (rich's own, not claudechat's
fallback: against that, a table claudechat does not draw itself was compared with itself.)
"""

from __future__ import annotations

import io
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console
from rich.markdown import TableElement
from rich.text import Text

from claudechat import mdtables
from claudechat.markdown import make_markdown

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from replies import REPLIES


def printed(text: str, width: int, quick: bool) -> str:
    """The markdown as printed, with claudechat's tables (quick) or with rich's own Table."""
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=True, color_system="256")
    markdown = make_markdown(text)
    if not quick:
        markdown.elements = {**markdown.elements, "table_open": TableElement}  # type: ignore[misc]
    console.print(markdown)
    return out.getvalue()


def assert_prints_as_rich_or_whole(text: str, width: int) -> None:
    """As rich's own Table prints it where rich lays it out as with all the room it wants
    (nothing wrapped, nothing cut); otherwise rich cuts cells short ("val…", or a column
    squeezed to nothing) where claudechat folds them: every character shown, within `width`."""
    ours, richs = printed(text, width, quick=True), printed(text, width, quick=False)
    if richs == printed(text, 1000, quick=False):
        assert ours == richs
    else:
        assert shows_whole(text, ours), plain(ours)
        assert max(cell_len(line) for line in plain(ours).splitlines()) <= width, plain(ours)


def shows_whole(text: str, printed_text: str) -> bool:
    shown = plain(printed_text)
    wanted = _characters(_cells_kept(text))
    return "…" not in shown and not Counter(wanted) - Counter(_characters(shown))


def plain(printed_text: str) -> str:
    return Text.from_ansi(printed_text).plain


def _cells_kept(text: str) -> str:
    """The markdown with a row's cells past its heading's count dropped, as markdown drops
    them."""
    kept, columns = [], 0
    for line in text.splitlines():
        if not line.startswith("|"):
            kept.append(line)
            columns = 0
            continue
        cells = line.strip().strip("|").split("|")
        columns = columns or len(cells)
        kept.append(" ".join(cells[:columns]))
    return "\n".join(kept)


def _characters(text: str) -> str:
    # markdown's own marks (and the table's) are no cell's text; a box's lines are drawn.
    return "".join(char for char in text if not char.isspace() and char not in "#|-:*~`─")


WORDS = ["a", "the", "value", "x", "longer_name", "日本語", "naïve", "🙂", "42", "3.14", ""]
FORMATS = ["{}", "`{}`", "**{}**", "*{}*", "~~{}~~"]
word = st.tuples(st.sampled_from(WORDS), st.sampled_from(FORMATS)).map(
    lambda pair: pair[1].format(pair[0]) if pair[0] else ""
)
cell = st.lists(word, max_size=6).map(" ".join)
alignment = st.sampled_from(["---", ":---", "---:", ":---:"])


@st.composite
def tables(draw: st.DrawFn) -> str:
    columns = draw(st.integers(1, 5))
    header = [draw(cell) or "h" for _ in range(columns)]
    rows = draw(
        st.lists(
            # Ragged rows too: markdown fills or drops their cells.
            st.lists(cell, min_size=max(1, columns - 1), max_size=columns + 1),
            max_size=6,
        )
    )
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(draw(alignment) for _ in range(columns)) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
    return "Before.\n\n" + "\n".join(lines) + "\n\nAfter.\n"


@settings(max_examples=300, deadline=None)
@given(tables(), st.integers(12, 120))
def test_any_table_prints_as_richs_table_prints_it(text: str, width: int) -> None:
    assert_prints_as_rich_or_whole(text, width)


def test_the_benchmark_replies_print_as_with_richs_tables() -> None:
    # Each table alone: a code block wider than the terminal is cropped, by rich's choice.
    tables = [table for make in REPLIES.values() for table in tables_of(make(4000))]
    assert len(tables) > 10
    for table in tables:
        for width in (100, 60, 30):
            assert_prints_as_rich_or_whole(table, width)


def tables_of(text: str) -> list[str]:
    tables, rows = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            tables.append("\n".join(rows) + "\n")
            rows = []
    return tables


@pytest.fixture
def quick_path(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each table drawn took the quick path (True) or was left to rich."""
    taken: list[bool] = []
    original = mdtables.table_lines

    def recording(*args: Any) -> Any:
        lines = original(*args)
        taken.append(lines is not None)
        return lines

    monkeypatch.setattr(mdtables, "table_lines", recording)
    return taken


def test_most_tables_of_a_table_heavy_reply_take_the_quick_path(quick_path: list[bool]) -> None:
    printed(REPLIES["table-heavy"](4000), 100, quick=True)
    assert len(quick_path) > 10
    assert sum(quick_path) / len(quick_path) > 0.9


def test_tables_rich_lays_out_otherwise_are_left_to_it(quick_path: list[bool]) -> None:
    tab, separator = "| a\tb | c |\n|---|---|\n| d | e |\n", "| a\u2028b | c |\n|---|---|\n"
    for text in (tab, separator):
        assert printed(text, 80, quick=True) == printed(text, 80, quick=False)
    assert quick_path == [False, False]


def test_a_terminal_that_is_not_utf8_gets_richs_ascii_table(quick_path: list[bool]) -> None:
    def ascii_printed(quick: bool) -> bytes:
        raw = io.BytesIO()
        stream = io.TextIOWrapper(raw, encoding="ascii", write_through=True)
        markdown = make_markdown("| a | b |\n|---|---|\n| c | d |\n")
        if not quick:
            markdown.elements = {**markdown.elements, "table_open": TableElement}  # type: ignore[misc]
        Console(file=stream, width=80, force_terminal=True).print(markdown)
        return raw.getvalue()

    assert ascii_printed(quick=True) == ascii_printed(quick=False)
    assert quick_path == [False]


def test_a_table_wider_than_the_terminal_is_left_to_rich(quick_path: list[bool]) -> None:
    text = "| " + " | ".join(["word " * 6] * 5) + " |\n|---|---|---|---|---|\n"
    assert printed(text, 60, quick=True) == printed(text, 60, quick=False)
    assert quick_path == [False]
    assert printed(text, 200, quick=True) == printed(text, 200, quick=False)
    assert quick_path == [False, True]


def test_a_table_wider_than_the_terminal_keeps_every_word_whole() -> None:
    """rich cut a cell's words to fit its column ("Postgre…", "seriali…"); they fold inside
    the cell now, or, when the words alone do not fit side by side, each row is a block."""
    from rich.text import Text

    header = "| Feature | PostgreSQL | MySQL | SQLite | MongoDB | Redis | Cassandra | DynamoDB |"
    row = "| Transactions | Full ACID, serializable | ACID with InnoDB | ACID, single writer"
    row += " | Multi-document since 4.0 | MULTI/EXEC | Lightweight transactions"
    row += " | TransactWriteItems |"
    text = header + "\n|---|---|---|---|---|---|---|---|\n" + row + "\n"
    words = set((header + row).replace("|", " ").split())
    for width in (120, 80, 40):
        shown = Text.from_ansi(printed(text, width, quick=True)).plain
        assert "…" not in shown, shown
        assert {word for word in shown.split() if "─" not in word} == words, shown


def test_a_table_of_headings_alone_too_wide_for_the_terminal_shows_them() -> None:
    """Shown a block a row, a table with no rows showed nothing."""
    from rich.text import Text

    headings = ["Feature", "PostgreSQL", "MySQL", "SQLite", "MongoDB", "Cassandra"]
    text = "| " + " | ".join(headings) + " |\n|" + "---|" * len(headings) + "\n\nEND\n"
    shown = Text.from_ansi(printed(text, 40, quick=True)).plain
    assert shown.split() == [*headings, "END"], shown
