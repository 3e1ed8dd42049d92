"""Tables in a terminal under NO_COLOR or TERM=dumb keep their headings and aligned columns:
NO_COLOR gave them the pipe's layout, rows of tab-separated values without column names."""

from __future__ import annotations

import re

from test_terminal_output import colour_codes, run_in_terminal, two_conversations  # noqa: F401


def test_usage_under_no_color_has_its_headings_and_no_colour(two_conversations) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    shown = run_in_terminal("usage", env={"NO_COLOR": "1"})
    assert colour_codes(shown) == [], shown
    assert "\t" not in shown, shown
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown)
    header = next(line for line in screen.splitlines() if line.startswith("day"))
    assert header.split()[:3] == ["day", "input", "cache"], screen
    assert any(line.startswith("20") and "█" in line for line in screen.splitlines()), screen


def test_a_dumb_terminal_gets_the_table_without_any_escape_sequence(two_conversations) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """Aligned text needs no escape sequence: a dumb terminal (Emacs's shell) can show it."""
    listed = run_in_terminal("list", env={"TERM": "dumb"})
    assert "\x1b" not in listed, listed
    header = next(line for line in listed.splitlines() if "Name" in line)
    assert all(column in header for column in ("ID", "Name", "Model", "Msgs", "Updated"))
    assert "\t" not in listed and "release notes" in listed


def test_a_dumb_terminal_is_laid_out_for_its_width(cli, two_conversations) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """rich gave a dumb terminal 80 columns whatever its width: in 200, `list` cut the names
    and `usage --by model` broke its headings over two lines."""
    name = "the release notes for the autumn version, second draft"
    assert cli("rename", two_conversations, name).returncode == 0
    listed = run_in_terminal("list", env={"TERM": "dumb"}, columns=200)
    assert name in listed, listed
    usage = run_in_terminal("usage", "--by", "model", env={"TERM": "dumb"}, columns=200)
    header = next(line for line in usage.splitlines() if line.startswith("model"))
    assert "cache writes" in header and "saved by cache" in header, usage


def test_show_under_no_color_writes_no_escape_sequence_at_all(two_conversations) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """NO_COLOR took the colours from `show` but left its bold, dim and underline: a terminal
    under NO_COLOR gets the rendered text with no escape sequence, as `list` does."""
    styled = run_in_terminal("show", two_conversations)
    assert "\x1b[" in styled  # without NO_COLOR, styles: the check below can fail
    plain = run_in_terminal("show", two_conversations, env={"NO_COLOR": "1"})
    assert "\x1b" not in plain, plain
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", styled)
    assert plain.split() == screen.split()  # the same text, only unstyled
    assert "Heading" in plain and "bold item" in plain and "print('hi')" in plain


def test_search_under_no_color_writes_no_escape_sequence_at_all(two_conversations) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """Its title bold and its date dim under NO_COLOR too, its matches in reverse video."""
    assert "\x1b[" in run_in_terminal("search", "format")  # styled without NO_COLOR
    plain = run_in_terminal("search", "format", env={"NO_COLOR": "1"})
    assert "\x1b" not in plain, plain
    assert "format something" in plain  # the title
    assert "**format** something" in plain  # the match marked as a pipe marks it
