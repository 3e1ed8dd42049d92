"""The S3 store takes the aws_profile setting, as Bedrock does: it took AWS_PROFILE's (or the
default) credentials, so a profile named in claudechat's config file reached Bedrock alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import conversation_id
from s3_server import TEST_ACCESS_KEY, TEST_REGION, TEST_SECRET_KEY


@pytest.fixture
def profile_only(team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The moto credentials in an AWS profile `chats` alone: none in the environment, and no
    default profile."""
    credentials = tmp_path / "aws-credentials"
    credentials.write_text(
        f"[chats]\naws_access_key_id = {TEST_ACCESS_KEY}\n"
        f"aws_secret_access_key = {TEST_SECRET_KEY}\n"
    )
    config = tmp_path / "aws-config"
    config.write_text(f"[profile chats]\nregion = {TEST_REGION}\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    return team


@pytest.mark.parametrize("where", ["config file", "environment"])
def test_s3_uses_the_aws_profile_setting(  # type: ignore[no-untyped-def]
    cli, profile_only, fake_api, isolated_home, monkeypatch, where
) -> None:
    if where == "config file":
        (isolated_home / "config.toml").write_text('aws_profile = "chats"\n')
    else:
        monkeypatch.setenv("CLAUDECHAT_AWS_PROFILE", "chats")
    result = cli("chat", input="hello")
    assert result.returncode == 0, result.stderr
    assert "saved locally" not in result.stderr
    shown = cli("show", conversation_id(result.stderr))
    assert shown.returncode == 0, shown.stderr
    assert "echo: hello" in shown.stdout


def test_a_missing_aws_profile_for_s3_is_one_line(  # type: ignore[no-untyped-def]
    cli, profile_only, isolated_home
) -> None:
    (isolated_home / "config.toml").write_text('aws_profile = "nosuch"\n')
    result = cli("list")
    assert result.returncode == 2, result.stderr
    assert "cannot set up the S3 client: The config profile (nosuch)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
