"""A document's ids as its reader checks them: a fork's parent is a conversation id and the
head one of its messages, in an export `import` reads and in a document already stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claudechat.conversation import Conversation
from claudechat.export import to_json
from conftest import save_conversation

BAD_PARENTS = ["\x1b[2J\x1b[H!!", "\x1b]0;pwned\x07", "nope", ""]


def a_conversation() -> Conversation:
    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    conversation.append("user", "what is a fork")
    conversation.append("assistant", "a copy that goes its own way")
    return conversation


def export_with(tmp_path: Path, name: str, **fields: object) -> Path:
    document = json.loads(to_json(a_conversation())) | fields
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def assert_refused_in_one_line(result, path: Path, reason: str) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "\x1b" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"claudechat: {path} is not a claudechat JSON export"), line
    assert reason in line, line


@pytest.mark.parametrize("parent", BAD_PARENTS, ids=["csi", "osc", "word", "empty"])
def test_an_export_whose_parent_is_no_conversation_id_is_refused(cli, tmp_path, parent) -> None:  # type: ignore[no-untyped-def]
    """The parent was taken as any text: `list` and `show` ("forked from:") printed its
    escape sequences raw, and a screen-clearing one cleared the terminal."""
    path = export_with(tmp_path, "forked.json", parent_id=parent)
    result = cli("import", str(path))
    assert_refused_in_one_line(result, path, "field 'parent_id' is not a conversation id")
    listed = cli("list")
    assert listed.returncode == 0 and listed.stdout == "" and "\x1b" not in listed.stderr


@pytest.mark.parametrize("head", ["nope", "\x1b[2J", "0" * 8 + "-0000-4000-8000-" + "0" * 12])
def test_an_export_whose_head_is_none_of_its_messages_is_refused(cli, tmp_path, head) -> None:  # type: ignore[no-untyped-def]
    path = export_with(tmp_path, "head.json", head=head)
    result = cli("import", str(path))
    reason = "field 'head' is not an id" if "\x1b" in head else "names no message"
    assert_refused_in_one_line(result, path, reason)
    assert cli("list").stdout == ""


@pytest.mark.parametrize("model", ["claude-" + "x" * 200, "claude sonnet", "", " claude-x\n"])
def test_an_export_whose_model_is_no_model_name_is_refused(cli, tmp_path, model) -> None:  # type: ignore[no-untyped-def]
    """One of 207 characters imported on SQLite; PostgreSQL's column refused it at every save,
    from the journal on every later command."""
    path = export_with(tmp_path, "model.json", model=model)
    result = cli("import", str(path))
    assert_refused_in_one_line(result, path, "not a model name")
    assert cli("list").stdout == ""


def test_a_fork_named_by_its_parents_id_still_imports(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    parent = a_conversation()
    path = export_with(tmp_path, "fork.json", parent_id=parent.id)
    result = cli("import", str(path))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "fields",
    [{"parent_id": "\x1b[2J\x1b[H!!"}, {"head": "not-a-message"}],
    ids=["parent", "head"],
)
def test_a_stored_document_with_a_bad_id_is_corrupt(cli, fake_api, backend, fields) -> None:  # type: ignore[no-untyped-def]
    """A document stored before these checks (or damaged since) is refused as corrupt in one
    line naming it, as any other damage is, never a traceback nor the raw sequence."""
    from claudechat.settings import load_settings
    from claudechat.storage import open_store

    conversation = a_conversation()
    save_conversation(conversation)
    store = open_store(load_settings())
    key = store.blob_key("tester", conversation.id)
    damaged = json.dumps(json.loads(store.blobs.get(key)) | fields).encode()
    store.blobs.put(key, damaged)
    store.close()
    for args in (("show", conversation.id), ("export", conversation.id, "-f", "json")):
        result = cli(*args)
        assert result.returncode == 1, result.stderr
        assert result.stdout == "" and "\x1b" not in result.stderr
        assert "Traceback" not in result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert "conversation document is corrupt" in line and conversation.id in line, line
    resumed = cli("chat", "--resume", conversation.id[:8], input="still there?")
    assert resumed.returncode == 1 and "corrupt" in resumed.stderr
    assert "Traceback" not in resumed.stderr and fake_api.requests == []


def with_attachment_digest(document: dict[str, object], digest: str) -> dict[str, object]:
    messages = document["messages"]
    assert isinstance(messages, list)
    messages[0]["content"].append(
        {"type": "attachment", "sha256": digest, "media_type": "text/plain", "name": "a.txt"}
    )
    return document


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d | {"id": "not-a-uuid"}, "field 'id' is not a conversation id"),
        (lambda d: d | {"parent_id": "nope"}, "field 'parent_id' is not a conversation id"),
        (lambda d: d | {"head": "nope"}, "field 'head' names no message"),
        (lambda d: with_attachment_digest(d, "zz"), "digest 'zz' is no sha256"),
    ],
    ids=["id", "parent", "head", "digest"],
)
def test_a_bad_file_after_a_good_one_is_refused_before_either_is_written(  # type: ignore[no-untyped-def]
    cli, tmp_path, change, reason
) -> None:
    """`import a.json badid.json` imported a.json, then refused the other in a line that
    named no file; README says every file is checked before any is written."""
    good = tmp_path / "a.json"
    good.write_text(to_json(a_conversation()))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(change(json.loads(to_json(a_conversation())))))
    result = cli("import", str(good), str(bad))
    assert_refused_in_one_line(result, bad, reason)
    assert result.stdout == ""
    assert cli("list", "--json").stdout.strip() == "[]"


def test_an_export_whose_ids_are_in_capitals_is_read_as_the_same_ids(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A UUID in capitals is a valid form of one, and was taken as it was: its row held
    ABCD..., its document was stored as abcd....json, and `show`, `rename`, `export` and
    `delete` found no conversation; importing the same export again in lower case was a
    traceback. The id is the same id, and becomes its canonical, lower-case form."""
    parent, fork = a_conversation(), a_conversation()
    parents = export_with(tmp_path, "parent.json", id=parent.id.upper())
    forks = export_with(tmp_path, "fork.json", id=fork.id.upper(), parent_id=parent.id.upper())
    imported = cli("import", str(parents), str(forks))
    assert imported.returncode == 0, imported.stderr
    listed = json.loads(cli("list", "--json").stdout)
    assert {row["id"] for row in listed} == {parent.id, fork.id}
    assert {row.get("parent_id") for row in listed} == {None, parent.id}
    shown = cli("show", "--json", fork.id.upper()[:8])
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["parent_id"] == parent.id
    again = cli("import", str(export_with(tmp_path, "lower.json", id=parent.id)))
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr
    assert cli("delete", "--yes", parent.id).returncode == 0
    assert [row["id"] for row in json.loads(cli("list", "--json").stdout)] == [fork.id]


def test_a_fork_in_capitals_names_its_parents_copy_under_new_ids(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    parent = a_conversation()
    parents = export_with(tmp_path, "parent.json", id=parent.id.upper())
    forks = export_with(tmp_path, "fork.json", parent_id=parent.id.upper())
    imported = cli("import", "--new-ids", str(parents), str(forks))
    assert imported.returncode == 0, imported.stderr
    listed = json.loads(cli("list", "--json").stdout)
    ids = {row["id"] for row in listed}
    assert parent.id not in ids and len(ids) == 2
    assert {row.get("parent_id") for row in listed} - {None} <= ids


def test_an_export_that_is_its_own_parent_is_refused(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`show` said "forked from:" the conversation itself."""
    conversation = a_conversation()
    path = export_with(tmp_path, "self.json", id=conversation.id, parent_id=conversation.id)
    result = cli("import", str(path))
    assert_refused_in_one_line(result, path, "field 'parent_id' names the conversation itself")


def test_a_stored_document_that_is_its_own_parent_is_read_as_having_none() -> None:
    """Imported before import refused it (or in capitals, the same id once lower-cased): a
    document refused on read could not be shown, saved over or continued."""
    conversation = a_conversation()
    document = conversation.to_document() | {"parent_id": conversation.id.upper()}
    read = Conversation.from_document(document)
    assert (read.id, read.parent_id) == (conversation.id, None)
