"""Search finds what only the journal holds (saved while the store was down), as the index
would: the journal's messages are matched by the index's own engine."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claudechat.conversation import Conversation
from claudechat.errors import UsageError
from claudechat.settings import load_settings
from claudechat.storage import open_store
from claudechat.storage.journal import Journal
from claudechat.storage.journal_search import search_everywhere, unindexed_hits
from claudechat.storage.search import SearchHit, search
from claudechat.storage.search_text import MARK_END, MARK_START, parse
from claudechat.storage.store import ConversationStore
from test_faults import blobs_down, database_down  # noqa: F401  (fixtures)

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


def positions(conversation: Conversation, hits: list[SearchHit]) -> list[int]:
    """Which of the conversation's messages matched, in the order found."""
    ids = [message.id for message in conversation.messages]
    return [ids.index(hit.message_id) for hit in hits]


def both_ways(store: ConversationStore, home: Path, bodies: list[str], queries: list[str]):  # type: ignore[no-untyped-def]
    """Per query, the same messages found from the journal (an unsaved conversation) and by
    the index (a saved one with the same texts), as positions; and the journal's hits."""
    user = f"u{uuid.uuid4().hex[:12]}"  # an index of its own
    stored, journaled = conversation_of(*bodies, user=user), conversation_of(*bodies, user=user)
    assert store.save(stored).pushed
    journal = Journal(home / "matcher-journal")
    journal.write(journaled)
    found = {}
    try:
        for query in queries:
            local = unindexed_hits(store.metadata, user, journal.entries(user), query)
            indexed = search(store.metadata, user, query, limit=1000)
            found[query] = (
                sorted(positions(journaled, local)),
                sorted(positions(stored, indexed)),
                local,
            )
    finally:
        for entry in journal.entries(user):
            journal.discard(entry)
    return found


def test_the_journal_matches_as_the_index_does(backend, isolated_home) -> None:  # type: ignore[no-untyped-def]
    store = open_store(load_settings())
    found = both_ways(store, isolated_home, BODIES, [*QUERIES, "sourdough"])
    for query in QUERIES:
        local, indexed, _hits = found[query]
        assert local == indexed, query
    hits = found["sourdough"][2]
    assert [hit.snippet for hit in hits] == [f"a recipe for {MARK_START}sourdough{MARK_END} bread"]
    store.close()


WORDS = st.sampled_from(
    [
        "alpha",
        "Beta",
        "gamma",
        "délta",
        "alp",
        "be",
        "GAMMAS",
        "42",
        "straße",
        "x²",
        "ÉCOLE",
        "école",
        "мой",
        "мои",
        "a_b",
        "ﬁne",
        "ς",
    ]
)
SEPARATORS = st.sampled_from([" ", ", ", ". ", "\n", " - ", "'", "++ "])


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
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=st.lists(bodies(), min_size=1, max_size=4), query=queries())
def test_the_journal_and_sqlite_agree_on_any_query(isolated_home, texts, query) -> None:  # type: ignore[no-untyped-def]
    try:
        parse(query)
    except UsageError:  # only excluded words: refused alike, before any matching
        return
    store = open_store(load_settings())
    local, indexed, _hits = both_ways(store, isolated_home, texts, [query])[query]
    assert local == indexed
    store.close()


def test_journaled_turns_come_first_and_indexed_ones_are_not_repeated(backend) -> None:  # type: ignore[no-untyped-def]
    """A journal entry holds the whole conversation: only the turns the index lacks are
    matched from it, so an old conversation continued offline does not crowd the results."""
    store = open_store(load_settings())
    conversation = conversation_of(*[f"deploy step {n}" for n in range(6)])
    assert store.save(conversation).pushed
    conversation.append("user", "deploy step offline")
    store.journal.write(conversation)  # as a save during an outage leaves it
    hits = search_everywhere(store, "tester", "deploy", limit=4).hits
    assert [hit.snippet.count(MARK_START) for hit in hits] == [1, 1, 1, 1]
    assert positions(conversation, hits)[0] == 6  # the offline turn, then the index's best
    assert len({hit.message_id for hit in hits}) == 4
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


def test_while_the_database_is_down_search_looks_in_the_copies_on_this_machine(  # type: ignore[no-untyped-def]
    backend,
    database_down,  # noqa: F811  (the fixture imported above)
    fake_api,
    cli,
    isolated_home,
) -> None:
    before = cli("chat", input="otters hold hands while they sleep")
    assert before.returncode == 0, before.stderr
    cli("chat", input="a note on herons")
    with database_down():
        during = cli("chat", input="otters again, typed during the outage")
        assert during.returncode == 0, during.stderr
        found = cli("search", "otter", "--json")
        # What this machine holds matched, then the outage named, exit code as `list`'s.
        assert found.returncode == 5, found.stderr
        assert "database" in found.stderr and "Traceback" not in found.stderr
        hits = json.loads(found.stdout)  # each question and the fake's echo of it
        assert len(hits) == 4 and len({hit["id"] for hit in hits}) == 2
        assert all("**otters**" in hit["snippet"] for hit in hits)
        listed = cli("list", "--search", "otters", "--json")
        assert listed.returncode == 5
        assert {row["id"] for row in json.loads(listed.stdout)} == {hit["id"] for hit in hits}
        plain = cli("search", "herons")
        assert plain.returncode == 5 and "a note on herons" in plain.stdout
        assert "no message matches" not in plain.stderr
        (isolated_home / "cache").rename(isolated_home / "cache.aside")
        for entry in (isolated_home / "journal").rglob("*.json"):
            entry.unlink()
        nothing = cli("search", "otter", "--json")  # no copy to search: none found, and why
        assert nothing.returncode == 5 and json.loads(nothing.stdout) == []
        assert len(nothing.stderr.strip().splitlines()) == 1
        assert cli("list", "--search", "otter", "--json").stdout.strip() == "[]"


def test_a_limit_keeps_the_best_journaled_matches_in_order(backend) -> None:  # type: ignore[no-untyped-def]
    """The limit is applied where the matching is done (before PostgreSQL's headlines): the
    same best matches, in the same order, as without it."""
    store = open_store(load_settings())
    conversation = conversation_of(*[f"{'deploy ' * (n % 3 + 1)}step {n}" for n in range(6)])
    store.journal.write(conversation)
    entries = store.journal.entries("tester")
    every = unindexed_hits(store.metadata, "tester", entries, "deploy")
    best = unindexed_hits(store.metadata, "tester", entries, "deploy", limit=2)
    assert len(every) == 6 and best == every[:2]
    store.close()


def test_the_offline_search_makes_excerpts_only_for_the_matches_it_keeps(  # type: ignore[no-untyped-def]
    backend, monkeypatch
) -> None:
    """An excerpt costs up to tens of milliseconds: the copies of a long history could hold
    thousands of matches, of which `search` shows its limit and `list --search` none."""
    from claudechat.errors import StorageError
    from claudechat.storage import journal_search

    store = open_store(load_settings())
    conversation = conversation_of(*[f"{'deploy ' * (n % 3 + 1)}step {n}" for n in range(6)])
    store.journal.write(conversation)
    excerpted: list[int] = []
    made = journal_search.excerpts

    def counted(query, bodies):  # type: ignore[no-untyped-def]
        excerpted.append(len(bodies))
        return made(query, bodies)

    monkeypatch.setattr(journal_search, "excerpts", counted)
    down = StorageError("the database is down")
    every = journal_search.offline_hits(store, "tester", parse("deploy"), down)
    best = journal_search.offline_hits(store, "tester", parse("deploy"), down, limit=2)
    bare = journal_search.offline_hits(store, "tester", parse("deploy"), down, excerpted=False)
    assert len(every) == 6 and best == every[:2]
    assert [hit.message_id for hit in bare] == [hit.message_id for hit in every]
    assert {hit.snippet for hit in bare} == {""}
    assert excerpted == [6, 2]
    store.close()
