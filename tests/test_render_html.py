"""What markdown-it reads as HTML reaches the terminal as the text Claude wrote: rich's
Markdown dropped it, so "Use the <br> element" showed as "Use the  element" and a <div>
block not at all, where a pipe and --markdown kept every character."""

from __future__ import annotations

from claudechat.render import MarkdownStreamRenderer
from renderkit import (
    HTML_AS_TEXT,
    make_console,
    one_shot_lines,
    random_chunks,
    screen_lines,
    stream,
)


def words_missing(lines: list[str], text: str) -> list[str]:
    shown = " ".join(lines).split()
    return [word for word in text.split() if word not in shown]


def test_inline_and_block_html_show_as_written() -> None:
    lines = one_shot_lines(HTML_AS_TEXT)
    assert words_missing(lines, HTML_AS_TEXT) == [], lines
    assert "Press <kbd>Ctrl</kbd>+<kbd>C</kbd>. Use the <br> element, and a <T> type param:" in (
        lines
    )
    assert lines[3:6] == ["<div>", "block html here", "</div>"], lines


def test_streamed_html_shows_as_written() -> None:
    for seed in range(3):
        console = stream(HTML_AS_TEXT, random_chunks(HTML_AS_TEXT, seed), refresh_every=1)
        lines = screen_lines(console)
        assert words_missing(lines, HTML_AS_TEXT) == [], f"seed {seed}: {lines}"


def test_html_still_streaming_shows_in_the_live_region() -> None:
    console = make_console()
    renderer = MarkdownStreamRenderer(console, auto_refresh=False)
    renderer.feed("Use the <br> element, a List<String> x; if a<b and c>d")
    renderer.refresh()
    assert screen_lines(console) == ["Use the <br> element, a List<String> x; if a<b and c>d"]
    renderer.feed("\n\n<div>\nblock html")
    renderer.refresh()
    assert screen_lines(console)[-2:] == ["<div>", "block html"]
    renderer.finish()


def test_escape_sequences_in_html_stay_harmless() -> None:
    """The REPL sanitises the text before it is rendered; HTML shown as text keeps that."""
    from claudechat.output import safe_text

    lines = one_shot_lines(safe_text("<b>\x1b[2J</b>\n\n<div>\x1b]0;title\x07</div>\n"))
    assert lines == ["<b>^[[2J</b>", "", "<div>^[]0;title^G</div>"], lines
