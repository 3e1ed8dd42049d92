"""Search finds what only the journal holds (saved while the store was down), as the index
would: the Python matcher agrees with SQLite's and PostgreSQL's full-text search."""

from __future__ import annotations

import json
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claudechat.conversation import Conversation
from claudechat.settings import load_settings
from claudechat.storage import open_store
from claudechat.storage.journal import Journal
from claudechat.storage.journal_search import journal_hits
from claudechat.storage.search import parse, search
from claudechat.storage.store import ConversationStore
from test_faults import blobs_down  # noqa: F401  (a fixture)

BODIES = [
    "how do I deploy with kubernetes",
    "use helm charts for the deploy",
    "a recipe for sourdough bread",
    "feed the starter daily, Crème brûlée too",
    "CAFÉ au lait; don't_panic at 42 o'clock",
]
QUERIES = [
    "sourdough",
    "kube",
    "kube ",
    "helm OR starter",
    '"the starter"',
    '"starter the"',
    "deploy -helm",
    "deploy kubernetes",
    "deploy sourdough",
    "creme BRULEE",
    "café",
    "don",
    "panic",
    "42",
    "o clock",
    '"for the"',
    "for -deploy OR daily",
    "nothinglikethis",
]


def conversation_of(*bodies: str, user: str = "tester") -> Conversation:
    conversation = Conversation.new(user, "claude-sonnet-4-6")
    for number, body in enumerate(bodies):
        conversation.append("user" if number % 2 == 0 else "assistant", body)
    return conversation


def from_journal(
    home, conversation: Conversation, query: str, keep_accents: bool = False
) -> set[str]:  # type: ignore[no-untyped-def]
    journal = Journal(home / "matcher-journal")
    journal.write(conversation)
    user = conversation.user_id
    try:
        hits = journal_hits(journal.entries(user), parse(query), keep_accents)
        return {hit.message_id for hit in hits}
    finally:
        for entry in journal.entries(user):
            journal.discard(entry)


def from_index(store: ConversationStore, conversation: Conversation, query: str) -> set[str]:
    hits = search(store.metadata, conversation.user_id, query, limit=1000)
    return {hit.message_id for hit in hits}


def test_the_journal_matches_as_the_index_does(backend, isolated_home) -> None:  # type: ignore[no-untyped-def]
    store = open_store(load_settings())
    conversation = conversation_of(*BODIES)
    assert store.save(conversation).pushed
    keep = backend.name == "team"  # PostgreSQL's "simple" keeps accents
    for query in QUERIES:
        if keep and query == "café":
            continue  # PostgreSQL lowercases É only in a UTF-8 locale; the test cluster's is C
        assert from_journal(isolated_home, conversation, query, keep) == from_index(
            store, conversation, query
        ), query
    store.close()


WORDS = st.sampled_from(["alpha", "Beta", "gamma", "délta", "alp", "be", "GAMMAS", "42"])
SEPARATORS = st.sampled_from([" ", ", ", ". ", "\n", " - ", "'"])


@st.composite
def bodies(draw: st.DrawFn) -> str:
    words = draw(st.lists(WORDS, min_size=1, max_size=8))
    return "".join(word + draw(SEPARATORS) for word in words)


@st.composite
def queries(draw: st.DrawFn) -> str:
    def term() -> str:
        words = draw(st.lists(WORDS, min_size=1, max_size=2))
        if len(words) > 1:
            return '"' + " ".join(words) + '"'
        return ("-" if draw(st.booleans()) else "") + words[0]

    groups = [" ".join(term() for _ in range(draw(st.integers(1, 3)))) for _ in range(2)]
    text = " OR ".join(groups[: draw(st.integers(1, 2))])
    return text + draw(st.sampled_from(["", " "]))  # still typing the last word, or not


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=st.lists(bodies(), min_size=1, max_size=4), query=queries())
def test_the_journal_and_sqlite_agree_on_any_query(isolated_home, texts, query) -> None:  # type: ignore[no-untyped-def]
    try:
        parse(query)
    except Exception:  # only excluded words: refused alike, before any matching
        return
    store = open_store(load_settings())
    conversation = conversation_of(*texts, user=f"u{uuid.uuid4().hex[:12]}")  # a fresh index
    assert store.save(conversation).pushed
    assert from_journal(isolated_home, conversation, query) == from_index(
        store, conversation, query
    )
    store.close()


def test_search_and_list_find_a_turn_saved_while_the_store_was_down(  # type: ignore[no-untyped-def]
    backend,
    blobs_down,  # noqa: F811  (the fixture imported above)
    fake_api,
    cli,
) -> None:
    with blobs_down():
        offline = cli("chat", input="notes on zebras, typed offline")
        assert offline.returncode == 0, offline.stderr
        assert "saved locally" in offline.stderr
        found = cli("search", "zebr", "--json")
        assert found.returncode == 0, found.stderr
        hits = json.loads(found.stdout)  # the question and the fake's echo of it
        assert sorted(hit["role"] for hit in hits) == ["assistant", "user"]
        assert len({hit["id"] for hit in hits}) == 1
        assert all("**zebras**" in hit["snippet"] for hit in hits)  # the match, marked
        listed = cli("list", "--search", "zebras", "--json")
        assert [row["id"] for row in json.loads(listed.stdout)] == [hits[0]["id"]]
        assert cli("search", "giraffes", "--json").stdout.strip() == "[]"
