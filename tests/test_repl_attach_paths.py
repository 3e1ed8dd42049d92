"""Tab completion of /attach's paths read back by /attach: whatever the file's name, and
however the start of it was typed (bare with backslashes, in '…', in "…"), the completed
line names that file."""

from __future__ import annotations

import os
import tempfile

from hypothesis import given, settings
from hypothesis import strategies as st

from claudechat.repl_attach import path_completions, split_paths

TRICKY = list(" '\"\\$`;&|<>()*?[]#!~\t\n")
names = st.text(
    st.one_of(st.characters(blacklist_categories=("Cs",)), st.sampled_from(TRICKY)),
    min_size=1,
    max_size=20,
).filter(lambda name: "/" not in name and "\x00" not in name and name not in (".", ".."))


def typed_as(prefix: str, style: str) -> str:
    """The start of a name as a person types it in each style /attach reads."""
    if style == "single":
        return "'" + prefix
    if style == "double":
        return '"' + prefix.replace("\\", "\\\\").replace('"', '\\"')
    return "".join("\\" + char for char in prefix)


@settings(max_examples=300, deadline=None)
@given(name=names, typed=st.integers(min_value=1), style=st.sampled_from(["bare", "double"]))
def test_a_completed_path_is_read_back_as_the_file(name: str, typed: int, style: str) -> None:
    """A name holding ' was wrapped in '…' as it was: "/attach '/…/it's.txt'" was refused
    ("No closing quotation")."""
    prefix = name[: 1 + typed % len(name)]
    _check(name, typed_as(prefix, style))


@settings(max_examples=100, deadline=None)
@given(name=names.filter(lambda name: "'" not in name), typed=st.integers(min_value=1))
def test_a_completion_in_single_quotes_is_read_back(name: str, typed: int) -> None:
    _check(name, typed_as(name[: 1 + typed % len(name)], "single"))


def test_a_name_with_a_quote_completes_in_double_quotes() -> None:
    with tempfile.TemporaryDirectory() as folder:
        open(os.path.join(folder, "it's.txt"), "w").close()
        (completion,) = path_completions(f"{folder}/it")
        assert completion.text == f'"{folder}/it\'s.txt"'
        (completion,) = path_completions(f"'{folder}/it")  # the ' typed is replaced
        assert split_paths(completion.text) == [f"{folder}/it's.txt"]


def _check(name: str, typed: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        try:
            open(os.path.join(folder, name), "w").close()
        except OSError:  # a name this file system refuses (too long in bytes)
            return
        argument = f"{folder}/{typed}" if not typed.startswith(("'", '"')) else ""
        argument = argument or typed[0] + folder + "/" + typed[1:]
        (completion,) = path_completions(argument)
        line = argument[: len(argument) + completion.start_position] + completion.text
        assert split_paths(line) == [os.path.join(folder, name)], (argument, completion.text)
