"""What a conversation name may hold: the joiners Persian, Indic and emoji need, and nothing
that moves the cursor or reorders a terminal's line."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claudechat.errors import UsageError
from claudechat.names import MAX_NAME_CHARS, cleaned_name, valid_name
from claudechat.output import safe_text
from test_delete import saved

JOINERS = "\u200c\u200d"  # zero-width non-joiner and joiner
JOINED_NAMES = ["Family 👨‍👩‍👧 trip", "می‌خواهم", "क्‍ष", "❤️ notes"]

# The characters that could reorder a line or move the cursor, and the joiners a name keeps.
TRICKY = [
    *"\u200c\u200d\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
    *"\u2028\u2029\u0085\x1b\x07\x08\r\n\t\x7f\u00ad\u200b\u2060\ufeff\ufe0f\U000e0067",
]
names = st.text(st.one_of(st.characters(), st.sampled_from(TRICKY)), max_size=40)

EXPLICIT_BIDI = {"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"}


def moves_nothing(name: str) -> bool:
    """No control, separator or bidi character, and no format character but a joiner."""
    return safe_text(name) == name and all(
        (unicodedata.category(c) not in {"Cc", "Cf", "Zl", "Zp", "Cs"} or c in JOINERS)
        and unicodedata.bidirectional(c) not in EXPLICIT_BIDI
        for c in name
    )


@settings(max_examples=500, deadline=None)
@given(names)
def test_an_accepted_name_has_nothing_that_moves_the_cursor_or_reorders_text(name: str) -> None:
    try:
        accepted = valid_name(name)
    except UsageError:
        return
    assert moves_nothing(accepted)
    assert accepted[0] not in JOINERS and accepted[-1] not in JOINERS


@settings(max_examples=500, deadline=None)
@given(names)
def test_a_cleaned_name_is_one_valid_name_takes(name: str) -> None:
    cleaned = cleaned_name(name)
    if cleaned is not None:
        assert valid_name(cleaned) == cleaned
        assert moves_nothing(cleaned) and len(cleaned) <= MAX_NAME_CHARS


@pytest.mark.parametrize("name", JOINED_NAMES)
def test_a_name_with_joiners_is_kept_as_it_is(name: str) -> None:
    assert valid_name(name) == name
    assert cleaned_name(name) == name


@pytest.mark.parametrize("name", ["\u200d", " \u200c\u200d "])
def test_a_name_of_joiners_only_is_empty(name: str) -> None:
    with pytest.raises(UsageError, match="cannot be empty"):
        valid_name(name)
    assert cleaned_name(name) is None


@pytest.mark.parametrize("mark", ["\u200e", "\u200f", "\u061c", "\u202e", "\u2067", "\u2028"])
def test_a_bidi_mark_or_separator_is_still_refused(mark: str) -> None:
    with pytest.raises(UsageError, match="one line without control characters"):
        valid_name(f"left{mark}right")
    assert cleaned_name(f"left{mark}right") == "left right"


def test_rename_and_chat_name_take_joiners(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """Each was refused as "one line without control characters", exit 2."""
    conversation = saved("a trip")
    for name in JOINED_NAMES:
        result = cli("rename", conversation.id[:8], name)
        assert result.returncode == 0, result.stderr
        assert result.stderr == f"renamed {conversation.id[:8]} to “{name}”\n"
        assert json.loads(cli("show", conversation.id, "--json").stdout)["name"] == name
    started = cli("chat", "--name", JOINED_NAMES[0], input="hello")
    assert started.returncode == 0, started.stderr
    assert JOINED_NAMES[0] in cli("list").stdout
