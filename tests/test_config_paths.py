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
