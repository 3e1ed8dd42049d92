"""Bedrock through the SDK's AnthropicBedrock client, against a fake event-stream runtime."""

from __future__ import annotations

import json

import pytest

from claudechat.claude_setup import bedrock_model_id
from fakes.anthropic_api import ErrorReply, Reply


def test_a_turn_through_bedrock_streams_and_records_usage(cli, bedrock) -> None:  # type: ignore[no-untyped-def]
    bedrock.queue(
        Reply("from bedrock", input_tokens=11, output_tokens=3, cache_read_input_tokens=7)
    )
    result = cli("chat", input="hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "from bedrock\n"
    request = bedrock.requests[-1]
    assert request.path == "/model/us.anthropic.claude-sonnet-4-6/invoke-with-response-stream"
    assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "x-amz-date" in request.headers
    assert "anthropic_version" in request.body
    # Caching as Bedrock documents it: a breakpoint on the newest content block.
    assert "cache_control" not in request.body
    assert request.body["messages"][-1]["content"] == [
        {"type": "text", "text": "hello", "cache_control": {"type": "ephemeral"}}
    ]
    # The secret never travels in clear.
    assert "wJalrXUtnFEMI" not in json.dumps(request.headers)

    conversation_id = result.stderr.split()[-1]
    document = json.loads(cli("show", conversation_id, "--json").stdout)
    usage = document["messages"][-1]["usage"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["cache_read_tokens"]) == (11, 3, 7)
    # The conversation records the short model name, not the region-specific profile.
    assert document["model"] == "claude-sonnet-4-6"


def test_any_model_id_is_used_as_given(cli, bedrock) -> None:  # type: ignore[no-untyped-def]
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.custom"
    assert cli("chat", "--model", arn, input="hi").returncode == 0
    assert bedrock.requests[-1].body["model"] == arn


@pytest.mark.parametrize(
    "profile", ["us.anthropic.claude-sonnet-4-6", "global.anthropic.claude-sonnet-4-6"]
)
def test_a_full_inference_profile_id_is_the_catalogues_model(cli, bedrock, profile) -> None:  # type: ignore[no-untyped-def]
    """It was "not described by the Bedrock catalogue": conservative limits, no effort."""
    result = cli("chat", "--model", profile, "--effort", "high", input="hi")
    assert result.returncode == 0, result.stderr
    assert "not described" not in result.stderr and "no effort" not in result.stderr
    request = bedrock.requests[-1]
    assert request.path == f"/model/{profile}/invoke-with-response-stream"  # as given
    assert request.body["max_tokens"] == 64_000
    assert request.body["output_config"] == {"effort": "high"}


def test_short_names_map_to_the_regions_inference_profile() -> None:
    assert bedrock_model_id("claude-sonnet-4-6", "eu-central-1") == "eu.anthropic.claude-sonnet-4-6"
    assert bedrock_model_id("claude-haiku-4-5", "ap-northeast-1").startswith("apac.anthropic.")
    assert bedrock_model_id("claude-opus-4-6", None) == "us.anthropic.claude-opus-4-6-v1"
    assert (
        bedrock_model_id("claude-sonnet-4-6", "us-gov-west-1")
        == "us-gov.anthropic.claude-sonnet-4-6"
    )
    assert bedrock_model_id("claude-sonnet-4-6", "ca-central-1") == "us.anthropic.claude-sonnet-4-6"
    # A region of no geography took the US profiles, which Bedrock refuses there.
    for region in ("af-south-1", "sa-east-1", "me-central-1"):
        assert bedrock_model_id("claude-sonnet-4-6", region) == "global.anthropic.claude-sonnet-4-6"
    assert (
        bedrock_model_id("us.anthropic.claude-x-v9:0", "eu-west-1") == "us.anthropic.claude-x-v9:0"
    )


def test_a_region_set_in_the_aws_profile_alone_picks_its_inference_profile(  # type: ignore[no-untyped-def]
    cli, bedrock, monkeypatch, tmp_path
) -> None:
    """The model id took its geography from the config file and the environment only: a
    region in ~/.aws/config alone (eu-west-1) got the us. inference profile."""
    config = tmp_path / "aws-config"
    config.write_text("[default]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    result = cli("chat", "--model", "claude-sonnet-4-6", input="hi")
    assert result.returncode == 0, result.stderr
    assert bedrock.requests[-1].body["model"] == "eu.anthropic.claude-sonnet-4-6"


def test_cut_off_and_errors_behave_as_on_the_api(cli, bedrock) -> None:  # type: ignore[no-untyped-def]
    bedrock.queue(Reply(chunks=["some ", "text ", "more"], cut_after=2))
    cut = cli("chat", input="q")
    assert cut.returncode == 4 and "cut off" in cut.stderr
    assert cut.stdout.startswith("some text")

    throttled = ErrorReply(429, "ThrottlingException", "Too many requests", {"retry-after-ms": "1"})
    bedrock.queue(throttled, throttled, throttled)
    limited = cli("chat", input="q")
    assert limited.returncode == 3
    assert "Bedrock is rate limiting" in limited.stderr

    bedrock.queue(Reply(chunks=["a ", "b"], cut_after=1, error_event=("overloaded_error", "busy")))
    mid = cli("chat", input="q")
    assert mid.returncode == 4 and "mid-reply" in mid.stderr  # cut off after text: kept


def test_a_web_page_in_place_of_the_event_stream_is_named_and_not_asked_again(cli, bedrock) -> None:  # type: ignore[no-untyped-def]
    """A proxy's login page at the Bedrock address was asked three times, then read as "the
    reply was cut off: the stream could not be read (Checksum mismatch ...)"."""
    bedrock.queue(Reply(html_page=True), Reply(html_page=True), Reply(html_page=True))
    result = cli("chat", input="stream please")
    assert result.returncode == 3, result.stderr
    assert f"the server at {bedrock.base_url} did not stream the reply" in result.stderr
    assert "(it answered with text/html, not a stream of events" in result.stderr
    assert "cut off" not in result.stderr and "Checksum" not in result.stderr
    assert len(bedrock.requests) == 1


def test_a_bedrock_api_key_needs_no_aws_credentials(cli, bedrock, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The SDK sends AWS_BEARER_TOKEN_BEDROCK as a bearer token; the check at start asked
    for AWS credentials all the same."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", bedrock.api_key)
    result = cli("chat", input="hello")
    assert result.returncode == 0, result.stderr
    assert bedrock.requests[-1].headers["authorization"] == f"Bearer {bedrock.api_key}"


@pytest.mark.parametrize(
    ("unset", "extra", "said"),
    [
        (("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), {}, "no AWS credentials for Bedrock"),
        (("AWS_REGION",), {}, "cannot set up Bedrock: no AWS region"),
        ((), {"AWS_PROFILE": "nosuch"}, "cannot set up Bedrock: The config profile (nosuch)"),
    ],
    ids=["no-credentials", "no-region", "unknown-profile"],
)
def test_a_bedrock_setup_that_cannot_work_is_one_line_before_anything_is_saved(  # type: ignore[no-untyped-def]
    cli, bedrock, fake_api, monkeypatch, unset, extra, said
) -> None:
    """It was found at the first request, after the message was saved: a conversation with
    no reply per try, and the REPL started as if all was well."""
    for name in unset:
        monkeypatch.delenv(name)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    result = cli("chat", input="hello", env=extra)
    assert result.returncode == 2, result.stderr
    assert said in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert fake_api.requests == [] and cli("list").stdout == ""


def test_a_model_the_account_has_not_enabled_is_not_taken_for_an_unknown_one(cli, bedrock) -> None:  # type: ignore[no-untyped-def]
    """Bedrock's 404 for a model the account has no access to sent the conversation back to
    the model of its last reply, as a typo would, and never said what to do."""
    first = cli("chat", input="hello")
    assert first.returncode == 0, first.stderr
    bedrock.queue(
        ErrorReply(404, "ResourceNotFoundException",
                   "Model use case details have not been submitted for this account.")
    )  # fmt: skip
    refused = cli("chat", "--continue", "--model", "claude-opus-4-6", input="again")
    assert refused.returncode == 3
    assert "has not enabled model 'claude-opus-4-6' for this account" in refused.stderr
    assert "request access to it in the Bedrock console" in refused.stderr
    assert "does not know" not in refused.stderr and "goes back" not in refused.stderr
    assert "did you mean" not in refused.stderr
    again = cli("chat", "--continue", input="once access is granted")
    assert again.returncode == 0, again.stderr
    assert bedrock.requests[-1].body["model"] == "us.anthropic.claude-opus-4-6-v1"


def test_a_model_the_account_was_not_granted_is_said_to_need_access(cli, bedrock) -> None:  # type: ignore[no-untyped-def]
    """Bedrock's 403 for a model not granted read "Bedrock refused access to model ...",
    with no word of the console's Model access page."""
    bedrock.queue(
        ErrorReply(403, "AccessDeniedException",
                   "You don't have access to the model with the specified model ID.")
    )  # fmt: skip
    refused = cli("chat", "--model", "claude-opus-4-6", input="hello")
    assert refused.returncode == 3, refused.stderr
    assert "has not enabled model 'claude-opus-4-6' for this account (403)" in refused.stderr
    assert "request access to it in the Bedrock console" in refused.stderr
    assert "AWS credentials" not in refused.stderr
    assert len(bedrock.requests) == 1  # not retried


def test_a_model_id_bedrock_finds_invalid_is_not_kept(cli, bedrock) -> None:  # type: ignore[no-untyped-def]
    """Bedrock answers a typo with 400 "The provided model identifier is invalid.": it read
    as a rejected request and the model was kept, so every later turn failed too."""
    assert cli("chat", input="hello").returncode == 0
    bedrock.queue(
        ErrorReply(400, "ValidationException", "The provided model identifier is invalid.")
    )
    typo = cli("chat", "--continue", "--model", "claude-sonet-4-6", input="again")
    assert typo.returncode == 3
    assert "does not know model 'claude-sonet-4-6' (400)" in typo.stderr, typo.stderr
    assert "did you mean claude-sonnet-4-6?" in typo.stderr
    assert "goes back to claude-sonnet-4-6, the model of its last reply" in typo.stderr
    again = cli("chat", "--continue", input="once more")
    assert again.returncode == 0, again.stderr
    assert bedrock.requests[-1].body["model"] == "us.anthropic.claude-sonnet-4-6"


@pytest.mark.parametrize(
    ("kind", "message", "said"),
    [
        ("ExpiredTokenException", "The security token included in the request is expired",
         "they have expired"),
        ("UnrecognizedClientException", "The security token included in the request is invalid.",
         "they are not valid"),
    ],
    ids=["expired", "invalid"],
)  # fmt: skip
def test_credentials_bedrock_refuses_are_named_as_such(cli, bedrock, kind, message, said) -> None:  # type: ignore[no-untyped-def]
    """They read "Bedrock refused access to model ..." (exit 3), as if the model were not
    granted, when the AWS credentials needed refreshing."""
    bedrock.queue(ErrorReply(403, kind, message))
    result = cli("chat", input="hello")
    assert result.returncode == 2, result.stderr  # as missing credentials are
    lines = [line for line in result.stderr.splitlines() if line.startswith("claudechat:")]
    assert len(lines) == 1, result.stderr
    stated = message.removesuffix(".")  # its full stop left out: the line goes on
    assert f"Bedrock refused the AWS credentials: {said} (403 {kind}: {stated})" in lines[0]
    assert "aws sso login" in lines[0] and "access to model" not in lines[0]
    assert len(bedrock.requests) == 1  # not retried
