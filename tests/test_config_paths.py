"""The config file CLAUDECHAT_CONFIG names: one that cannot be what the user meant is refused by
every command, before anything is sent or saved."""

from __future__ import annotations

import pytest

from test_setup_errors import COMMANDS, assert_one_line


@pytest.mark.parametrize("args", [*COMMANDS, ["chat"]], ids=lambda args: " ".join(args))
def test_a_named_config_file_that_is_missing_is_refused_by_every_command(  # type: ignore[no-untyped-def]
    cli, fake_api, isolated_home, args
) -> None:
    """It was a warning, and the program went on with the defaults: a typo'd path chatted into
    a local SQLite store, exit 0, and `sync` never pushed those turns."""
    missing = isolated_home / "team.tml"
    result = cli(*args, input="hello", env={"CLAUDECHAT_CONFIG": str(missing)})
    assert result.returncode == 2
    assert_one_line(result.stderr, f"CLAUDECHAT_CONFIG {missing} does not exist")
    assert result.stdout == ""
    assert fake_api.requests == []


def test_the_default_config_file_may_be_missing(cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    result = cli("config")
    assert result.returncode == 0 and result.stderr == ""


@pytest.mark.parametrize("args", [*COMMANDS, ["chat"]], ids=lambda args: " ".join(args))
def test_a_relative_config_file_is_refused_by_every_command(  # type: ignore[no-untyped-def]
    cli, fake_api, args
) -> None:
    """It was read from the current folder, so the settings changed with the folder claudechat
    ran from, while a relative CLAUDECHAT_HOME was refused."""
    result = cli(*args, input="hello", env={"CLAUDECHAT_CONFIG": "rel.toml"})
    assert result.returncode == 2
    assert_one_line(result.stderr, "CLAUDECHAT_CONFIG must be an absolute path, not 'rel.toml'")
    assert fake_api.requests == []


def test_a_misspelt_key_in_a_table_entry_is_warned_of_with_the_name_it_may_mean(  # type: ignore[no-untyped-def]
    cli, isolated_home
) -> None:
    """`cache_reed` in a price entry, `max_input_tokns` in a Bedrock one: ignored without a
    word, where a misspelt key outside the tables is warned of."""
    (isolated_home / "config.toml").write_text(
        '[prices."claude-x"]\ninput = 1\noutput = 2\ncache_reed = 0.1\nzzz = 1\n'
        "cache_write_5m = 1\ncache_write_1h = 2\ncache_read = 0.1\n"
        '[bedrock_models."claude-y"]\nid = "anthropic.claude-y"\nmax_input_tokns = 1000\n'
        'display_name = "Y"\ncreated_at = 2026-01-01\nmax_input_tokens = 1000\n'
        'max_tokens = 100\nthinking = ["enabled"]\neffort = ["low"]\nimage_input = true\n'
        "pdf_input = true\ncitations = false\n"
    )
    result = cli("config")
    assert result.returncode == 0, result.stderr
    said = result.stderr
    assert "unknown key 'cache_reed' in prices.'claude-x' ignored; did you mean cache_read?" in said
    assert "unknown key 'zzz' in prices.'claude-x' ignored\n" in said  # nothing close
    assert (
        "unknown key 'max_input_tokns' in bedrock_models.'claude-y' ignored; did you mean "
        "max_input_tokens?"
    ) in said
    assert said.count("unknown key") == 3  # the keys they take are not warned of


def test_config_shows_a_table_entry_without_the_keys_it_ignores(cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    """`bogus = 3` was warned of as ignored and shown by `config` as if in effect; an ignored
    key that was no number (`note = "x"`) refused the whole file as prices without numbers."""
    (isolated_home / "config.toml").write_text(
        '[prices."claude-x"]\ninput = 1\noutput = 2\nbogus = 3\nnote = "x"\n'
        '[bedrock_models."claude-y"]\nid = "anthropic.claude-y"\nbogus = 3\n'
    )
    result = cli("config")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("unknown key") == 3
    shown = result.stdout
    assert "prices = { claude-x = { input = 1, output = 2 } }" in shown
    assert 'bedrock_models = { claude-y = { id = "anthropic.claude-y" } }' in shown
    assert "bogus" not in shown and "note" not in shown


@pytest.mark.parametrize("variable", ["CLAUDECHAT_CONFIG", "CLAUDECHAT_HOME"])
def test_a_path_in_the_home_of_no_user_is_refused_in_one_line(cli, fake_api, variable) -> None:  # type: ignore[no-untyped-def]
    """~nosuchuser/...: Path.expanduser's RuntimeError ended every command in a traceback."""
    result = cli("list", env={variable: "~nosuchuser/claudechat"})
    assert result.returncode == 2
    assert_one_line(result.stderr, f"{variable} names the home of no user here")


def test_an_attachment_in_the_home_of_no_user_is_no_such_file(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    result = cli("chat", "-a", "~nosuchuser/x.txt", "read it")
    assert result.returncode == 2
    assert_one_line(result.stderr, "~nosuchuser/x.txt: no such file (no user 'nosuchuser' here)")
    assert fake_api.requests == []
