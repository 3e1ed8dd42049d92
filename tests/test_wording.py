"""Counts written as English writes them, and usage lines alike for every command."""

from __future__ import annotations

from claudechat.attachments import describe
from claudechat.output import counted


def test_a_count_of_one_takes_the_singular() -> None:
    """`show` said "1 pages", `doctor` "journal entr(ies)"."""
    assert counted(1, "page") == "1 page"
    assert counted(3, "page") == "3 pages"
    assert counted(0, "journal entry", "journal entries") == "0 journal entries"
    assert counted(1, "journal entry", "journal entries") == "1 journal entry"
    pdf = {"name": "a.pdf", "media_type": "application/pdf", "size": 10, "pages": 1}
    assert describe(pdf) == "a.pdf · application/pdf · 10 B · 1 page"


def test_the_token_commands_name_their_arguments_as_every_command_does(cli) -> None:  # type: ignore[no-untyped-def]
    """`token create --help` said {user} and `token revoke --help` {ID}; `show` says ID."""
    created = cli("token", "create", "--help")
    assert "Usage: claudechat token create [OPTIONS] USER\n" in created.stdout
    assert "  USER  Whose token it is." in created.stdout
    revoked = cli("token", "revoke", "--help")
    assert "Usage: claudechat token revoke [OPTIONS] ID\n" in revoked.stdout
