"""A link in a reply shows its address after its text on the terminal: as a terminal hyperlink
the address was dropped (the live region writes colours, not links), and with NO_COLOR nothing
set the text apart, so "See [the docs](https://example.com/docs)" read "See the docs"."""

from __future__ import annotations

from renderkit import one_shot_lines, random_chunks, screen_lines, stream

LINKS = "See [the docs](https://example.com/docs), <https://x.dev/ä> and <a@b.c>.\n"
SHOWN = "See the docs (https://example.com/docs), https://x.dev/ä and a@b.c."


def test_a_link_shows_its_address_and_an_autolink_shows_it_once() -> None:
    assert SHOWN in one_shot_lines(LINKS)


def test_a_streamed_link_shows_its_address() -> None:
    for seed in range(3):
        console = stream(LINKS, random_chunks(LINKS, seed), refresh_every=1)
        assert SHOWN in screen_lines(console), f"seed {seed}"


def test_a_link_named_by_its_address_shows_it_once_and_an_image_its_address() -> None:
    """[x](x) read "x (x)"; an image was drawn first in its paragraph, without its address."""
    shown = " ".join(
        one_shot_lines(
            "[https://ex.com/a](https://ex.com/a), [**https://ex.com/b**](https://ex.com/b) "
            "and ![a chart](https://ex.com/c.png) here.\n"
        )
    )
    assert shown == (
        "https://ex.com/a, https://ex.com/b and a chart (https://ex.com/c.png) here."
    ), shown
