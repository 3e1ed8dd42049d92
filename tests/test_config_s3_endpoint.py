"""`config` shows where an S3 store's bucket lives: it showed storage_url alone, and an
AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL, or the AWS profile's endpoint_url) pointing elsewhere
went unseen."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

S3_STORE = {"CLAUDECHAT_STORAGE_URL": "s3://team-chats/claudechat"}


def endpoint_line(cli, **env: str) -> str:  # type: ignore[no-untyped-def]
    result = cli("config", env={**S3_STORE, **env})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("storage_url = "))
    return lines[at + 1]


@pytest.mark.parametrize("name", ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"])
def test_config_shows_the_s3_endpoint_and_its_variable(cli, name) -> None:  # type: ignore[no-untyped-def]
    line = endpoint_line(cli, **{name: "http://minio.internal:9000"})
    assert line == f'# S3 endpoint = "http://minio.internal:9000"  # environment {name}'


def test_the_s3_variable_wins_and_its_credentials_are_masked(cli) -> None:  # type: ignore[no-untyped-def]
    line = endpoint_line(
        cli,
        AWS_ENDPOINT_URL="http://other.internal",
        AWS_ENDPOINT_URL_S3="https://key:hunter2@minio.internal/\x1b[2J",
    )
    assert "hunter2" not in line and "\x1b" not in line
    assert line.startswith('# S3 endpoint = "https://key:***@minio.internal/\\u001B[2J"')
    assert line.endswith("# environment AWS_ENDPOINT_URL_S3")


def test_config_says_aws_own_endpoint_when_none_is_set(cli) -> None:  # type: ignore[no-untyped-def]
    assert endpoint_line(cli) == "# S3 endpoint = (AWS's own, for the region)  # default"


def test_no_endpoint_line_for_a_local_store(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("config", env={"AWS_ENDPOINT_URL_S3": "http://minio.internal:9000"})
    assert result.returncode == 0, result.stderr
    assert "S3 endpoint" not in result.stdout


def test_the_endpoint_line_is_a_toml_comment(cli) -> None:  # type: ignore[no-untyped-def]
    line = endpoint_line(cli, AWS_ENDPOINT_URL_S3="http://minio.internal:9000")
    assert tomllib.loads(line) == {}


def test_an_s3_stores_whole_config_parses_as_toml(cli) -> None:  # type: ignore[no-untyped-def]
    """Rows of keys not set (`s3_sse = (not set)`) were no TOML: they are comments now."""
    env = {**S3_STORE, "AWS_ENDPOINT_URL_S3": "http://minio.internal:9000"}
    result = cli("config", env=env)
    assert result.returncode == 0, result.stderr
    taken = tomllib.loads(result.stdout)
    assert taken["storage_url"] == S3_STORE["CLAUDECHAT_STORAGE_URL"]
    assert "s3_sse" not in taken


def aws_config(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "aws-config"
    path.write_text(text)
    return {"AWS_CONFIG_FILE": str(path)}


def test_config_shows_the_aws_profiles_endpoint(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """boto3 takes the profile's endpoint_url as it takes AWS_ENDPOINT_URL: `config` said
    "AWS's own" while the bucket was reached there."""
    env = aws_config(
        tmp_path, "[profile chats]\nendpoint_url = https://key:hunter2@minio.internal:9000\n"
    )
    line = endpoint_line(cli, **env, AWS_PROFILE="chats")
    assert line == "# S3 endpoint = \"https://key:***@minio.internal:9000\"  # AWS profile 'chats'"


def test_config_shows_the_s3_endpoint_of_the_profiles_services_section(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, isolated_home: Path
) -> None:
    env = aws_config(
        tmp_path,
        "[default]\nendpoint_url = http://elsewhere.internal\n"
        "[profile chats]\nservices = team\nendpoint_url = http://elsewhere.internal\n"
        "[services team]\ns3 =\n  endpoint_url = http://minio.internal:9000\n",
    )
    (isolated_home / "config.toml").write_text('aws_profile = "chats"\n')
    line = endpoint_line(cli, **env)
    assert line == (
        "# S3 endpoint = \"http://minio.internal:9000\"  # AWS profile 'chats', services "
        "section 'team'"
    )


def test_the_environments_endpoint_wins_over_the_profiles(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = aws_config(tmp_path, "[default]\nendpoint_url = http://elsewhere.internal\n")
    line = endpoint_line(cli, **env, AWS_ENDPOINT_URL="http://minio.internal:9000")
    assert line.endswith("# environment AWS_ENDPOINT_URL")


def test_a_missing_services_section_is_said_in_the_endpoint_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = aws_config(tmp_path, "[default]\nservices = nosuch\n")
    line = endpoint_line(cli, **env)
    assert line.startswith("# S3 endpoint = (unknown)  # the AWS config cannot be read: ")
    assert "nosuch" in line
