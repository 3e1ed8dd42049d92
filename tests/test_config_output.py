"""`claudechat config` prints the settings as TOML a config file can take back."""

from __future__ import annotations

import datetime
import tomllib

CONFIG = """\
model = "claude-opus-4-6"
auto_migrate = false
thinking = true
max_context_tokens = 120000
store_timeout = 0.5
storage_url = "file:///tmp/with \\"quotes\\" and \\\\ back\\tslash"

[prices."claude-x"]
input = 1
output = 2.5

[bedrock_models."claude-y"]
id = "anthropic.claude-y"
created_at = 2026-01-01
thinking = ["adaptive", "enabled"]
image_input = true
"""


def test_config_prints_values_as_toml_the_config_file_takes_back(cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    """It printed Python's repr (auto_migrate = True, 'text'): pasted into config.toml, that
    was "not valid TOML: Invalid value"."""
    (isolated_home / "config.toml").write_text(CONFIG)
    url = "postgresql://chat:hunter2@db.internal/chats"
    result = cli("config", env={"CLAUDECHAT_DATABASE_URL": url, "CLAUDECHAT_EFFORT": "high"})
    assert result.returncode == 0, result.stderr
    # What is not set is a comment: the whole output parses (it had to be left out by hand).
    assert "\n# s3_sse = (not set)  # default\n" in result.stdout
    taken = tomllib.loads(result.stdout)
    assert "s3_sse" not in taken and "aws_region" not in taken
    expected = tomllib.loads(CONFIG)
    for name in ("model", "auto_migrate", "thinking", "max_context_tokens"):
        assert taken[name] == expected[name], name
    assert taken["store_timeout"] == 0.5 and taken["storage_url"] == expected["storage_url"]
    assert taken["prices"] == {"claude-x": {"input": 1, "output": 2.5}}
    assert taken["bedrock_models"]["claude-y"]["created_at"] == datetime.date(2026, 1, 1)
    assert taken["bedrock_models"] == expected["bedrock_models"]
    assert taken["database_url"] == "postgresql://chat:***@db.internal/chats"  # still masked
    assert taken["effort"] == "high" and taken["stream_idle_timeout"] == 60.0
    assert "auto_migrate = false  # config file" in result.stdout


def test_config_escapes_what_a_terminal_would_act_on(cli) -> None:  # type: ignore[no-untyped-def]
    model = "claude\x1b[2Jx\x9b\u202e"
    result = cli("config", env={"CLAUDECHAT_MODEL": model})
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("model = "))
    assert line == 'model = "claude\\u001B[2Jx\\u009B\\u202E"  # environment CLAUDECHAT_MODEL'
    assert tomllib.loads(line)["model"] == model


def test_config_shows_a_config_file_named_with_controls_as_one_safe_line(  # type: ignore[no-untyped-def]
    cli, tmp_path
) -> None:
    """The header and the sources printed CLAUDECHAT_CONFIG's path raw: a line break in it
    made a line of its own (no TOML), and an escape was obeyed by the terminal."""
    folder = tmp_path / "team\nmodel = 1\x1b[2J\u202e"
    folder.mkdir()
    path = folder / "config.toml"
    path.write_text("auto_migrate = false\n")
    result = cli("config", env={"CLAUDECHAT_CONFIG": str(path)})
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
    lines = result.stdout.splitlines()
    shown = f"{tmp_path}/team model = 1^[[2J<U+202E>/config.toml"
    assert lines[0] == f"# config file: {shown}"
    assert f"auto_migrate = false  # config file {shown}" in lines
    taken = tomllib.loads(result.stdout)  # a line break in the path left a line of no TOML
    assert taken["auto_migrate"] is False and taken["model"] != 1


def test_config_shows_the_aws_profile_in_use_and_where_it_came_from(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """With AWS_PROFILE set it said `aws_profile = (not set)  # default`, while the region row
    named that profile as where the region came from."""
    aws_config = tmp_path / "aws-config"
    aws_config.write_text("[profile p1]\nregion = eu-west-1\n[profile p2]\nregion = eu-west-2\n")
    bedrock = {"CLAUDECHAT_PROVIDER": "bedrock", "AWS_CONFIG_FILE": str(aws_config)}

    def rows(**env: str) -> dict[str, str]:
        result = cli("config", env={**bedrock, **env})
        assert result.returncode == 0, result.stderr
        return dict(line.split(" = ", 1) for line in result.stdout.splitlines()[1:])

    from_profile = rows(AWS_PROFILE="p1")
    assert from_profile["aws_profile"] == '"p1"  # environment AWS_PROFILE'
    assert from_profile["aws_region"] == "\"eu-west-1\"  # AWS profile 'p1'"
    # botocore takes the older variable first; the setting, over both.
    older = rows(AWS_PROFILE="p1", AWS_DEFAULT_PROFILE="p2")
    assert older["aws_profile"] == '"p2"  # environment AWS_DEFAULT_PROFILE'
    assert older["aws_region"] == "\"eu-west-2\"  # AWS profile 'p2'"
    chosen = rows(AWS_PROFILE="p1", CLAUDECHAT_AWS_PROFILE="p2")
    assert chosen["aws_profile"] == '"p2"  # environment CLAUDECHAT_AWS_PROFILE'
    assert rows()["# aws_profile"] == "(not set)  # default"
