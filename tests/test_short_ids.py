"""The ids `list` and `search` show: cut to 8 characters, two conversations alike in their
first 8 showed the same id, which `show` then refused as ambiguous. Each is now as long as
tells it from every other of the user's (as git abbreviates hashes), on the page or not."""

from __future__ import annotations

import os
import re
import sys

import pexpect
from hypothesis import given
from hypothesis import strategies as st

from claudechat.conversation import Conversation
from claudechat.short_ids import unique_prefixes
from conftest import save_conversation
from test_terminal_output import run_in_terminal

# All alike in their first 8 characters (and the hyphen), the first three in their first 11.
NEWEST = "abcd1234-5600-4000-8000-000000000000"
ALIKE = "abcd1234-5678-4000-8000-000000000000"
OLDEST = "abcd1234-5679-4000-8000-000000000000"
FORK = "abcd1234-9999-4000-8000-000000000000"
# Another user's, alike in 13 characters to NEWEST: `show` never looks at it, nor does `list`.
OTHERS = "abcd1234-5601-4000-8000-000000000000"


def saved(conversation_id: str, text: str, user: str = "tester") -> Conversation:
    conversation = Conversation.new(user, "claude-sonnet-4-6")
    conversation.id = conversation_id
    conversation.append("user", text)
    save_conversation(conversation)
    return conversation


def listed(cli, *args: str) -> list[list[str]]:  # type: ignore[no-untyped-def]
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    return [line.split("\t") for line in result.stdout.splitlines()]


def test_list_and_search_show_ids_that_show_accepts(cli, backend) -> None:  # type: ignore[no-untyped-def]
    saved(OLDEST, "a talk about ferns")
    saved(ALIKE, "a talk about moss")
    saved(NEWEST, "a talk about lichen")
    fork = Conversation.new("tester", "claude-sonnet-4-6")
    fork.id, fork.parent_id = FORK, NEWEST
    fork.append("user", "a fork of the lichen talk")
    save_conversation(fork)
    saved(OTHERS, "not yours", user="someone-else")

    rows = listed(cli, "list")
    shown = [row[0] for row in rows]
    assert shown == ["abcd1234-9", "abcd1234-560", "abcd1234-5678", "abcd1234-5679"]
    assert rows[0][5] == shown[1]  # the fork's parent, as its own row shows it
    for short, full in zip(shown, [FORK, NEWEST, ALIKE, OLDEST], strict=True):
        assert full.startswith(short)
        result = cli("show", "--json", short)
        assert result.returncode == 0, result.stderr
        assert f'"id": "{full}"' in result.stdout
    # The page's rows told apart from the rows left off it too.
    assert [row[0] for row in listed(cli, "list", "-n", "1")] == [shown[0]]
    assert [row[0] for row in listed(cli, "list", "--search", "moss")] == [shown[2]]

    hits = listed(cli, "search", "talk")
    assert {hit[0] for hit in hits} == set(shown)


def test_a_longer_id_keeps_the_table_on_the_screen(cli) -> None:  # type: ignore[no-untyped-def]
    saved(NEWEST, "a conversation whose first message is long enough to be cut short at 60")
    saved(ALIKE, "another one")
    for columns in (80, 60):
        screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", run_in_terminal("list", columns=columns))
        lines = [line for line in screen.splitlines() if line.strip()]
        assert all(len(line) <= columns for line in lines), screen
        # Each id whole, on its row's first line.
        assert any(line.startswith("abcd1234-560 ") for line in lines), screen
        assert any(line.startswith("abcd1234-567 ") for line in lines), screen


def test_only_the_neighbours_are_read_unless_there_are_many(backend, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from claudechat.settings import load_settings
    from claudechat.storage import metadata, open_store

    for conversation_id in (NEWEST, ALIKE, OLDEST, FORK):
        saved(conversation_id, "hello")
    saved(OTHERS, "not yours", user="someone-else")
    store = open_store(load_settings())
    try:
        assert store.metadata.neighbour_ids("tester", [ALIKE]) == {NEWEST, OLDEST}
        assert store.metadata.neighbour_ids("tester", [FORK, NEWEST]) == {OLDEST, ALIKE}
        # More than one statement's worth: every id of the user's, in one scan.
        monkeypatch.setattr(metadata, "NEIGHBOURS_AT_ONCE", 1)
        every = {NEWEST, ALIKE, OLDEST, FORK}
        assert store.metadata.neighbour_ids("tester", [FORK, NEWEST]) == every
    finally:
        store.close()


# Ids from few characters, so that many share long beginnings.
ids = st.text("ab", min_size=36, max_size=36)


@given(st.sets(ids, min_size=1, max_size=30), st.data())
def test_every_prefix_is_unique_and_as_short_as_it_can_be(known: set[str], data) -> None:  # type: ignore[no-untyped-def]
    shown = data.draw(st.sets(st.sampled_from(sorted(known))))
    prefixes = unique_prefixes(shown, known)
    assert set(prefixes) == shown
    for conversation_id, prefix in prefixes.items():
        assert len(prefix) >= 8 and conversation_id.startswith(prefix)
        assert [other for other in known if other.startswith(prefix)] == [conversation_id]
        if len(prefix) > 8:  # a character shorter, it is another's beginning too
            assert sum(other.startswith(prefix[:-1]) for other in known) > 1


def test_lines_naming_a_conversation_show_its_id_as_list_does(cli) -> None:  # type: ignore[no-untyped-def]
    """`rename` said "renamed abcd1234", and the delete question listed two conversations as
    "abcd1234" both: the id to type next named two."""
    saved(ALIKE, "a talk about moss")
    saved(OLDEST, "a talk about ferns")
    renamed = cli("rename", ALIKE, "Moss")
    assert renamed.returncode == 0, renamed.stderr
    assert "renamed abcd1234-5678 to" in renamed.stderr, renamed.stderr

    child = pexpect.spawn(
        sys.executable,
        ["-m", "claudechat", "delete", ALIKE, OLDEST],
        env=dict(os.environ),
        encoding="utf-8",
        timeout=30,
    )
    child.expect_exact("[y/N]")
    asked = child.before or ""
    child.send("n\r")
    child.expect(pexpect.EOF)
    child.close()
    assert re.search(r"abcd1234-5678\s+Moss", asked), asked
    assert re.search(r"abcd1234-5679\s", asked), asked


def test_ids_stay_told_apart_from_this_machines_copies_when_the_store_fails(backend) -> None:  # type: ignore[no-untyped-def]
    """While the store is down (or fails between the listing and its ids), the copies kept on
    this machine stand in for its rows, as they do when `show` resolves an id then."""
    from claudechat.settings import load_settings
    from claudechat.short_ids import shown_prefixes
    from claudechat.storage import open_store

    for conversation_id in (NEWEST, ALIKE, OLDEST):
        saved(conversation_id, "hello")
    store = open_store(load_settings())
    # ALIKE is told from OLDEST, not shown, by its 13th character: known from the copies.
    expected = {ALIKE: "abcd1234-5678", NEWEST: "abcd1234-560"}
    try:
        assert shown_prefixes(store, "tester", [ALIKE, NEWEST], [], store_down=True) == expected
    finally:
        store.close()
    # A store closed refuses every call (StorageError), as one gone since the listing would.
    assert shown_prefixes(store, "tester", [ALIKE, NEWEST], []) == expected
    # Without them, one character short: `show abcd1234-567` would be ambiguous.
    assert unique_prefixes([ALIKE, NEWEST], [])[ALIKE] == "abcd1234-567"
