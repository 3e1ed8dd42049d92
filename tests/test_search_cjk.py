"""Search in the scripts written without spaces between words (Chinese, Japanese, Korean's
particles): a word inside a run of them is found, on both configurations, in the index, in
the journal, and in conversations indexed before migration 0007. So is a word beside non-ASCII
punctuation, which PostgreSQL's parser in a database of the C locale took for letters."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from claudechat.storage.journal_search import _sqlite_match, unindexed_hits
from claudechat.storage.search import search
from claudechat.storage.search_text import MARK_END, MARK_START, WORD_APART, parse
from claudechat.storage.store import ConversationStore
from test_search import found, saved, store  # noqa: F401  (the store fixture)
from test_search_migration import downgrade

TOKYO = "来週は東京に行きます。iPhoneを買った"
BEIJING = "我们明天去北京大学参观"
SEOUL = "서울에 갑니다"


def marked(snippet: str) -> str:
    return snippet.replace(MARK_START, "[").replace(MARK_END, "]")


def test_a_word_inside_a_run_of_characters_is_found(store: ConversationStore) -> None:  # noqa: F811
    japanese = saved(store, TOKYO, "Tokyo is big")
    chinese = saved(store, BEIJING)
    korean = saved(store, SEOUL)
    assert found(store, "東京") == [(japanese.id, "user")]
    assert found(store, "京都") == []  # 京 and 都 both occur, never side by side
    assert found(store, "買った") == [(japanese.id, "user")]
    assert found(store, "iphone") == [(japanese.id, "user")]
    assert found(store, "北京大学") == [(chinese.id, "user")]
    assert found(store, "大学 -北京") == []
    assert found(store, "서울") == [(korean.id, "user")]
    assert {c for c, _ in found(store, "北京 OR 서울")} == {chinese.id, korean.id}
    assert found(store, '"東京に行"') == [(japanese.id, "user")]
    assert found(store, "東") == [(japanese.id, "user")]  # the word being typed: a prefix
    [hit] = search(store.metadata, "tester", "東京")
    assert WORD_APART not in hit.snippet
    assert "[東京]" in marked(hit.snippet)  # one mark around the whole match
    assert marked(hit.snippet).replace("[", "").replace("]", "") in TOKYO


def test_a_word_beside_non_ascii_punctuation_is_found(store: ConversationStore) -> None:  # noqa: F811
    quoted = saved(store, "she said “hello” — then… ¿qué? a\u00a0b 1\u202f000 km² ok👍 1½ x³")
    for word in ("hello", "then", "qué", "a", "b", "km", "km²", "ok", '"hello then"', "x", "1"):
        assert found(store, word + " ") == [(quoted.id, "user")], word
    [hit] = search(store.metadata, "tester", "hello")
    assert "[hello]”" in marked(hit.snippet)


def test_only_the_matched_run_is_marked_in_the_excerpt(store: ConversationStore) -> None:  # noqa: F811
    """PostgreSQL's headline marked every occurrence of each character of the query:
    "[テ]キ[スト]、カタカナ「[テスト]", "[서울]에[서]"."""
    saved(store, "日本語のテキスト、カタカナ「テスト」です。", "한국어 문장입니다. 서울에서 만나요")
    [japanese] = search(store.metadata, "tester", "テスト")
    assert marked(japanese.snippet).startswith("日本語のテキスト、カタカナ「[テスト]」")
    assert marked(japanese.snippet).count("[") == 1
    [korean] = search(store.metadata, "tester", "서울")
    assert marked(korean.snippet) == "한국어 문장입니다. [서울]에서 만나요"


def test_iteration_marks_are_letters_of_their_words(store: ConversationStore) -> None:  # noqa: F811
    people = saved(store, "人々が集まる")
    assert found(store, "人々") == [(people.id, "user")]
    assert found(store, "々が") == [(people.id, "user")]


def test_a_word_of_fullwidth_digits_or_signs_that_are_letters_finds_only_its_message(
    store: ConversationStore,  # noqa: F811
) -> None:
    """２０２４, µ and ① were taken for marks and left out of PostgreSQL's query: an empty
    query there, and `query && owner` matched every message of the user."""
    plans = saved(store, "２０２４年の予定 iPhone", "µ 10 and ① first")
    saved(store, "hello rust world")
    assert found(store, "２０２４") == [(plans.id, "user")]
    assert found(store, "µ") == [(plans.id, "assistant")]
    assert found(store, "①") == [(plans.id, "assistant")]
    assert found(store, "２０２４年") == [(plans.id, "user")]


def test_the_marks_set_apart_hold_no_letter_or_digit() -> None:
    """A word is never made only of characters PostgreSQL's document leaves out."""
    from claudechat.storage.search_text import _MARKS

    letters = [
        hex(point)
        for point in range(0x80, 0x30000)
        if _MARKS.match(chr(point)) and chr(point).isalnum()
    ]
    assert letters == []


def test_the_newest_migration_sets_apart_what_search_sets_apart() -> None:
    """What the index holds was rewritten by the newest migration that set characters apart,
    with its own frozen copy of the ranges: search must set apart the same ones. Changing
    them means a new migration that rewrites the index again, and this test then compares
    search with that one (0007 has not been released: it was mended in place)."""
    import importlib

    from claudechat.storage import search_text as search

    migration = importlib.import_module(
        "claudechat.storage.migrations.versions.0007_search_words_apart"
    )
    assert migration._UNSPACED_SCRIPTS == search._UNSPACED_SCRIPTS
    assert migration._MARKS == search._NON_ASCII_MARKS


def test_letters_beyond_ascii_match_in_either_case(store: ConversationStore) -> None:  # noqa: F811
    """PostgreSQL of the C locale lowered only ASCII letters: "привет" missed "Привет", and
    the offline search (FTS5) found what the online one did not."""
    from claudechat.conversation import Conversation

    letters = saved(store, "Éclair at the Café Привет Ωmega ΟΔΟΣ.ΑΘΗΝΑ")
    # ΟΔΟΣ: lowered whole, the document's Σ is no final sigma (a letter follows the stop).
    for word in ("привет", "ПРИВЕТ", "éclair", "ωmega", "CAFÉ", "ΟΔΟΣ", "οδος", "Привет"):
        assert found(store, word + " ") == [(letters.id, "user")], word
    journaled = Conversation.new("tester", "claude-sonnet-4-6")
    journaled.append("user", "Добрый вечер")
    store.journal.write(journaled)
    entries = store.journal.entries("tester")
    assert [h.role for h in unindexed_hits(store.metadata, "tester", entries, "добрый ")] == [
        "user"
    ]


def test_the_journal_is_searched_as_the_index_is(store: ConversationStore) -> None:  # noqa: F811
    from claudechat.conversation import Conversation

    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    conversation.append("user", BEIJING)
    conversation.append("assistant", TOKYO)
    store.journal.write(conversation)
    entries = store.journal.entries("tester")
    hits = unindexed_hits(store.metadata, "tester", entries, "北京")
    assert [hit.role for hit in hits] == ["user"]
    assert "[北京]" in marked(hits[0].snippet) and WORD_APART not in hits[0].snippet
    assert unindexed_hits(store.metadata, "tester", entries, "大北") == []
    assert [h.role for h in unindexed_hits(store.metadata, "tester", entries, "京大学")] == ["user"]


def test_a_long_message_in_such_a_script_is_saved_and_found(store: ConversationStore) -> None:  # noqa: F811
    """PostgreSQL refuses a tsvector over 1 MB: a character a word makes many more words."""
    ideographs = "".join(chr(0x4E00 + (n * 7919) % 20000) for n in range(100_000))
    long = saved(store, ideographs + "終わり")
    assert found(store, ideographs[5000:5004]) == [(long.id, "user")]


def test_conversations_indexed_before_migration_0007_are_found(cli, backend) -> None:  # type: ignore[no-untyped-def]
    from claudechat.settings import load_settings
    from claudechat.storage import open_store

    settings = load_settings()
    opened = open_store(settings)
    saved(opened, TOKYO)
    mixed = saved(opened, "plain words and “東京タワー”", user="alice")
    opened.close()
    downgrade(settings.database_url, "0006")  # the bodies as 0006 indexed them
    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        bodies = connection.execute(text("SELECT body FROM search_messages")).scalars().all()
        assert sorted(bodies) == sorted([TOKYO, "plain words and “東京タワー”"])
        if backend.name == "team":
            old = "SELECT count(*) FROM search_messages WHERE document @@ '東京'::tsquery"
        else:
            old = "SELECT count(*) FROM search_fts WHERE search_fts MATCH '\"東京\"'"
        assert connection.execute(text(old)).scalar() == 0  # what users saw before
    engine.dispose()

    result = cli("search", "東京", "--json")  # migrates first
    assert result.returncode == 0, result.stderr
    assert [hit["role"] for hit in json.loads(result.stdout)] == ["user"]
    alice = cli("search", "タワー", "--json", env={"CLAUDECHAT_USER": "alice"})
    assert [hit["id"] for hit in json.loads(alice.stdout)] == [mixed.id]
    assert cli("search", "plain", "--json", env={"CLAUDECHAT_USER": "alice"}).stdout != "[]\n"


RUN = st.text(st.sampled_from("東京都大阪北学生日本語한국어の"), min_size=1, max_size=12)
LATIN = st.text(st.sampled_from("abc "), max_size=4)


@settings(max_examples=150, deadline=None)
@given(pieces=st.lists(st.tuples(LATIN, RUN), min_size=1, max_size=4), data=st.data())
def test_every_slice_of_a_run_is_found_and_no_split_slice_is(pieces, data) -> None:  # type: ignore[no-untyped-def]
    from claudechat.storage.search_text import words_apart

    body = "".join(latin + run for latin, run in pieces)
    run = data.draw(st.sampled_from([run for _latin, run in pieces]))
    start = data.draw(st.integers(0, len(run) - 1))
    piece = run[start : data.draw(st.integers(start + 1, len(run)))]
    assert _sqlite_match(parse(piece + " "), [words_apart(body)]) != []
    # Two characters side by side nowhere in the body (spaces aside: they are no word) are
    # not found as a phrase.
    unspaced = body.replace(" ", "")
    pairs = {unspaced[i : i + 2] for i in range(len(unspaced) - 1)}
    absent = [a + b for a in "東京大" for b in "都阪学" if a + b not in pairs]
    for pair in absent:
        assert _sqlite_match(parse(pair + " "), [words_apart(body)]) == []
