"""What import checks of an export beyond its format: a name `rename` would refuse, and an id
that belongs to another user's conversation in the same database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claudechat.conversation import Conversation
from claudechat.export import to_json
from claudechat.names import valid_name


def exported(tmp_path: Path, name: str | None = None, user: str = "tester") -> Path:
    conversation = Conversation.new(user, "claude-sonnet-4-6")
    conversation.append("user", "what is in a name")
    conversation.append("assistant", "a line")
    conversation.set("name", name)
    path = tmp_path / f"{conversation.id}.json"
    path.write_text(to_json(conversation))
    return path


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("multi\nline\x1b[31mred", "multi line [31mred"),
        ("\u202eevil", "evil"),
        ("tab\there", "tab here"),
        ("x" * 5000, "x" * 200),
        ("\x1b\x07\n", None),
    ],
)
def test_a_name_rename_would_refuse_is_cleaned_and_said(  # type: ignore[no-untyped-def]
    cli, tmp_path, name, stored
) -> None:
    result = cli("import", str(exported(tmp_path, name)))
    assert result.returncode == 0, result.stderr
    line, _tab, title = result.stdout.partition("\t")
    assert result.stdout.count("\n") == 1 and "\x1b" not in title and "\u202e" not in title
    assert title == (stored or "what is in a name") + "\n"
    assert "its name is not one line of at most 200 printable characters" in result.stderr
    assert "\x1b" not in result.stderr
    document = json.loads(cli("show", line.split()[1], "--json").stdout)
    assert document["name"] == stored
    if stored is not None:
        assert valid_name(stored) == stored


def test_a_name_rename_takes_is_kept_as_it_is(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = cli("import", str(exported(tmp_path, "Déjà vu — 東京 notes")))
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\tDéjà vu — 東京 notes\n")
    assert "name" not in result.stderr
