"""show and list: show's markdown escaped and split as export's, the branch it names, list's
filters, and the pager a long conversation goes through in a terminal."""

from __future__ import annotations

from claudechat.conversation import Conversation, Message
from conftest import save_conversation


def test_show_markdown_escapes_the_title_as_export_does(cli) -> None:  # type: ignore[no-untyped-def]
    """It printed "# # heading `x` <b>": a heading, code and a tag to a markdown reader; and
    the system prompt raw, where export escapes it."""
    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    conversation.set("name", "# heading `x` <b>")
    conversation.set("system", "<details> be brief")
    conversation.append("user", "hello")
    save_conversation(conversation)
    shown = cli("show", conversation.id, "--markdown")
    exported = cli("export", "-f", "md", conversation.id)
    assert shown.returncode == exported.returncode == 0, shown.stderr + exported.stderr
    title = shown.stdout.splitlines()[0]
    assert title == exported.stdout.splitlines()[0] == r"# \# heading \`x\` \<b\>"
    system = r"- system: \<details\> be brief"
    assert system in shown.stdout.splitlines() and system in exported.stdout.splitlines()


def test_show_markdown_keeps_each_message_out_of_the_next_as_export_does(cli) -> None:  # type: ignore[no-untyped-def]
    """A reply cut off inside a code block took every later message into it in `show
    --markdown`, as it once did in export."""
    from markdown_it import MarkdownIt

    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    conversation.append("user", "a script?")
    conversation.append("assistant", "Here:\n\n```bash\necho hi")
    conversation.append("user", "and then?")
    save_conversation(conversation)
    shown = cli("show", conversation.id, "--markdown")
    assert shown.returncode == 0, shown.stderr
    tokens = MarkdownIt("commonmark").parse(shown.stdout)
    headings = [t for t in tokens if t.type == "heading_open" and t.tag == "h2"]
    assert len(headings) == 3, shown.stdout


def test_show_names_the_branch_it_prints_the_current_one_not_the_latest(cli, backend) -> None:  # type: ignore[no-untyped-def]
    """After /branch to an older branch, show printed it under "this is the latest"."""
    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    question = conversation.append("user", "which way")
    older = conversation.append("assistant", "the older answer")
    conversation.add(Message.of_text("assistant", "the newer answer", parent_id=question.id))
    conversation.set("head", older.id)  # as /branch leaves it
    save_conversation(conversation)
    shown = cli("show", conversation.id)
    assert "the older answer" in shown.stdout and "the newer answer" not in shown.stdout
    assert "latest" not in shown.stdout
    assert "- branches: 2; this is the current one, last continued or picked with /branch" in (
        shown.stdout
    )


# -- list filters and the pager ------------------------------------------------------------


def test_list_search_since_and_all(cli, backend) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from claudechat.conversation import utc_now

    old = Conversation.new("tester", "claude-sonnet-4-6")
    old.append("user", "old talk about gardening")
    old.updated_at = utc_now() - timedelta(days=10)
    save_conversation(old)
    fresh = [Conversation.new("tester", "claude-sonnet-4-6") for _ in range(3)]
    for number, conversation in enumerate(fresh):
        conversation.append(
            "user", f"new talk number {number} about {'gardening' if number else 'code'}"
        )
        save_conversation(conversation)

    def ids(*args: str) -> list[str]:
        result = cli("list", *args)
        assert result.returncode == 0, result.stderr
        return [line.split("\t")[0] for line in result.stdout.splitlines()]

    assert len(ids()) == 4
    assert set(ids("--since", "7d")) == {c.id[:8] for c in fresh}
    assert set(ids("--search", "gardening")) == {old.id[:8], fresh[1].id[:8], fresh[2].id[:8]}
    assert set(ids("--search", "garden", "--since", "1w")) == {fresh[1].id[:8], fresh[2].id[:8]}
    assert len(ids("--search", "talk", "--limit", "2")) == 2
    assert len(ids("--limit", "1", "--all")) == 4
    # An empty --since is refused as usage refuses it: it was taken for no filter at all.
    for since in ("yesterday-ish", "", " "):
        bad = cli("list", "--json", "--since", since)
        assert (bad.returncode, bad.stdout) == (2, ""), since
        assert bad.stderr.startswith(f"claudechat: --since {since!r}: give a duration"), since


def long_conversation() -> Conversation:
    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    for number in range(40):
        conversation.append("user" if number % 2 == 0 else "assistant", f"line {number}")
    save_conversation(conversation)
    return conversation


def show_in_a_terminal(reference: str, *options: str, **env: str) -> str:
    import os
    import sys

    import pexpect

    child = pexpect.spawn(
        sys.executable,
        ["-m", "claudechat", "show", reference, *options],
        env={**os.environ, "TERM": "xterm-256color", **env},
        encoding="utf-8",
        dimensions=(24, 80),
        timeout=30,
    )
    output = child.read()
    child.close()
    assert child.exitstatus == 0, output
    return output


def test_show_of_a_long_conversation_goes_through_the_pager() -> None:  # type: ignore[no-untyped-def]
    conversation = long_conversation()
    paged = show_in_a_terminal(conversation.id, PAGER="sed 's/^/paged: /'")
    assert "paged: " in paged and "line 39" in paged
    short = Conversation.new("tester", "claude-sonnet-4-6")
    short.append("user", "brief")
    save_conversation(short)
    assert "paged: " not in show_in_a_terminal(short.id, PAGER="sed 's/^/paged: /'")
    # A pager that is not there: shown anyway (it was not shown at all, and exit 0), and said.
    missing = show_in_a_terminal(conversation.id, PAGER="no-such-pager-here")
    assert "line 39" in missing and "could not be run" in missing


def test_show_markdown_and_no_color_in_a_terminal_go_through_the_pager_too(cli) -> None:  # type: ignore[no-untyped-def]
    """`show --markdown` wrote a long conversation straight to the terminal, past the screen."""
    conversation = long_conversation()
    pager = "sed 's/^/paged: /'"
    paged = show_in_a_terminal(conversation.id, "--markdown", PAGER=pager)
    assert "paged: ## You" in paged and "paged: line 39" in paged
    plain = show_in_a_terminal(conversation.id, PAGER=pager, NO_COLOR="1")
    assert "paged: line 39" in plain and "## You" not in plain  # rendered, without colour
    short = Conversation.new("tester", "claude-sonnet-4-6")
    short.append("user", "brief " * 30)  # a line the terminal wraps, but not past the screen
    save_conversation(short)
    assert "paged: " not in show_in_a_terminal(short.id, "--markdown", PAGER=pager)
    wide = Conversation.new("tester", "claude-sonnet-4-6")
    wide.append("user", "wrapped " * 300)  # one line, thirty rows of the terminal
    save_conversation(wide)
    assert "paged: " in show_in_a_terminal(wide.id, "--markdown", PAGER=pager)
    piped = cli("show", conversation.id, "--markdown", env={"PAGER": pager})
    assert "paged: " not in piped.stdout and "line 39" in piped.stdout


def test_the_default_pager_is_less_and_never_in_a_pipe(cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    conversation = long_conversation()
    monkeypatch.delenv("PAGER", raising=False)
    monkeypatch.setenv("LESS", "")  # no F: less waits for the reader, as on a real screen
    import os
    import sys

    import pexpect

    child = pexpect.spawn(
        sys.executable,
        ["-m", "claudechat", "show", conversation.id],
        env={**os.environ, "TERM": "xterm-256color"},
        encoding="utf-8",
        dimensions=(24, 80),
        timeout=30,
    )
    child.expect_exact("line 1")
    child.send("G")  # to the end, where less says so
    child.expect_exact("(END)")
    child.send("q")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    piped = cli("show", conversation.id, env={"PAGER": "sed 's/^/paged: /'"})
    assert "paged: " not in piped.stdout and "line 39" in piped.stdout


def test_list_limited_and_continue_take_the_top_of_the_whole_list_when_times_tie(  # type: ignore[no-untyped-def]
    cli, backend, fake_api
) -> None:
    """Two conversations saved in the same microsecond (an import of exports): the database
    ordered the tie by id one way and `list` the other, so `list -n 1` and `chat -c` took the
    last of the tied rows, not the first `list` shows."""
    from fakes.anthropic_api import Reply

    tied = []
    for letter in "ef":
        conversation = Conversation.new("tester", "claude-sonnet-4-6")
        conversation.id = f"{letter * 8}-0000-4000-8000-000000000000"
        conversation.append("user", f"tied {letter}")
        tied.append(conversation)
    for conversation in tied:
        conversation.updated_at = tied[0].updated_at
        save_conversation(conversation)

    def shown_ids(*args: str) -> list[str]:
        result = cli("list", *args)
        assert result.returncode == 0, result.stderr
        return [line.split("\t")[0] for line in result.stdout.splitlines()]

    whole = shown_ids()
    assert len(whole) == 2
    assert shown_ids("-n", "1") == whole[:1]
    fake_api.queue(Reply("continued"))
    assert cli("chat", "-c", input="one more").returncode == 0
    top = cli("show", "--json", whole[0]).stdout
    assert "one more" in top and "continued" in top
