"""search: each Chinese, Japanese and Korean character, and each non-ASCII mark, set apart

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import re
from collections.abc import Callable

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The index's bodies now hold U+001F around each character of the scripts written without
# spaces, and around each non-ASCII space, punctuation mark and symbol (search_text.words_apart):
# a word inside a run of those characters is found, and on PostgreSQL a word beside “such”
# marks. The rows indexed before are rewritten so. The ranges are a copy of search_text.py's as of
# this revision, frozen here: a later change there must not change what this migration did.
APART = "\x1f"
_UNSPACED_SCRIPTS = (
    "\u00aa\u00b2\u00b3\u00b5\u00b9\u00ba\u00bc-\u00be\u2070-\u209f\u2100-\u218f"
    "\u2460-\u24ff\u2776-\u2793"
    "\u1100-\u11ff\u3005-\u3007\u3021-\u3029\u3031-\u3035\u3038-\u303c\u3040-\u30ff"
    "\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
    "\uff66-\uff9f\U00020000-\U0003134f\U0001f100-\U0001f10c"
)
_MARKS = (
    "\u00a0-\u00a9\u00ab-\u00b1\u00b4\u00b6-\u00b8\u00bb\u00bf\u00d7\u00f7\u2000-\u206f"
    "\u20a0-\u20cf\u2190-\u245f\u2500-\u2775\u2794-\u2bff\u3000-\u3004\u3008-\u3020"
    "\u3030\u3036\u3037\u303d-\u303f\ufe30-\ufe4f\uff01-\uff0f\uff1a-\uff20"
    "\uff3b-\uff40\uff5b-\uff65\U0001f000-\U0001f0ff\U0001f10d-\U0001faff"
)
_RANGES = _UNSPACED_SCRIPTS + _MARKS
_UNSPACED = re.compile(f"([{_RANGES}])")
# PostgreSQL's document leaves those marks out: its parser, in a database of the C locale,
# takes each for a word, in the way of a phrase. And 'simple' lowers only ASCII letters there:
# "привет" did not find "Привет". So document and queries (search.py) are lowered by one
# function, claudechat_lower: through ICU's root collation where the server has it (else as
# the database's locale lowers), a final sigma as any other (ΟΔΟΣ.ΑΘΗΝΑ lowered whole gives
# οδοσ, ΟΔΟΣ alone οδος). search.POSTGRES_DOCUMENT, frozen.
_DOCUMENT = (
    "to_tsvector('simple', regexp_replace(claudechat_lower(body), '[" + _MARKS + "]', ' ', 'g'))"
)
_DOCUMENT_BEFORE = "to_tsvector('simple', body)"
_LOWER = (
    "CREATE FUNCTION claudechat_lower(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT "
    "PARALLEL SAFE AS $$ SELECT replace(lower($1{collate}), 'ς', 'σ') $$"
)


def _create_lower() -> None:
    icu = (
        op.get_bind()
        .exec_driver_sql("SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'")
        .first()
    )
    op.execute(_LOWER.format(collate=' COLLATE "und-x-icu"' if icu else ""))


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # A bracket expression of the characters themselves: a UTF8 database reads them so.
        _create_lower()
        _postgresql_rewrite(
            f"regexp_replace(body, '([{_RANGES}])', chr(31) || '\\1' || chr(31), 'g')",
            f"body ~ '[{_RANGES}]'",
            _DOCUMENT,
        )
    else:
        _rewrite_sqlite(lambda body: _UNSPACED.sub(APART + r"\1" + APART, body), _UNSPACED)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_rewrite(
            "replace(body, chr(31), '')", "strpos(body, chr(31)) > 0", _DOCUMENT_BEFORE
        )
        op.execute("DROP FUNCTION claudechat_lower(text)")
    else:
        _rewrite_sqlite(lambda body: body.replace(APART, ""), re.compile(APART))


def _postgresql_rewrite(body: str, needs: str, document: str) -> None:
    """The bodies that `needs` finds rewritten as `body`, then the generated tsvector made by
    `document`, and its GIN index. The column is dropped first, so that each row's tsvector
    is computed once, not also for the old form."""
    op.execute("ALTER TABLE search_messages DROP COLUMN document")  # drops its index too
    op.execute(f"UPDATE search_messages SET body = {body} WHERE {needs}")
    op.execute(
        "ALTER TABLE search_messages ADD COLUMN document tsvector "
        f"GENERATED ALWAYS AS ({document} || array_to_tsvector(ARRAY[owner])) STORED"
    )
    op.execute("CREATE INDEX ix_search_messages_document ON search_messages USING gin (document)")


def _rewrite_sqlite(rewrite: Callable[[str], str], needs: re.Pattern[str]) -> None:
    """The bodies that `needs` finds rewritten, and their FTS5 entries with them (the index's
    content is external: an entry is deleted with the very text it was made from)."""
    connection = op.get_bind().connection.driver_connection
    assert connection is not None  # a connection that is open: the migration's own
    connection.create_function("claudechat_rewrite", 1, rewrite, deterministic=True)
    connection.create_function(
        "claudechat_needs", 1, lambda body: needs.search(body) is not None, deterministic=True
    )
    for statement in (
        "CREATE TEMP TABLE rewritten AS SELECT id FROM search_messages "
        "WHERE claudechat_needs(body)",
        "INSERT INTO search_fts(search_fts, rowid, body, owner) "
        "SELECT 'delete', id, body, owner FROM search_messages "
        "WHERE id IN (SELECT id FROM rewritten)",
        "UPDATE search_messages SET body = claudechat_rewrite(body) "
        "WHERE id IN (SELECT id FROM rewritten)",
        "INSERT INTO search_fts(rowid, body, owner) SELECT id, body, owner FROM search_messages "
        "WHERE id IN (SELECT id FROM rewritten)",
        "DROP TABLE rewritten",
    ):
        op.execute(statement)
