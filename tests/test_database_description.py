"""How an error names the database it is about (describe_database)."""

from __future__ import annotations

import pytest

from claudechat.storage.database_url import describe_database


@pytest.mark.parametrize(
    ("url", "described"),
    [
        ("postgresql://chat:pw@db.example:6432/team", "team on db.example:6432"),
        # Host and port as query parameters, as libpq takes them: said "team on localhost::".
        (
            "postgresql:///team?host=127.0.0.1&port=36423&user=chat&password=bad",
            "team on 127.0.0.1:36423",
        ),
        ("postgresql:///team?host=/var/run/postgresql", "team on /var/run/postgresql"),
        ("postgresql:///team", "team on localhost"),
        ("postgresql://db.example", "(default) on db.example"),
        ("sqlite:////data/chat.db", "sqlite file /data/chat.db"),
    ],
)
def test_a_database_is_named_by_where_it_is(url: str, described: str) -> None:
    assert describe_database(url) == described
