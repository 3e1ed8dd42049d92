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


def bobs_conversation() -> Conversation:
    from conftest import save_conversation

    conversation = Conversation.new("bob", "claude-sonnet-4-6")
    conversation.append("user", "bob's secret plan")
    conversation.append("assistant", "noted")
    save_conversation(conversation)
    return conversation


def test_an_id_another_user_has_is_imported_with_new_ids(cli, backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Bob's export, edited to say it is this user's: accepted with its ids, its row clashed
    with Bob's on every later command (a raw UniqueViolation dump naming Bob's preview), and
    its entry stayed in the journal."""
    bobs = bobs_conversation()
    path = tmp_path / "bob.json"
    assert cli("export", bobs.id, "-o", str(path), env={"CLAUDECHAT_USER": "bob"}).returncode == 0
    document = json.loads(path.read_text())
    document["user_id"] = "tester"
    path.write_text(json.dumps(document))
    result = cli("import", str(path))
    assert result.returncode == 0, result.stderr
    new_id = result.stdout.split()[1]
    assert new_id != bobs.id
    assert f"{path}: its id is already used in this store; imported with new ids" in result.stderr
    assert "journal" not in result.stderr
    after = cli("list")
    assert after.returncode == 0 and after.stderr == "", after.stderr
    assert after.stdout.startswith(new_id[:8])
    as_bob = cli("show", bobs.id, "--json", env={"CLAUDECHAT_USER": "bob"})
    assert json.loads(as_bob.stdout)["user_id"] == "bob"


def test_a_row_the_database_refuses_is_one_line_without_sql(backend) -> None:  # type: ignore[no-untyped-def]
    """Saved with an id another user's row has (as such an import did): the error was the
    driver's whole text, the SQL statement and its parameters (Bob's preview) included."""
    from claudechat.settings import load_settings
    from claudechat.storage import open_store

    bobs = bobs_conversation()
    mine = Conversation.new("tester", "claude-sonnet-4-6")
    mine.id = bobs.id
    mine.append("user", "mine")
    store = open_store(load_settings())
    result = store.save(mine)
    store.close()
    assert result.error is not None and result.journaled
    message = str(result.error)
    assert "\n" not in message and "INSERT" not in message.upper() and "secret" not in message
    assert message.startswith("the row and search index kept changing under this save: ")


@pytest.mark.parametrize("user", ["tester", "alice"])
def test_a_fork_imported_with_its_parent_under_new_ids_names_the_parents_new_id(  # type: ignore[no-untyped-def]
    cli, tmp_path, user
) -> None:
    """The fork kept naming the parent's old id: in `list` and `show` an id that was no
    conversation here (another user's, when the export was theirs)."""
    parent = Conversation.new(user, "claude-sonnet-4-6")
    parent.append("user", "the trunk")
    fork = Conversation.new(user, "claude-sonnet-4-6")
    fork.append("user", "the branch")
    fork.parent_id = parent.id
    alone = Conversation.new(user, "claude-sonnet-4-6")
    alone.append("user", "a fork whose parent stays behind")
    alone.parent_id = parent.id
    paths = []
    for conversation in (fork, parent):  # the fork first: its parent comes later
        paths.append(tmp_path / f"{conversation.id}.json")
        paths[-1].write_text(to_json(conversation))
    (tmp_path / "alone.json").write_text(to_json(alone))
    assert cli("import", "--new-ids", *map(str, paths)).returncode == 0
    rows = {row["title"]: row for row in json.loads(cli("list", "--json").stdout)}
    assert rows["the branch"]["parent_id"] == rows["the trunk"]["id"] != parent.id
    alone_import = cli("import", "--new-ids", str(tmp_path / "alone.json"))
    assert alone_import.returncode == 0, alone_import.stderr
    rows = {row["title"]: row for row in json.loads(cli("list", "--json").stdout)}
    # Yours: the original parent, still yours to find; another user's: not named.
    assert rows["a fork whose parent stays behind"]["parent_id"] == (
        parent.id if user == "tester" else None
    )


def test_a_parent_and_its_fork_imported_with_new_ids_share_the_forks_copied_replies(  # type: ignore[no-untyped-def]
    cli, fake_api, tmp_path
) -> None:
    """Each imported conversation had ids of its own: the fork's copies of its parent's
    replies no longer matched the parent's, `usage` counted them twice, and its total was more
    than the costs `list` shows."""
    from claudechat.settings import load_settings
    from claudechat.storage import open_store
    from claudechat.storage.forks import fork
    from conftest import conversation_id
    from fakes.anthropic_api import Reply

    fake_api.queue(Reply("a", input_tokens=1000, output_tokens=100))
    parent = conversation_id(cli("chat", input="one").stderr)
    store = open_store(load_settings())
    forked = fork(store, store.load("tester", parent))
    fake_api.queue(Reply("b", input_tokens=2000, output_tokens=200))
    assert cli("chat", "-c", forked.id, input="two").returncode == 0
    paths = [tmp_path / "parent.json", tmp_path / "fork.json"]
    for conversation, path in zip((parent, forked.id), paths, strict=True):
        assert cli("export", conversation, "--format", "json", "-o", str(path)).returncode == 0
    assert cli("import", "--new-ids", *map(str, paths)).returncode == 0

    listed = json.loads(cli("list", "--json").stdout)
    (day,) = json.loads(cli("usage", "--json").stdout)
    assert (day["input"], day["output"]) == (6000, 600)  # each reply twice: it and its copy
    assert day["cost"] == pytest.approx(sum(row["cost_usd"] for row in listed))
    copies = {row["id"]: row for row in listed if row["id"] not in (parent, forked.id)}
    (fork_copy,) = [row for row in copies.values() if row["parent_id"] in copies]
    documents = {i: json.loads(cli("show", i, "--json").stdout) for i in copies}
    inherited = {m["id"] for m in documents[fork_copy["parent_id"]]["messages"]}
    assert inherited < {m["id"] for m in documents[fork_copy["id"]]["messages"]}


def test_another_users_export_imported_twice_is_one_conversation(cli, backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Each import of Alice's export drew new random ids: two imports were two conversations,
    and `list` and `usage` counted it twice; importing your own twice was one."""
    parent = Conversation.new("alice", "claude-sonnet-4-6")
    parent.append("user", "the trunk")
    parent.set("name", "the trunk")
    fork = Conversation.new("alice", "claude-sonnet-4-6")
    fork.messages = list(parent.messages)
    fork.append("user", "the branch")
    fork.set("name", "the branch")
    fork.parent_id = parent.id
    paths = {}
    for title, conversation in (("trunk", parent), ("branch", fork)):
        paths[title] = tmp_path / f"{title}.json"
        paths[title].write_text(to_json(conversation))
    first = cli("import", str(paths["trunk"]))
    assert first.returncode == 0, first.stderr
    again = cli("import", str(paths["trunk"]))
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout and first.stdout.split()[1] != parent.id
    # The fork comes in a later command: it still names the trunk as imported here.
    assert cli("import", str(paths["branch"]), str(paths["branch"])).returncode == 0
    rows = {row["title"]: row for row in json.loads(cli("list", "--json").stdout)}
    assert len(rows) == 2 and rows["the branch"]["parent_id"] == rows["the trunk"]["id"]
    trunk, branch = (
        [m["id"] for m in json.loads(cli("show", rows[title]["id"], "--json").stdout)["messages"]]
        for title in ("the trunk", "the branch")
    )
    assert trunk == branch[:1]  # the fork's copy of the trunk's message is the trunk's
    # Bob's import of the same export is his own, apart from this user's.
    as_bob = cli("import", str(paths["trunk"]), env={"CLAUDECHAT_USER": "bob"})
    assert as_bob.returncode == 0 and as_bob.stdout.split()[1] != first.stdout.split()[1]
    # --new-ids still makes a copy each time.
    for _ in range(2):
        assert cli("import", "--new-ids", str(paths["trunk"])).returncode == 0
    assert len(json.loads(cli("list", "--json").stdout)) == 4


def test_a_name_with_joiners_is_imported_as_it_is(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Import made "Family 👨‍👩‍👧 trip" three emoji apart, each joiner a space, and said so."""
    result = cli("import", str(exported(tmp_path, "Family 👨‍👩‍👧 trip")))
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\tFamily 👨‍👩‍👧 trip\n")
    assert "name" not in result.stderr
