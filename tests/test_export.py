"""Export (markdown, JSON, HTML) and import, on both configurations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from claudechat.conversation import Conversation, Message
from claudechat.settings import load_settings
from claudechat.storage import open_store
from conftest import save_conversation

CODE = "```python\ndef f(x):\n    return x * 2  # <b>not bold</b>\n```"


def rich_conversation(user: str = "tester") -> Conversation:
    """Two branches, thinking, an attachment, a code block and some HTML-looking text."""
    conversation = Conversation.new(user, "claude-sonnet-4-6", system="be brief")
    conversation.set("name", "Doubling <script>alert(1)</script>")
    question = conversation.add(
        Message(
            "user",
            [
                {"type": "text", "text": "double it & explain"},
                {
                    "type": "attachment",
                    "sha256": "a" * 64,
                    "media_type": "text/csv",
                    "name": "numbers.csv",
                    "size": 12,
                },
            ],
        )
    )
    conversation.add(Message.of_text("assistant", "first try", parent_id=question.id))
    conversation.add(
        Message(
            "assistant",
            [
                {"type": "thinking", "thinking": "multiply by two", "signature": "sig"},
                {"type": "text", "text": f"Here:\n\n{CODE}\n"},
            ],
            parent_id=question.id,
        )
    )
    return conversation


def test_json_round_trip_is_identical(cli, backend, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    original = rich_conversation()
    save_conversation(original)
    exported = tmp_path / "c.json"
    assert cli("export", original.id[:8], "-o", str(exported)).returncode == 0
    stored_before = cli("show", original.id, "--json").stdout
    assert cli("delete", original.id, "--yes").returncode == 0
    assert cli("show", original.id).returncode == 1
    result = cli("import", str(exported))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"imported {original.id}")
    assert cli("show", original.id, "--json").stdout == stored_before
    # The imported text is searchable again.
    hits = json.loads(cli("search", "numbers.csv", "--json").stdout)
    assert [h["id"] for h in hits] == [original.id]


def test_import_with_new_ids_keeps_the_tree(cli, backend, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    original = rich_conversation()
    save_conversation(original)
    exported = tmp_path / "c.json"
    cli("export", original.id, "--format", "json", "-o", str(exported))
    result = cli("import", "--new-ids", str(exported))
    assert result.returncode == 0, result.stderr
    new_id = result.stdout.split()[1]
    assert new_id != original.id
    copy = json.loads(cli("show", new_id, "--json").stdout)
    before = json.loads(cli("show", original.id, "--json").stdout)
    assert [m["content"] for m in copy["messages"]] == [m["content"] for m in before["messages"]]
    assert not {m["id"] for m in copy["messages"]} & {m["id"] for m in before["messages"]}
    question = copy["messages"][0]["id"]
    assert [m["parent_id"] for m in copy["messages"]] == [None, question, question]
    assert copy["head"] == copy["messages"][2]["id"]


def test_import_names_the_conversation_as_it_is_now(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Imported into its own copy, renamed since the export: the name printed was the
    export's, not the one the merge kept."""
    original = rich_conversation()
    save_conversation(original)
    exported = tmp_path / "c.json"
    cli("export", original.id, "--format", "json", "-o", str(exported))
    assert cli("rename", original.id, "renamed after the export").returncode == 0
    result = cli("import", str(exported))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"imported {original.id}\trenamed after the export\n"


def test_another_users_export_is_imported_with_new_ids(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    theirs = rich_conversation(user="alice")
    exported = tmp_path / "alice.json"
    from claudechat.export import to_json

    exported.write_text(to_json(theirs))
    result = cli("import", str(exported))
    assert result.returncode == 0, result.stderr
    new_id = result.stdout.split()[1]
    assert new_id != theirs.id
    assert json.loads(cli("show", new_id, "--json").stdout)["user_id"] == "tester"


def test_import_refuses_other_files_and_writes_nothing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.json"
    from claudechat.export import to_json

    good.write_text(to_json(rich_conversation()))
    for name, content in [
        ("doc.json", json.dumps(rich_conversation().to_document())),  # a bare document
        ("list.json", "[1, 2]"),
        ("notes.md", "# hello"),
        ("binary.json", "\udcff"),
    ]:
        bad = tmp_path / name
        bad.write_bytes(content.encode("utf-8", "surrogateescape"))
        result = cli("import", str(good), str(bad))
        assert result.returncode == 2
        assert f"{bad} is not a claudechat JSON export" in result.stderr
        assert "Traceback" not in result.stderr
    assert cli("list").stdout == ""
    missing = cli("import", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_markdown_export(cli) -> None:  # type: ignore[no-untyped-def]
    conversation = rich_conversation()
    save_conversation(conversation)
    result = cli("export", conversation.id)
    assert result.returncode == 0, result.stderr
    markdown = result.stdout
    # The title's tags as text: its <script> was left for the reader to run.
    assert markdown.startswith("# Doubling \\<script\\>alert(1)\\</script\\>\n")
    assert "## You · " in markdown and "## Claude · " in markdown
    assert CODE in markdown  # code blocks intact
    assert "<details>\n<summary>Thinking</summary>\n\nmultiply by two\n\n</details>" in markdown
    assert "attachment: numbers.csv (text/csv)" in markdown
    assert "first try" not in markdown  # the other branch is in the JSON export
    assert "other branches: 1" in markdown


def test_markdown_export_keeps_thinking_inside_its_fold(cli) -> None:  # type: ignore[no-untyped-def]
    """Thinking was written raw: its `</details>` closed the fold early and the <script>
    after it landed outside; a code fence it left open took in the fold's end."""
    from markdown_it import MarkdownIt

    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    question = conversation.append("user", "think")
    for thinking in ("think </details><script>bad()</script>", "```py\nleft open"):
        thought = {"type": "thinking", "thinking": thinking, "signature": "sig"}
        answer = {"type": "text", "text": "after the fold"}
        conversation.add(Message("assistant", [thought, answer], parent_id=question.id))
        save_conversation(conversation)
        markdown = cli("export", conversation.id).stdout
        # As a markdown reader sees it: the fold's own tags and nothing else as HTML.
        tokens = MarkdownIt("commonmark").parse(markdown)
        html = [t.content.strip() for t in tokens if t.type == "html_block"]
        inline = [c for t in tokens for c in t.children or [] if c.type == "html_inline"]
        assert html == ["<details>\n<summary>Thinking</summary>", "</details>"] and not inline
        assert thinking in markdown and markdown.endswith("</details>\n\nafter the fold\n")


def _headings_as_a_browser_nests_them(markdown: str) -> list[tuple[str, str, list[str]]]:
    """Each heading of the markdown, rendered as GitHub would (raw HTML obeyed): its tag, its
    text, and the elements still open around it."""
    from html.parser import HTMLParser

    from markdown_it import MarkdownIt

    void = {"br", "hr", "img", "input", "meta", "link", "wbr", "source", "area", "col"}
    found: list[tuple[str, str, list[str]]] = []
    open_elements: list[str] = []

    class Nesting(HTMLParser):
        def handle_starttag(self, tag: str, attrs: object) -> None:
            if tag in ("h1", "h2"):
                found.append((tag, "", list(open_elements)))
            if tag not in void:
                open_elements.append(tag)

        def handle_endtag(self, tag: str) -> None:
            if tag in open_elements:
                del open_elements[len(open_elements) - 1 - open_elements[::-1].index(tag) :]

        def handle_data(self, data: str) -> None:
            if found and open_elements and open_elements[-1] in ("h1", "h2"):
                tag, text, around = found[-1]
                found[-1] = (tag, text + data, around)

    Nesting().feed(MarkdownIt("commonmark").render(markdown))
    return found


def test_markdown_export_keeps_each_message_out_of_the_next(cli) -> None:  # type: ignore[no-untyped-def]
    """Titles and messages were written raw: a fence a message left open took in every
    message after it as code, an unclosed <details> folded them away, and a title made of
    markdown (a "# ", a fence, a tag) became that structure."""
    for title, opened in [
        ("# ```not a fence", "```py\nleft open"),
        ("<details>", "<details>\n\nnever closed"),
        ("~~~ *x* [y]: z", "~~~~\nleft open ``` ~~~"),
    ]:
        conversation = Conversation.new("tester", "claude-sonnet-4-6", system="<details>")
        conversation.set("name", title)
        question = conversation.append("user", opened)
        reply = "## A heading\n\nordinary **markdown** and `code`"
        conversation.add(Message.of_text("assistant", reply, parent_id=question.id))
        save_conversation(conversation)
        exported = cli("export", "-f", "md", conversation.id)
        assert exported.returncode == 0, exported.stderr
        markdown = exported.stdout
        headings = _headings_as_a_browser_nests_them(markdown)
        assert [(tag, around) for tag, _, around in headings] == [("h1", [])] + [("h2", [])] * 3
        assert headings[0][1] == title and headings[3][1] == "A heading"
        assert headings[1][1].startswith("You · ") and headings[2][1].startswith("Claude · ")
        assert "ordinary **markdown** and `code`" in markdown  # still markdown


def test_dash_as_the_output_is_stdout(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`-o -` wrote a file named "-" in the current folder and printed nothing."""
    conversation = rich_conversation()
    save_conversation(conversation)
    dashed = cli("export", conversation.id, "-f", "json", "-o", "-")
    assert dashed.returncode == 0, dashed.stderr
    assert json.loads(dashed.stdout)["id"] == conversation.id
    assert cli("export", "--all", "-o", "-").returncode == 2
    # Only "-" itself: ./- is a file of that name, as for other tools.
    command = [sys.executable, "-m", "claudechat", "export", conversation.id, "-o", "./-"]
    to_file = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert to_file.returncode == 0, to_file.stderr
    assert to_file.stdout == "" and "double it & explain" in (tmp_path / "-").read_text()


def test_html_export_is_one_escaped_page(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    conversation = rich_conversation()
    save_conversation(conversation)
    page = tmp_path / "c.html"
    assert cli("export", conversation.id, "-o", str(page)).returncode == 0  # format from suffix
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html
    assert '<code class="language-python">' in html
    assert "<details><summary>Thinking</summary>" in html and "numbers.csv" in html
    assert "src=" not in html and "href=" not in html  # nothing loaded from elsewhere


def test_html_export_shows_an_image_in_a_message_as_a_link(cli) -> None:  # type: ignore[no-untyped-def]
    """![img](http://evil/x.png) became <img src="http://evil/x.png">: only the page's
    Content-Security-Policy kept it from being loaded when the page was opened."""
    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    conversation.append("user", "look: ![img](http://evil/x.png) and ![](http://evil/y.png)")
    save_conversation(conversation)
    html = cli("export", conversation.id, "-f", "html").stdout
    assert "<img" not in html and "src=" not in html
    assert '<a href="http://evil/x.png">image: img</a>' in html
    assert '<a href="http://evil/y.png">image</a>' in html


def test_html_export_keeps_a_badge_link_whole(cli) -> None:  # type: ignore[no-untyped-def]
    """An image inside a link became a link inside a link: invalid, and browsers dropped the
    outer one (the link to the job)."""
    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    conversation.append(
        "user", "[![build status](https://ci.example/badge.svg)](https://ci.example/job)"
    )
    save_conversation(conversation)
    html = cli("export", conversation.id, "-f", "html").stdout
    assert '<a href="https://ci.example/job">image: build status</a>' in html
    assert 'href="https://ci.example/badge.svg"' not in html


def test_export_takes_md_and_a_htm_file(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """-f md was refused while -o x.md chose markdown, and -o x.htm gave markdown."""
    conversation = rich_conversation()
    save_conversation(conversation)
    as_md = cli("export", conversation.id, "-f", "md")
    assert as_md.returncode == 0 and as_md.stdout == cli("export", conversation.id).stdout
    page = tmp_path / "c.htm"
    assert cli("export", conversation.id, "-o", str(page)).returncode == 0
    assert page.read_text().startswith("<!DOCTYPE html>")
    wrong = cli("export", conversation.id, "-f", "txt")
    assert wrong.returncode == 2 and "use markdown (md), json or html" in wrong.stderr


def test_export_all_into_a_folder(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first, second = rich_conversation(), rich_conversation()
    save_conversation(first)
    save_conversation(second)
    folder = tmp_path / "out"
    folder.mkdir()
    result = cli("export", "--all", "--format", "json", "-o", str(folder))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{first.id}.json", f"{second.id}.json"]
    )
    # One conversation into a folder: named as --all names it ("Is a directory", exit 5).
    alone = cli("export", first.id, "-f", "json", "-o", str(folder))
    assert alone.returncode == 0, alone.stderr
    assert (folder / f"{first.id}.json").read_text(encoding="utf-8").startswith("{")
    assert cli("export", "--all").returncode == 2
    assert cli("export").returncode == 2
    assert cli("export", first.id, "--format", "pdf").returncode == 2

    # One unreadable document: the others are still exported (and counted by usage).
    store = open_store(load_settings())
    store.blobs.put(store.blob_key("tester", first.id), b'{"broken')
    again = tmp_path / "again"
    again.mkdir()
    partial = cli("export", "--all", "--format", "json", "-o", str(again))
    assert partial.returncode == 1, partial.stderr
    assert [p.name for p in again.iterdir()] == [f"{second.id}.json"]
    assert "skipped: conversation document is corrupt" in partial.stderr
    assert "1 could not be read" in partial.stderr and "Traceback" not in partial.stderr
    usage = cli("usage", "--json")
    assert usage.returncode == 0 and "not counted" in usage.stderr
    # A row whose document is gone: skipped as well (this machine's copy, maybe older, is no
    # export of it: `doctor` puts it back); nothing stops there either.
    third = rich_conversation()
    save_conversation(third)
    store.blobs.delete(store.blob_key("tester", second.id))
    last = tmp_path / "last"
    last.mkdir()
    skipped = cli("export", "--all", "--format", "json", "-o", str(last))
    assert skipped.returncode == 1 and "2 could not be read" in skipped.stderr, skipped.stderr
    assert "may be stale" not in skipped.stderr
    assert [p.name for p in last.iterdir()] == [f"{third.id}.json"]
    assert cli("usage", "--json").returncode == 0


def test_export_all_passes_over_a_row_whose_document_was_deleted(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A delete that failed midway leaves the row beside the tombstone: export --all stopped
    there (exit 4), the conversations after it never written."""
    from claudechat.storage.documents import tombstone

    doomed, kept = rich_conversation(), rich_conversation()
    save_conversation(doomed)
    save_conversation(kept)
    store = open_store(load_settings())
    store.blobs.put(store.blob_key("tester", doomed.id), tombstone("tester", doomed.id))
    folder = tmp_path / "out"
    folder.mkdir()
    result = cli("export", "--all", "--format", "json", "-o", str(folder))
    assert result.returncode == 0, result.stderr
    assert [p.name for p in folder.iterdir()] == [f"{kept.id}.json"]
    assert "exported 1 conversation" in result.stderr


@pytest.mark.parametrize(
    "args, said",
    [
        (["export", "{id}", "-o", ""], "-o needs a file or folder name"),
        (["export", "{id}", "-f", ""], "unknown export format ''"),
        (["import", ""], "an empty file name"),
    ],
    ids=["export -o ''", "export -f ''", "import ''"],
)
def test_an_empty_file_name_or_format_is_a_usage_error(cli, args, said) -> None:  # type: ignore[no-untyped-def]
    """-o '' wrote to ".": "cannot write .: Is a directory", exit 5 as for a failed disk;
    -f '' gave markdown without a word; import '' could not read "" as a directory."""
    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    conversation.append("user", "hello")
    save_conversation(conversation)
    result = cli(*(arg.format(id=conversation.id) for arg in args))
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("claudechat: ") and said in line, line
