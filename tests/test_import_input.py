"""What `import` reads besides an export as `export` writes it: one from stdin, one a Windows
editor saved with a byte order mark, and one from a newer claudechat."""

from __future__ import annotations

import json
from pathlib import Path

from claudechat.conversation import Conversation
from claudechat.export import EXPORT_VERSION, to_json


def an_export() -> tuple[Conversation, str]:
    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    conversation.append("user", "read me back")
    return conversation, to_json(conversation)


def test_dash_reads_the_export_from_stdin(cli) -> None:  # type: ignore[no-untyped-def]
    """`export -o -` writes stdout; `import -` said "cannot read -: No such file"."""
    conversation, text = an_export()
    result = cli("import", "-", input=text)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"imported {conversation.id}\tread me back\n"
    twice = cli("import", "-", "-", input=text)
    assert twice.returncode == 2 and "standard input" in twice.stderr
    bad = cli("import", "-", input="[1, 2]")
    assert bad.returncode == 2
    assert "standard input is not a claudechat JSON export" in bad.stderr


def test_an_export_with_a_byte_order_mark_is_read(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A Windows editor's save starts with one: it was refused as "not JSON text"."""
    conversation, text = an_export()
    path = tmp_path / "saved.json"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    result = cli("import", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"imported {conversation.id}")


def test_a_newer_export_says_to_upgrade(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """It said only "not ... of a version this claudechat reads", where a newer document
    format says to upgrade."""
    _conversation, text = an_export()
    path = tmp_path / "newer.json"
    path.write_text(json.dumps(json.loads(text) | {"version": EXPORT_VERSION + 1}))
    result = cli("import", str(path))
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert f"{path} is a claudechat JSON export of version {EXPORT_VERSION + 1}" in line
    assert "upgrade claudechat" in line
    assert cli("list", "--json").stdout.strip() == "[]"
