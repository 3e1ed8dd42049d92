"""Search over every message, on both configurations: ranked, scoped by user, as typed."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from claudechat.conversation import Conversation, Message
from claudechat.errors import UsageError
from claudechat.settings import load_settings
from claudechat.storage import open_store
from claudechat.storage.search import search
from claudechat.storage.search_text import MARK_END, MARK_START, parse
from claudechat.storage.store import ConversationStore


@pytest.fixture
def store(backend) -> ConversationStore:  # type: ignore[no-untyped-def]
    opened = open_store(load_settings())
    yield opened
    opened.close()


def saved(store: ConversationStore, *texts: str, user: str = "tester", name: str | None = None):  # type: ignore[no-untyped-def]
    conversation = Conversation.new(user, "claude-sonnet-4-6")
    if name:
        conversation.set("name", name)
    for number, body in enumerate(texts):
        conversation.append("user" if number % 2 == 0 else "assistant", body)
    assert store.save(conversation).pushed
    return conversation


def found(store: ConversationStore, query: str, user: str = "tester") -> list[tuple[str, str]]:
    return [(h.conversation_id, h.role) for h in search(store.metadata, user, query)]


def test_words_phrases_or_not_and_prefix(store: ConversationStore) -> None:
    deploy = saved(store, "how do I deploy with kubernetes", "use helm charts for the deploy")
    cook = saved(store, "a recipe for sourdough bread", "feed the starter daily", name="Baking")
    assert found(store, "sourdough") == [(cook.id, "user")]
    assert found(store, "kube") == [(deploy.id, "user")]  # the word being typed: a prefix
    assert found(store, "kube ") == []  # a finished word is a whole word
    assert {c for c, _ in found(store, "helm OR starter")} == {deploy.id, cook.id}
    assert found(store, '"the starter"') == [(cook.id, "assistant")]
    assert found(store, '"starter the"') == []
    assert found(store, "deploy -helm") == [(deploy.id, "user")]
    assert found(store, "deploy kubernetes") == [(deploy.id, "user")]  # AND
    assert found(store, "deploy sourdough") == []
    assert found(store, "nothinglikethis") == []


def test_a_last_word_ending_in_symbols_is_finished_not_a_prefix(store: ConversationStore) -> None:
    """`C++` was searched as the prefix `c`: it found chart, class, cache and crash."""
    cpp = saved(store, "templates in C++ are hard")
    saved(store, "a chart of the class cache after the crash")
    assert found(store, "C++") == [(cpp.id, "user")]
    assert found(store, "templates C++") == [(cpp.id, "user")]
    assert not parse("C++").prefix_last and not parse("rust 🚀").prefix_last
    assert parse("kube").prefix_last and parse("c").prefix_last and parse("東").prefix_last


def test_lowercase_and_or_are_words_not_operators(store: ConversationStore) -> None:
    """`search or` and `search and` were refused as empty, and `rust or` searched for rust."""
    choice = saved(store, "should I learn rust or go")
    saved(store, "rust is fast")
    salt = saved(store, "salt and pepper")
    assert found(store, "rust or") == [(choice.id, "user")]
    assert found(store, "or") == [(choice.id, "user")]
    assert found(store, "and ") == [(salt.id, "user")]
    assert found(store, "go or pepper ") == []
    assert {c for c, _ in found(store, "go OR pepper")} == {choice.id, salt.id}


@pytest.mark.parametrize("query", ["", "   ", "OR", "AND"])
def test_an_empty_query_is_refused_without_naming_a_minus_word(query: str) -> None:
    with pytest.raises(UsageError, match=r"give at least one word to search for$"):
        parse(query)


def test_a_query_of_minus_words_only_is_told_they_only_exclude() -> None:
    with pytest.raises(UsageError, match="a -word only excludes"):
        parse("-draft -old")


def test_results_carry_name_role_date_and_a_marked_snippet(store: ConversationStore) -> None:
    cook = saved(store, "a recipe for sourdough bread please", "feed it", name="Baking")
    (hit,) = search(store.metadata, "tester", "sourdough")
    assert (hit.conversation_id, hit.name, hit.role) == (cook.id, "Baking", "user")
    assert hit.created_at == cook.messages[0].created_at
    assert f"{MARK_START}sourdough{MARK_END}" in hit.snippet


def test_a_log_that_matches_on_every_line_is_found_within_the_deadline(  # type: ignore[no-untyped-def]
    store: ConversationStore, cli, monkeypatch, backend
) -> None:
    """FTS5's excerpt of a text costs about the square of its matches: three pasted logs
    saying "error" on every line took 10 s, past the store's deadline, and the search
    reported the store as down (exit 5)."""
    log = "error: the build failed\n" * 5000
    for _ in range(3):
        saved(store, log, "it failed")
    monkeypatch.setenv("CLAUDECHAT_STORE_TIMEOUT", "2")
    result = cli("search", "error", "--json")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert len(hits) == 3 and all("**error**" in hit["snippet"] for hit in hits)
    late = saved(store, "opening words " + "filler " * 3000 + "zebra")
    (hit,) = search(store.metadata, "tester", "zebra")
    assert hit.conversation_id == late.id
    if backend.name == "embedded":  # beyond the part SQLite's excerpt is made from
        assert hit.snippet.startswith("opening words filler")
        minified = saved(store, "{" + '"k":1,' * 3000 + "} unicornfish")  # one long "word"
        (hit,) = search(store.metadata, "tester", "unicornfish")
        assert hit.conversation_id == minified.id and len(hit.snippet) <= 161
    else:  # PostgreSQL's headline has no such cost: it shows the match
        assert f"{MARK_START}zebra{MARK_END}" in hit.snippet


def test_ranking_puts_the_denser_match_first(store: ConversationStore) -> None:
    saved(store, "python " + "filler words here " * 30)
    dense = saved(store, "python python python tips")
    assert found(store, "python")[0] == (dense.id, "user")


def test_thinking_and_attachment_names_are_searchable(store: ConversationStore) -> None:
    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    question = conversation.add(
        Message(
            "user",
            [
                {"type": "text", "text": "look at this"},
                {
                    "type": "attachment",
                    "sha256": "0" * 64,
                    "media_type": "image/png",
                    "name": "quarterly-chart.png",
                },
            ],
        )
    )
    conversation.add(
        Message(
            "assistant",
            [
                {"type": "thinking", "thinking": "the axes look logarithmic", "signature": "s"},
                {"type": "text", "text": "It rises."},
            ],
            parent_id=question.id,
        )
    )
    assert store.save(conversation).pushed
    assert found(store, "quarterly") == [(conversation.id, "user")]
    assert found(store, "logarithmic") == [(conversation.id, "assistant")]


def test_another_users_messages_never_appear(store: ConversationStore) -> None:
    saved(store, "secret plans for the merger", user="alice")
    mine = saved(store, "public plans for the picnic")
    assert found(store, "plans") == [(mine.id, "user")]
    assert found(store, "merger") == []
    assert len(found(store, "merger", user="alice")) == 1


def test_each_save_indexes_only_new_messages(store: ConversationStore) -> None:
    conversation = saved(store, "first question about rust")
    conversation.append("assistant", "rust answer")
    assert store.save(conversation).pushed
    assert store.save(conversation).pushed
    assert sorted(found(store, "rust")) == sorted(
        [(conversation.id, "user"), (conversation.id, "assistant")]
    )


def test_a_journal_entry_pushed_later_is_indexed(store: ConversationStore) -> None:
    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    conversation.append("user", "offline thoughts on zebras")
    store.journal.write(conversation)  # as a save during an outage leaves it
    assert found(store, "zebras") == []
    store.sync("tester")
    assert found(store, "zebras") == [(conversation.id, "user")]


@pytest.mark.parametrize("query", ["", "   ", "-alone", '""', "OR"])
def test_a_query_without_words_is_a_usage_error(query: str) -> None:
    with pytest.raises(UsageError):
        parse(query)


def test_syntax_characters_are_searched_as_text(store: ConversationStore) -> None:
    saved(store, "what does a* NEAR(b) mean in C++ or (x:y)")
    for query in ["a*", "NEAR(b)", "C++", "(x:y)", '"unclosed', "x:y"]:
        search(store.metadata, "tester", query)  # no syntax error reaches the user
    for query in ["^", "'"]:
        with pytest.raises(UsageError, match="letters and digits"):
            search(store.metadata, "tester", query)


def test_a_word_right_after_an_escape_sequence_is_found(store: ConversationStore) -> None:
    """Shown as ^[[31mred alert, "\x1b[31mred alert" was indexed as 31mred: `search red` found
    nothing, `search 31mred` found it. Escape sequences and control characters break words."""
    alert = saved(store, "\x1b[31mred alert\x1b[0m, \x9b1mbold\x9b0m and a\x07bell")
    for query in ["red", "red alert", '"red alert"', "bold", "bell", "\x1b[31mred"]:
        assert found(store, query) == [(alert.id, "user")], query
    assert found(store, "31mred") == [] and found(store, "1mbold") == []
    (hit,) = search(store.metadata, "tester", "red")
    assert f"{MARK_START}red{MARK_END} alert" in hit.snippet and "\x1b" not in hit.snippet
    with pytest.raises(UsageError, match="give at least one word"):
        parse("\x1b[31m")


def test_symbols_and_emoji_beside_words_are_left_out(store: ConversationStore) -> None:
    """A term without letters or digits matched nothing, and so did the whole search."""
    rocket = saved(store, "Emoji test 🚀🔥 rocket launch with helm & chart")
    queries = ["launch 🚀", "helm & chart", "helm — chart", "rocket /", "launch OR 🚀"]
    for query in [*queries, "🚀 OR launch", "rocket AND launch"]:
        assert found(store, query) == [(rocket.id, "user")], query
    with pytest.raises(UsageError, match="not symbols or emoji"):
        parse("🚀")


def test_list_refuses_an_empty_search_as_search_does(cli, backend) -> None:  # type: ignore[no-untyped-def]
    """`list --search ""` listed every conversation, as if there were no search."""
    for command in (["list", "--search", ""], ["search", ""], ["list", "--search", "🚀"]):
        refused = cli(*command)
        assert refused.returncode == 2 and refused.stdout == "", (command, refused.stderr)
    assert cli("search", "--", "-draft release").returncode == 0


def test_a_pasted_passage_is_refused_before_it_costs_minutes() -> None:
    """A 400-word query took 13 s, then reported the store as down; 2,000 words, 3 minutes."""
    passage = " ".join(f"Paragraph {n} with words lorem ipsum kubernetes." for n in range(80))
    with pytest.raises(UsageError, match="at most 32 words"):
        parse(passage)
    parse(" ".join(passage.split()[:32]))
    parse(f'"{passage}"')  # a quoted phrase is one term, and a cheap one


def test_search_command_plain_json_and_user_scope(cli, backend) -> None:  # type: ignore[no-untyped-def]
    store = open_store(load_settings())
    cook = saved(store, "a recipe for sourdough bread", "feed the starter", name="Baking")
    saved(store, "sourdough secrets", user="alice")
    store.close()
    result = cli("search", "sourdough")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    short, title, _date, role, snippet = line.split("\t")
    assert (short, title, role) == (cook.id[:8], "Baking", "user")
    assert "**sourdough**" in snippet
    as_json = json.loads(cli("search", "starter", "--json").stdout)
    assert [(h["id"], h["role"]) for h in as_json] == [(cook.id, "assistant")]
    assert cli("search", "-x").returncode == 2
    assert cli("search", "--limit", "0", "x").returncode == 2


def test_a_literal_double_asterisk_is_no_match_in_a_pipe_or_json(cli) -> None:  # type: ignore[no-untyped-def]
    """Matches are marked with **: a reply's own "Some **bold** text" showed as
    "Some ****bold**** text", and `search text` as "Some **bold** **text**", a match too."""
    store = open_store(load_settings())
    saved(store, "style it", r"Some **bold** text, a \ and a * alone")
    store.close()
    snippet = cli("search", "text").stdout.rstrip("\n").split("\t")[-1]
    assert snippet == r"Some \*\*bold\*\* **text**, a \\ and a \* alone"
    (hit,) = json.loads(cli("search", "bold", "--json").stdout)
    assert hit["snippet"] == r"Some \*\***bold**\*\* text, a \\ and a \* alone"
    assert hit["matches"] == ["bold"]


def test_and_in_capitals_joins_words_as_said(cli) -> None:  # type: ignore[no-untyped-def]
    """`search AND` said "give at least one word" while nothing said AND was no word."""
    store = open_store(load_settings())
    both = saved(store, "deploy the helm chart")
    saved(store, "deploy by hand")
    store.close()
    (hit,) = json.loads(cli("search", "deploy AND helm", "--json").stdout)
    assert hit["id"] == both.id
    alone = cli("search", "AND")
    assert alone.returncode == 2 and "give at least one word" in alone.stderr
    assert "AND between them allowed" in " ".join(cli("search", "--help").stdout.split())


def test_db_reindex_fills_the_index_for_documents_saved_before_it(cli, backend) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings()
    store = open_store(settings)
    conversation = saved(store, "ancient scrolls of wisdom")
    engine = create_engine(settings.database_url)
    with engine.begin() as connection:  # as a database migrated from 0002 has it
        connection.execute(text("DELETE FROM search_messages"))
    engine.dispose()
    assert found(store, "scrolls") == []
    store.close()
    result = cli("db", "reindex")
    assert result.returncode == 0 and "indexed 1 conversation" in result.stderr
    assert json.loads(cli("search", "scrolls", "--json").stdout)[0]["id"] == conversation.id


def test_words_not_quoted_are_one_query(cli) -> None:  # type: ignore[no-untyped-def]
    """`search helm chart` failed with "Got unexpected extra argument(s) (chart)", exit 2."""
    store = open_store(load_settings())
    both = saved(store, "deploy the helm chart")
    saved(store, "steer by the helm")
    store.close()
    unquoted = cli("search", "helm", "chart", "--json")
    assert unquoted.returncode == 0, unquoted.stderr
    assert [hit["id"] for hit in json.loads(unquoted.stdout)] == [both.id]
    assert unquoted.stdout == cli("search", "helm chart", "--json").stdout
    excluding = cli("search", "--json", "--", "-chart", "helm")
    assert excluding.returncode == 0, excluding.stderr
    assert [hit["id"] for hit in json.loads(excluding.stdout)] != [both.id]
    assert len(json.loads(excluding.stdout)) == 1
