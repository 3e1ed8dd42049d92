"""Bedrock settings from the config file: a catalogue entry's own id, the region."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "model_id",
    [
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc",
        "us.anthropic.claude-custom-v1",
        "global.anthropic.claude-x",
    ],
)
def test_a_config_entrys_full_id_or_arn_is_used_as_given(  # type: ignore[no-untyped-def]
    cli, bedrock, isolated_home, model_id
) -> None:
    """It got the region's prefix as well: us.arn:aws:..., us.us.anthropic..., which Bedrock
    does not know, while the same id given to --model was sent right."""
    (isolated_home / "config.toml").write_text(f'[bedrock_models."my-model"]\nid = "{model_id}"\n')
    result = cli("chat", "--model", "my-model", input="hi")
    assert result.returncode == 0, result.stderr
    assert bedrock.requests[-1].body["model"] == model_id  # the path, unquoted


@pytest.mark.parametrize("where", ["config file", "environment"])
def test_an_empty_aws_region_is_not_set(cli, bedrock, isolated_home, monkeypatch, where) -> None:  # type: ignore[no-untyped-def]
    """`config` showed AWS_REGION's region for it while requests were signed for an empty one
    (a credential scope of //bedrock/; the real SDK built an invalid host)."""
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    if where == "config file":
        (isolated_home / "config.toml").write_text('aws_region = ""\n')
    else:
        monkeypatch.setenv("CLAUDECHAT_AWS_REGION", " ")
    shown = cli("config")
    assert shown.returncode == 0, shown.stderr
    assert '"eu-west-1"' in shown.stdout and "environment AWS_REGION" in shown.stdout

    result = cli("chat", "--model", "claude-sonnet-4-6", input="hi")
    assert result.returncode == 0, result.stderr
    request = bedrock.requests[-1]
    assert "/eu-west-1/bedrock/aws4_request" in request.headers["authorization"]
    assert request.body["model"] == "eu.anthropic.claude-sonnet-4-6"


def test_a_blank_region_variable_is_not_set(cli, bedrock, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """AWS_REGION=" " was handed to the SDK, and requests signed for a region " " (the real
    SDK built an invalid host); `config` showed it as the region."""
    monkeypatch.setenv("AWS_REGION", " ")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    shown = cli("config")
    assert shown.returncode == 0, shown.stderr
    assert 'aws_region = "eu-west-1"  # environment AWS_DEFAULT_REGION' in shown.stdout

    result = cli("chat", "--model", "claude-sonnet-4-6", input="hi")
    assert result.returncode == 0, result.stderr
    request = bedrock.requests[-1]
    assert "/eu-west-1/bedrock/aws4_request" in request.headers["authorization"]
    assert request.body["model"] == "eu.anthropic.claude-sonnet-4-6"


def test_blank_region_variables_leave_the_aws_profiles_region(  # type: ignore[no-untyped-def]
    cli, bedrock, monkeypatch, tmp_path
) -> None:
    config = tmp_path / "aws-config"
    config.write_text("[default]\nregion = ap-southeast-2\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_REGION", " ")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "\t")
    shown = cli("config")
    assert shown.returncode == 0, shown.stderr
    assert """aws_region = "ap-southeast-2"  # AWS profile 'default'""" in shown.stdout

    result = cli("chat", "--model", "claude-sonnet-4-6", input="hi")
    assert result.returncode == 0, result.stderr
    request = bedrock.requests[-1]
    assert "/ap-southeast-2/bedrock/aws4_request" in request.headers["authorization"]
    assert request.body["model"] == "apac.anthropic.claude-sonnet-4-6"


def test_a_blank_region_variable_alone_is_no_region(cli, bedrock, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_REGION", " ")
    shown = cli("config")
    assert shown.returncode == 0, shown.stderr
    assert "# aws_region = (not set)  # default" in shown.stdout.splitlines()

    result = cli("chat", "--model", "claude-sonnet-4-6", input="hi")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        "claudechat: cannot set up Bedrock: no AWS region; set AWS_REGION, or aws_region in the "
        "config file"
    )
    assert not bedrock.requests
