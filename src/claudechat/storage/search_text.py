"""How search reads a query and shows a match, on both backends: a search-box query in the
two dialects' syntax, the characters set apart as words of their own (CJK scripts, marks),
and the marked excerpts shown with each result.

Queries read as in a search box: words (all must match), "quoted phrases", OR, -excluded, and
the last word, still being typed (it ends in a letter or digit), matches as a prefix.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

from claudechat.errors import UsageError
from claudechat.jsontext import storable_text

# Where a match starts and ends in a snippet: private-use characters no message holds in
# practice, turned into highlighting (a terminal) or **marks** (a pipe) when printed.
MARK_START, MARK_END = "\ue000", "\ue001"
SNIPPET_WORDS = 16
MAX_QUERY_TERMS = 32
# SQLite's FTS5 tokenizer of the index (migration 0004), for matching text outside it too.
SQLITE_TOKENIZER = "unicode61 remove_diacritics 2"

_TOKEN = re.compile(r'-?"[^"]*"?|\S+')

# Chinese and Japanese are written without spaces between words, and both tokenizers (FTS5's
# unicode61, PostgreSQL's parser) took a run of such characters for one word: "東京" was not
# found in "東京に行きます". So each character of those scripts (and of Korean, whose words
# carry their particles) is indexed as a word of its own, and so is each letter- or number-
# like sign (², µ, ½, ①: "km" is found in "km²"), set apart by U+001F: a control
# character both tokenizers take for a separator, and dropped from every excerpt shown. A
# query's run of them is searched as a phrase.
WORD_APART = "\x1f"
_UNSPACED_SCRIPTS = (
    "\u00aa\u00b2\u00b3\u00b5\u00b9\u00ba\u00bc-\u00be"  # ª ² ³ µ ¹ º ¼ ½ ¾: km², x², 1½
    "\u2070-\u209f\u2100-\u218f"  # super- and subscripts, letterlike (℃ №), number forms
    "\u2460-\u24ff\u2776-\u2793"  # circled and enclosed numbers and letters
    "\u1100-\u11ff"  # Hangul Jamo
    "\u3005-\u3007\u3021-\u3029\u3031-\u3035\u3038-\u303c"  # 々 〆 〇 and such: letters
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3130-\u318f"  # Hangul compatibility Jamo
    "\u31f0-\u31ff"  # Katakana phonetic extensions
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\uff66-\uff9f"  # halfwidth Katakana
    "\U00020000-\U0003134f"  # CJK extensions B to G
    "\U0001f100-\U0001f10c"  # digits with a full stop or comma
)
# PostgreSQL's parser, in a database of the C locale, takes every character beyond ASCII for
# a letter: “quoted”, "world…", "¿qué", "a\u00a0b" and "東京。iPhone" were each one word
# there. So non-ASCII spaces, punctuation and symbols are set apart too: these ranges hold
# no letter and no digit (a test checks), or a word of them (２０２４, µ, ①) would be left
# out of PostgreSQL's query, which then matched every message.
_NON_ASCII_MARKS = (
    "\u00a0-\u00a9\u00ab-\u00b1\u00b4\u00b6-\u00b8\u00bb\u00bf\u00d7\u00f7"  # Latin-1
    "\u2000-\u206f"  # spaces, general punctuation
    "\u20a0-\u20cf"  # currency
    "\u2190-\u245f"  # arrows, maths, technical, control pictures
    "\u2500-\u2775\u2794-\u2bff"  # box drawing, shapes, symbols, dingbats, arrows
    "\u3000-\u3004\u3008-\u3020\u3030\u3036\u3037\u303d-\u303f"  # CJK punctuation
    "\ufe30-\ufe4f"  # CJK compatibility forms
    "\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"  # fullwidth punctuation
    "\U0001f000-\U0001f0ff\U0001f10d-\U0001faff"  # emoji, pictographs
)
# Migration 0007 holds a copy of both: what it rewrote must not change with them.
_SET_APART = re.compile(f"([{_UNSPACED_SCRIPTS}{_NON_ASCII_MARKS}])")
# Set apart, such a mark was still a word of its own to that parser, in the way of a phrase
# ("hello then" in “hello” — then): PostgreSQL's document, and its queries, leave them out.
_MARKS = re.compile(f"[{_NON_ASCII_MARKS}]")
_ADJACENT_MARKS = MARK_END + MARK_START
# Escape sequences (CSI with ESC [ or C1's one character, an OSC ended, any other ESC pair)
# and the control characters left (WORD_APART among them): both tokenizers broke a word at
# ESC alone, so "\x1b[31mred alert" was indexed as 31mred and alert, and `search red` found
# nothing. A space in their place, in the index and in a query alike; tab and line breaks
# are spaces already. An OSC not ended leaves its text searchable: only its ESC goes. The
# index keeps the text it was given: entries written before are rewritten so by `claudechat db
# reindex` (no migration does it; until then such a word is found as before, 31mred).
_ESCAPES_AND_CONTROLS = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])?"
    r"|\x9b[0-?]*[ -/]*[@-~]|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


@dataclass(frozen=True)
class Query:
    """A search-box query in the two dialects' syntax."""

    fts5: str
    websearch: str
    prefix_last: bool  # the last word is still being typed: match it as a prefix


def parse(text: str) -> Query:
    # As the index holds it; an escape sequence pasted in a query breaks its words there too.
    text = _ESCAPES_AND_CONTROLS.sub(" ", storable_text(text))
    found = _TOKEN.findall(text)
    # A word of symbols or emoji alone is no word to the tokenizer: as a term of its own it
    # matched nothing, and so did the whole search.
    tokens = [token for token in found if any(ch.isalnum() for ch in token)]
    if found and not tokens:
        raise UsageError(
            "nothing to search for: search matches words (letters and digits), not symbols or emoji"
        )
    if len(tokens) > MAX_QUERY_TERMS:
        # Each term costs the index's snippets dearly: a pasted passage took minutes. A quoted
        # phrase is one term, and a cheap one.
        raise UsageError(
            f'a search takes at most {MAX_QUERY_TERMS} words or "quoted phrases" (this one '
            f"has {len(tokens)}); quote a distinctive phrase of the passage instead"
        )
    groups = _or_groups(tokens)
    prefix = _typing_last_word(text, found)
    kept = [
        (group, rendered)
        for number, group in enumerate(groups)
        if (rendered := _fts5_group(group, prefix and number == len(groups) - 1))
    ]
    if not kept:
        excluding = any(token.startswith("-") for token in tokens)
        why = " (a -word only excludes)" if excluding else ""
        raise UsageError("give at least one word to search for" + why)
    fts5 = " OR ".join(f"({rendered})" for _group, rendered in kept)
    # The same groups for PostgreSQL: an OR left beside a dropped symbol, or an AND, would
    # be searched for as a word there.
    websearch = " OR ".join(
        " ".join(_websearch_token(token) for token in group) for group, _rendered in kept
    )
    if not any(ch.isalnum() for ch in websearch):
        # PostgreSQL's query would be empty, and its `query && owner` every message of yours.
        raise UsageError("nothing to search for: search matches words (letters and digits)")
    return Query(fts5=fts5, websearch=websearch, prefix_last=prefix)


def _or_groups(tokens: list[str]) -> list[list[str]]:
    """The words between each OR. Only the capitals are operators, as in a search box: `and`
    and `or` are words (`search or` was refused as empty, `rust or` searched for rust)."""
    groups: list[list[str]] = [[]]
    for token in tokens:
        if token == "OR":
            groups.append([])
        elif token != "AND":  # words all match anyway
            groups[-1].append(token)
    return groups


def _typing_last_word(text: str, found: list[str]) -> bool:
    """Whether the last word is still being typed, and so matches as a prefix. A word followed
    by a space or by symbols is finished: `C++` as the prefix `c` found chart, class, cache."""
    last = found[-1] if found else ""
    return (
        not text[-1:].isspace()
        and last[-1:].isalnum()
        and not last.startswith(("-", '"'))
        and last not in ("OR", "AND")
    )


def words_apart(text: str) -> str:
    """Text as the index holds it: escape sequences and control characters as spaces, and
    each character of a script written without spaces, and each non-ASCII mark, set apart
    from its neighbours."""
    text = _ESCAPES_AND_CONTROLS.sub(" ", text)
    return _SET_APART.sub(WORD_APART + r"\1" + WORD_APART, text)


def shown(snippet: str) -> str:
    """An excerpt as a person reads it: without the separators words_apart put in, and one
    mark around characters matched one by one ("東京", not "東" and "京")."""
    return snippet.replace(WORD_APART, "").replace(_ADJACENT_MARKS, "")


def _websearch_token(token: str) -> str:
    """A token for PostgreSQL's websearch_to_tsquery: its characters set apart as in the
    index, and quoted when that made several words of it, so they are found as a phrase, or
    when it is `or` in small letters, which websearch_to_tsquery takes for OR. (Lowered in
    SQL, by the index's own function: WEBSEARCH.)"""
    negated = token.startswith("-")
    core = token[1:] if negated else token
    apart = _MARKS.sub(" ", words_apart(core))
    if (apart != core or core.upper() == "OR") and not core.startswith('"'):
        apart = '"' + apart.replace('"', " ") + '"'
    return ("-" if negated else "") + apart


def _fts5_group(tokens: list[str], prefix_last: bool) -> str:
    wanted = [_fts5_string(t) for t in tokens if not t.startswith("-")]
    excluded = [_fts5_string(t[1:]) for t in tokens if t.startswith("-") and len(t) > 1]
    if prefix_last and wanted:
        wanted[-1] += "*"
    wanted = [w for w in wanted if w.rstrip("*") != '""']
    if not wanted:
        return ""
    return " AND ".join(wanted) + "".join(f" NOT {e}" for e in excluded if e != '""')


def _fts5_string(token: str) -> str:
    """A word or phrase as an FTS5 string: quoted, so no character of it is FTS5 syntax."""
    inner = words_apart(token.strip('"'))
    return '"' + inner.replace('"', '""') + '"'


# FTS5's snippet() costs about the square of a text's matches: 5 s for a 100 KB log that says
# "error" on every line, 20 of which held a search past its deadline (a false outage). So the
# excerpt comes from the start of a message only, the part a search result shows anyway.
EXCERPTED_CHARS = 4_000
OPENING_CHARS = 160  # the opening words shown instead: a minified line is one long "word"


def excerpts(query: Query, bodies: dict[int, str]) -> dict[int, str]:
    """A marked excerpt of each body (by its key), made from its first EXCERPTED_CHARS; where
    the match lies beyond them, the body's opening words."""
    found = _marked(query, bodies)
    return {key: shown(found.get(key) or _opening(body)) for key, body in bodies.items()}


def _marked(query: Query, bodies: dict[int, str]) -> dict[int, str]:
    """FTS5's marked excerpts of the bodies whose first EXCERPTED_CHARS match, by key."""
    import sqlite3

    table = f"CREATE VIRTUAL TABLE shown USING fts5(body, tokenize='{SQLITE_TOKENIZER}')"
    select = "SELECT rowid, snippet(shown, 0, ?, ?, '…', ?) FROM shown WHERE shown MATCH ?"
    with contextlib.closing(sqlite3.connect(":memory:")) as connection:
        connection.execute(table)
        cut = [(key, body[:EXCERPTED_CHARS]) for key, body in bodies.items()]
        connection.executemany("INSERT INTO shown (rowid, body) VALUES (?, ?)", cut)
        marks = (MARK_START, MARK_END, SNIPPET_WORDS, query.fts5)
        return dict(connection.execute(select, marks).fetchall())


def excerpts_or(query: Query, bodies: list[str], headlines: list[str | None]) -> list[str]:
    """The excerpts of `bodies`, made as the embedded index makes them, on both backends:
    PostgreSQL's ts_headline marked every occurrence of each word of the query, and with each
    CJK character a word of its own, every stray テ or 서 of the message. Its `headlines` (or
    None) stand in where the match lies beyond the excerpted start (they cover the whole
    message), or where this Python's SQLite lacks FTS5."""
    import sqlite3

    try:
        made = _marked(query, dict(enumerate(bodies)))
    except sqlite3.Error:
        made = {}
    return [
        shown(made.get(number) or headline or _opening(body))
        for number, (body, headline) in enumerate(zip(bodies, headlines, strict=True))
    ]


def _opening(body: str) -> str:
    words = body[: OPENING_CHARS * 4].split()
    opening = " ".join(words[:SNIPPET_WORDS])
    if len(opening) > OPENING_CHARS:
        return opening[:OPENING_CHARS] + "…"
    return opening + ("…" if len(words) > SNIPPET_WORDS else "")


def marks_pattern() -> str:
    """The regular expression of the marks PostgreSQL's document leaves out (POSIX-alike: a
    bracket expression of the characters themselves)."""
    return _MARKS.pattern
