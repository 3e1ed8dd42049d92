"""Money: the price table applied to stored usage, by `show --json` and `claudechat usage`."""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import UTC, datetime

import pexpect
from hypothesis import given, settings
from hypothesis import strategies as st

from claudechat.conversation import Conversation, Message, Usage
from claudechat.pricing import conversation_cost, conversation_spend, price_table
from conftest import conversation_id
from fakes.anthropic_api import Reply
from test_faults import database_down  # noqa: F401  (a fixture)


def test_cost_per_conversation_and_over_time(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    usage = {"input_tokens": 1000, "output_tokens": 412, "cache_read_input_tokens": 9800}
    fake_api.queue(Reply("a", cache_creation_input_tokens=190, **usage))
    first = cli("chat", input="one")
    cid = conversation_id(first.stderr)
    fake_api.queue(Reply("b", input_tokens=2000, output_tokens=100))
    assert cli("chat", "--model", "claude-opus-4-6", input="two").returncode == 0

    cost = json.loads(cli("show", cid, "--json").stdout)["cost"]
    # Sonnet: 1,000 x $3 + 190 x $3.75 + 9,800 x $0.30 + 412 x $15, per million
    assert cost["usd"] == 0.012833 and cost["saved_by_cache_usd"] == 0.02646
    assert (cost["input_tokens"], cost["cache_creation_tokens"]) == (1000, 190)

    # `list` carries each conversation's cost, in its JSON and as the last plain column.
    listed = {row["id"]: row["cost_usd"] for row in json.loads(cli("list", "--json").stdout)}
    assert listed[cid] == 0.012833 and sorted(listed.values()) == [0.0125, 0.012833]
    plain = {line.split("\t")[0]: line.split("\t")[-1] for line in cli("list").stdout.splitlines()}
    assert plain[cid[:8]] == "$0.0128"

    by_model = json.loads(cli("usage", "--by", "model", "--json").stdout)
    assert [(r["model"], r["input"], r["output"], r["cost"]) for r in by_model] == [
        ("claude-opus-4-6", 2000, 100, 0.0125),  # 2,000 x $5 + 100 x $25
        ("claude-sonnet-4-6", 1000, 412, 0.012833),
    ]
    # In any case, as -f JSON and --since 7D are taken: MODEL was refused.
    assert json.loads(cli("usage", "--by", "MODEL", "--json").stdout) == by_model
    assert cli("usage", "--by", "Model").stdout.startswith("claude-opus-4-6\t")
    by_day = cli("usage").stdout.splitlines()  # a pipe: plain tab-separated columns
    assert len(by_day) == 1 and by_day[0].split("\t")[1:6] == [
        "3000",
        "190",
        "9800",
        "512",
        "0.0253",
    ]
    assert cli("usage", "--since", "1h", "--by", "conversation").stdout.count("\n") == 2
    # One --since for list and usage: minutes, dates, and spans beyond the calendar.
    for since in ("90m", "2020-01-01", "99999999999d", "0001-01-01"):
        assert cli("usage", "--since", since).stdout == cli("usage").stdout, since
        assert cli("list", "--since", since).returncode == 0, since
    for bad in (("--since", "soon"), ("--by", "week")):
        result = cli("usage", *bad)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_usage_with_nothing_to_count_says_so_on_stderr(cli) -> None:  # type: ignore[no-untyped-def]
    """It printed nothing on either stream, where `list` and `search` say theirs."""
    empty = cli("usage")
    assert (empty.returncode, empty.stdout) == (0, "")
    assert empty.stderr == "no replies to count (--since 30d)\n"
    as_json = cli("usage", "--json", "--since", "2w")
    assert (as_json.returncode, as_json.stdout, as_json.stderr) == (0, "[]\n", "")


def test_usage_while_the_database_is_down_counts_the_copies_here_and_says_so(  # type: ignore[no-untyped-def]
    backend,
    database_down,  # noqa: F811  (the fixture imported above)
    cli,
    fake_api,
) -> None:
    """It printed the local copies' figures as the whole, with exit 0 and not a word."""
    assert cli("chat", input="one").returncode == 0
    with database_down():
        partial = cli("usage", "--by", "model", "--json")
    assert partial.returncode == 5, partial.stderr
    assert [row["model"] for row in json.loads(partial.stdout)] == ["claude-sonnet-4-6"]
    assert len(partial.stderr.strip().splitlines()) == 1 and "claudechat:" in partial.stderr


def test_in_a_terminal_usage_draws_bars_and_models_a_table(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(Reply("a", input_tokens=4000, output_tokens=10))
    assert cli("chat", "--name", "big", input="one").returncode == 0
    fake_api.queue(Reply("b", input_tokens=1000, output_tokens=10))
    assert cli("chat", "--name", "small", input="two").returncode == 0
    today = datetime.now(UTC).date().isoformat()
    for args, columns, expected in (
        (["usage", "--by", "conversation"], 160, ["big", "small", "█" * 30, "cost"]),
        (["models"], 160, ["claude-sonnet-4-6", "1,000,000", "adaptive,enabled", "price in"]),
        # Narrower: the row's name is never folded (a date read "2026 / -11- / 28"), and the
        # chart gives way before the figures do.
        (["usage"], 80, [today, "5,000"]),
        (["models"], 120, ["claude-sonnet-4-6", "claude-opus-4-6"]),
    ):
        output = run_in_a_terminal(["-m", "claudechat", *args], columns)
        for text in expected:
            assert text in output, output
        assert "\t" not in output


def run_in_a_terminal(argv: list[str], columns: int) -> str:
    """What `python ARGV` printed to a terminal this wide; it must succeed."""
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns)}
    child = pexpect.spawn(
        sys.executable, argv, env=env, encoding="utf-8", dimensions=(30, columns), timeout=30
    )
    output = child.read()
    child.close()
    assert child.exitstatus == 0, output
    return output  # type: ignore[no-any-return]


def in_a_terminal(*args: str, columns: int = 80) -> list[str]:
    """The lines `claudechat ARGS` printed to a terminal this wide, escapes taken out."""

    output = run_in_a_terminal(["-m", "claudechat", *args], columns)
    lines = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output).splitlines()
    assert all(len(line) <= columns for line in lines), output
    return lines


def test_an_80_column_table_keeps_each_row_on_one_line_and_numbers_whole(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """`usage --by model` split 4,435,819 over two lines ("4,435,8" then "19")."""
    big = {"input_tokens": 4_435_819, "output_tokens": 123_456}
    fake_api.queue(Reply("a", cache_read_input_tokens=12_345_678, **big))
    long_name = "a conversation with a long name that no eighty-column table has room for"
    assert cli("chat", "--name", long_name, input="one").returncode == 0
    fake_api.queue(Reply("b", cache_creation_input_tokens=2_500_000, **big))
    assert cli("chat", "--model", "claude-opus-4-6", input="two").returncode == 0
    for by, names in (("model", ["claude-sonnet-4-6", "claude-opus-4-6"]), ("conversation", [])):
        lines = in_a_terminal("usage", "--by", by)
        rows = [line for line in lines if "4,435,819" in line]
        assert len(rows) == 2, "\n".join(lines)
        for name in names:
            assert any(name in row for row in rows), "\n".join(lines)
        assert all("123,456" in row for row in rows), "\n".join(lines)
        assert any("12,345,678" in row for row in rows), "\n".join(lines)
        assert any("2,500,000" in row for row in rows), "\n".join(lines)
    (named,) = [line for line in lines if "12,345,678" in line]
    assert "a conv" in named and "…" in named and long_name not in named, "\n".join(lines)


def test_figures_stay_whole_beside_long_model_ids_in_80_columns() -> None:
    """Dated model ids left the figures no room: rich cut every column, "1,234,5…" and
    "10.…" for a cost, and the model ids too."""

    script = (
        "from claudechat.tables import print_rows\n"
        "row = dict(model='claude-3-5-sonnet-20240620', input=4435819, output=1234567,\n"
        "           cache_read=1123456789, cache_write=234567, cost=12.35)\n"
        "print_rows([row, {**row, 'model': 'claude-3-5-sonnet-20241022', 'cost': 10.5}],\n"
        "           False, 'spend by model', bar='cost', names={'model'})\n"
    )
    output = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", run_in_a_terminal(["-c", script], 80))
    # (With a `requests` column of 1,050 too, these fitted only with "requests" split "reque"
    # over "sts"; they are now shown as blocks, as at 60 columns below.)
    for figure in ("4,435,819", "1,234,567", "1,123,456,789", "234,567", "12.35", "10.5"):
        assert figure in output, output
    rows = [line for line in output.splitlines() if "4,435,819" in line]
    # Cut in the middle, the two dated ids are still told apart (an ellipsis at the end
    # made both "claude-3-5-son…").
    assert len(rows) == 2 and "20240620" in rows[0] and "20241022" in rows[1], output
    # Narrower still, a table would split figures ("1,000,00" over "0") and headings letter
    # by letter: one block a row instead.
    narrow = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", run_in_a_terminal(["-c", script], 60))
    lines = [line.strip() for line in narrow.splitlines()]
    assert "claude-3-5-sonnet-20240620" in lines and "claude-3-5-sonnet-20241022" in lines
    assert lines.count("cache read   1,123,456,789") == 2 and lines.count("cost         10.50") == 1


# -- the cost a save writes into the row ------------------------------------------------------

_counts = st.integers(0, 10**7)
_replies = st.lists(
    st.tuples(
        st.sampled_from(["user", "assistant"]),
        st.sampled_from(
            [None, "claude-sonnet-4-6", "claude-opus-4-6", "us.anthropic.claude-haiku-4-5", "x"]
        ),
        st.none() | st.builds(Usage, _counts, _counts, _counts, _counts),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(_replies)
def test_the_rows_cost_is_the_spends_cost_or_unknown_when_a_reply_is_unpriced(replies) -> None:  # type: ignore[no-untyped-def]
    messages = [
        Message.of_text(role, "t", model=model, usage=usage) for role, model, usage in replies
    ]
    table = price_table()
    spend = conversation_spend(messages, table)
    total = conversation_cost(messages, table)
    if spend.unpriced:
        assert total is None
    else:
        assert total == spend.cost


def test_a_fork_is_not_paid_for_twice_and_names_do_not_merge(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """A fork copies its parent's replies (ids and usage); same-named conversations are two."""
    from claudechat.settings import load_settings
    from claudechat.storage import open_store
    from claudechat.storage.forks import fork

    fake_api.queue(Reply("a", input_tokens=1000, output_tokens=100))
    parent = conversation_id(cli("chat", input="one").stderr)
    fake_api.queue(Reply("b", input_tokens=2000, output_tokens=200))
    other = conversation_id(cli("chat", input="two").stderr)
    for conversation in (parent, other):
        assert cli("rename", conversation, "Notes").returncode == 0
    store = open_store(load_settings())
    forked = fork(store, store.load("tester", parent))
    assert cli("rename", parent, "Notes").returncode == 0  # the parent updated after its fork

    by_conversation = json.loads(cli("usage", "--by", "conversation", "--json").stdout)
    rows = {r["conversation"]: (r["name"], r["input"], r["output"]) for r in by_conversation}
    assert rows == {parent: ("Notes", 1000, 100), other: ("Notes", 2000, 200)}
    assert forked.id not in rows
    (day,) = json.loads(cli("usage", "--json").stdout)
    assert (day["input"], day["output"]) == (3000, 300)
    # `list` agrees: the fork has cost nothing of its own yet (its copied reply was counted).
    listed = {row["id"]: row["cost_usd"] for row in json.loads(cli("list", "--json").stdout)}
    assert listed[forked.id] == 0 and listed[parent] == 0.0045  # 1,000 x $3 + 100 x $15


def test_usage_by_conversation_names_an_unnamed_one_as_list_does(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """Its name was blank, where list shows the first words of its first message."""
    assert cli("chat", input="how do tides work").returncode == 0
    [row] = json.loads(cli("usage", "--by", "conversation", "--json").stdout)
    [listed] = json.loads(cli("list", "--json").stdout)
    assert row["title"] == listed["title"] == "how do tides work"
    assert row["name"] is listed["name"] is None  # unnamed, as list says
    table = in_a_terminal("usage", "--by", "conversation")
    assert any("how do tides work" in line for line in table), "\n".join(table)


def test_a_name_cut_in_its_middle_fits_its_cells() -> None:
    """Cut by characters, a name of wide (CJK) characters came out half as wide again."""
    from rich.cells import cell_len

    from claudechat.tables import middle_cut

    for text in ("東京" * 13, "claude-3-5-sonnet-20241022", "a東b京c" * 9):
        cut = middle_cut(text, 20)
        assert cell_len(cut) <= 20 and "…" in cut, cut
    assert middle_cut("claude-3-5-sonnet-20241022", 20).endswith("20241022")


def test_records_print_every_field_and_a_table_of_one_column() -> None:
    import io

    from rich.console import Console

    from claudechat.tables import print_records

    out = Console(file=io.StringIO(), width=40)
    print_records(out, "ids", ["id"], [["4d9d0a8f"]])  # no field beside the row's name
    print_records(out, "spend", ["model", "cost"], [["m1", "1.50"], ["m2", "2.00"]])
    assert out.file.getvalue().splitlines() == [
        "ids", "4d9d0a8f", "spend", "m1", "  cost  1.50", "m2", "  cost  2.00"
    ]  # fmt: skip


def test_usage_shows_an_unpriced_models_cost_as_unknown_as_list_does(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """Replies of a model with no price counted $0.0000 ("cost": 0.0), while list showed `?`."""
    fake_api.queue(Reply("a", input_tokens=1000, output_tokens=100))
    assert cli("chat", input="priced").returncode == 0
    fake_api.queue(Reply("b", input_tokens=5000, output_tokens=500))
    assert cli("chat", "--model", "claude-future-1", input="unpriced").returncode == 0
    by_model = json.loads(cli("usage", "--by", "model", "--json").stdout)
    assert [(r["model"], r["cost"], r["saved_by_cache"], r["unpriced"]) for r in by_model] == [
        ("claude-future-1", None, None, 1),
        ("claude-sonnet-4-6", 0.0045, 0.0, 0),  # 1,000 x $3 + 100 x $15 per million
    ]
    [day] = json.loads(cli("usage", "--json").stdout)
    assert (day["cost"], day["unpriced"]) == (None, 1)  # a sum missing a part is unknown
    assert cli("usage").stdout.split("\t")[5] == "?"
    listed = cli("list").stdout.splitlines()
    assert next(line for line in listed if "claude-future-1" in line).endswith("\t?")
    table = in_a_terminal("usage", "--by", "model", columns=120)
    future = next(line for line in table if line.startswith("claude-future-1"))
    assert "?" in future and "0.0000" not in future


def test_a_heading_is_never_split_inside_a_word() -> None:
    """`models` at 70 columns: "disp" over "lay", "thin" over "king", "effor" over "t"."""
    script = (
        "from claudechat.tables import print_rows\n"
        "row = dict(id='claude-sonnet-4-6', display_name='Claude Sonnet 4.6',\n"
        "           context_window=1000000, output_limit=64000, thinking=['adaptive', 'enabled'],\n"
        "           effort=['low', 'medium', 'high', 'max'], price_in=3.0, price_out=15.0)\n"
        "print_rows([row, {**row, 'id': 'claude-opus-4-6'}], False, 'models',\n"
        "           names={'display_name'})\n"
    )
    output = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", run_in_a_terminal(["-c", script], 70))
    words = {word for line in output.splitlines() for word in line.split()}
    assert {"display", "thinking", "effort"} <= words, output
    assert not words & {"disp", "lay", "thin", "king", "effor"}, output


def test_narrow_tables_keep_ids_costs_and_headings_whole(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """`usage --by conversation` at 60 columns split its headings letter by letter ("inp" over
    "ut") and cut names to "a c…"; `list` at 40 left out the names, cut ids to 6 characters
    and showed every cost as "$0.00…"."""
    from claudechat.settings import load_settings
    from claudechat.storage import open_store
    from claudechat.storage.forks import fork

    fake_api.queue(Reply("a", input_tokens=1000, output_tokens=100))
    parent = conversation_id(cli("chat", "--name", "tides talk", input="one").stderr)
    store = open_store(load_settings())
    forked = fork(store, store.load("tester", parent)).id
    fake_api.queue(Reply("b", input_tokens=2000, output_tokens=200))
    assert cli("chat", "-c", forked, input="two").returncode == 0
    checks = (
        (["usage", "--by", "conversation"], 60, ["0.0045", "0.0090"], "input output cost"),
        (["list"], 40, ["$0.0045", "$0.0090"], "Name Msgs Cost Updated Forked from"),
        (["list"], 60, ["$0.0045", "$0.0090"], "Name Msgs Cost Updated Forked from"),
    )
    for args, columns, costs, headings in checks:
        lines = in_a_terminal(*args, columns=columns)
        words = {word for line in lines for word in line.split()}
        shown = "\n".join(lines)
        assert {parent[:8], forked[:8], *costs, *headings.split()} <= words, shown
        assert "tides talk" in shown, shown
        for heading in [*headings.split(), "cache", "writes", "reads", "saved"]:
            fragments = {w for w in words if w != heading and heading.startswith(w)}
            fragments |= {w for w in words if w != heading and heading.endswith(w)}
            assert not fragments, shown


def test_models_keeps_each_models_thinking_and_effort_whole(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """At 80 columns `models` showed "adaptiv…  low,med…", at 100 "low,medium,hig…": whether
    a model offers `max` effort, which is what the command is for, could not be told."""
    listed = json.loads(cli("models", "--json").stdout)
    for columns in (80, 100):
        lines = in_a_terminal("models", columns=columns)
        # Whole, or wrapped between two items (at 100 columns, for the names' room).
        items = {item for line in lines for word in line.split() for item in word.split(",")}
        assert "…" not in "".join(lines), "\n".join(lines)
        for model in listed:
            for field in ("thinking", "effort"):
                assert set(model[field]) <= items, "\n".join(lines)


def test_models_at_100_columns_shows_display_names_whole(fake_api) -> None:  # type: ignore[no-untyped-def]
    """The names were cut to "Claude …" while thinking and effort, kept whole, took their
    room on one line each: the lists now wrap between their items first."""
    lines = in_a_terminal("models", columns=100)
    text = "\n".join(lines)
    for name in ("Claude Opus 4.6", "Claude Sonnet 4.6", "Claude Haiku 4.5"):
        assert any(name in line for line in lines), text
    # A table (a row holds its id and its name), not a block a row.
    assert any("claude-opus-4-6" in line and "Claude Opus 4.6" in line for line in lines), text
    # The lists wrap between two of their items, never inside one.
    assert "…" not in text and "adaptive," in text, text


def test_usage_by_day_groups_by_the_local_date_as_since_and_show_do(cli) -> None:  # type: ignore[no-untyped-def]
    """In Auckland a reply of 22:04 UTC on 2026-11-28 (11:04 on the 29th there) was listed
    under 2026-11-28, even with `--since 2026-11-29`, which counts from local midnight."""
    from conftest import save_conversation

    at = datetime(2026, 11, 28, 22, 4, tzinfo=UTC)
    conversation = Conversation.new("tester", "claude-sonnet-4-6", created_at=at, updated_at=at)
    conversation.append("user", "late", created_at=at)
    usage = Usage(input_tokens=1000, output_tokens=100)
    conversation.append("assistant", "yes", model="claude-sonnet-4-6", usage=usage, created_at=at)
    save_conversation(conversation)
    for zone, since, day in (
        ("Pacific/Auckland", "2026-11-29", "2026-11-29"),
        ("UTC", "2026-11-28", "2026-11-28"),
    ):
        shown = cli("show", conversation.id, env={"TZ": zone}).stdout
        assert f"Claude · {day} " in shown, shown
        rows = json.loads(cli("usage", "--since", since, "--json", env={"TZ": zone}).stdout)
        assert [(r["day"], r["input"]) for r in rows] == [(day, 1000)], zone
