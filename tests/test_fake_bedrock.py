"""The fake Bedrock runtime, checked against the real SDK's AnthropicBedrock client: AWS
event-stream frames, SigV4, the same cuts and errors as the Messages API (the suite's fake_api:
conftest.py)."""

from __future__ import annotations

import json

import anthropic
import httpx2
import pytest

from fakes.anthropic_api import ErrorReply, FakeAnthropic, Reply
from fakes.bedrock_runtime import BEDROCK_API_VERSION
from test_fake_anthropic import HI, post
from test_fake_anthropic import stream as sdk_stream

BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-6"
# What InvokeModel takes for the ARN-versioned models (claude.py sends it): the SDK's own API
# version, its default, is refused there, as Anthropic's Bedrock page warns.
LEGACY = {"anthropic_version": BEDROCK_API_VERSION}


def stream(client: anthropic.AnthropicBedrock, messages: list = HI, model: str = BEDROCK_MODEL):  # type: ignore[no-untyped-def, type-arg]
    return sdk_stream(client, messages, model=model, extra_body=LEGACY)


@pytest.fixture
def bedrock(fake_api: FakeAnthropic) -> anthropic.AnthropicBedrock:
    return anthropic.AnthropicBedrock(
        aws_access_key="AKIDEXAMPLE",
        aws_secret_key="secret",
        aws_region="us-east-1",
        base_url=fake_api.base_url,
        max_retries=0,
    )


def test_bedrock_stream_through_event_stream_frames(
    fake_api: FakeAnthropic, bedrock: anthropic.AnthropicBedrock
):
    fake_api.queue(Reply("Hello from Bedrock", input_tokens=11, cache_creation_input_tokens=3))

    deltas, message = stream(bedrock, model=BEDROCK_MODEL)

    assert "".join(deltas) == "Hello from Bedrock"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 11
    assert message.usage.cache_creation_input_tokens == 3
    assert message.usage.output_tokens == len("Hello from Bedrock") // 4
    [request] = fake_api.requests
    assert request.path == f"/model/{BEDROCK_MODEL}/invoke-with-response-stream"
    assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-east-1/bedrock/aws4_request" in request.headers["authorization"]
    assert "x-amz-date" in request.headers
    assert request.body["anthropic_version"] == "bedrock-2023-05-31"
    assert request.body["model"] == BEDROCK_MODEL
    assert request.body["messages"] == HI


def test_bedrock_model_id_is_url_decoded(
    fake_api: FakeAnthropic, bedrock: anthropic.AnthropicBedrock
):
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-v1:0"

    deltas, message = stream(bedrock, model=arn)

    assert "".join(deltas) == "echo: Hi"
    assert message.model == arn
    assert fake_api.requests[0].body["model"] == arn


def test_bedrock_non_streaming(fake_api: FakeAnthropic, bedrock: anthropic.AnthropicBedrock):
    message = bedrock.messages.create(
        model=BEDROCK_MODEL, max_tokens=10, messages=HI, extra_body=LEGACY
    )

    assert message.content[0].text == "echo: Hi"
    assert fake_api.requests[0].path == f"/model/{BEDROCK_MODEL}/invoke"


def test_bedrock_cuts(fake_api: FakeAnthropic, bedrock: anthropic.AnthropicBedrock):
    fake_api.queue(
        Reply("a b c d", cut_after=2, cut_mode="close"),
        Reply("a b c d", cut_after=2, cut_mode="abort"),
    )

    deltas, message = stream(bedrock, model=BEDROCK_MODEL)
    assert (deltas, message.stop_reason) == (["a ", "b "], None)
    with pytest.raises(httpx2.RemoteProtocolError):
        stream(bedrock, model=BEDROCK_MODEL)


def test_bedrock_errors(fake_api: FakeAnthropic, bedrock: anthropic.AnthropicBedrock):
    fake_api.queue(
        Reply("a b", error_event=("rate_limit_error", "Too many tokens")),
        ErrorReply(429, "rate_limit_error", "Too many requests"),
        ErrorReply(503, "overloaded_error", "Busy"),
    )

    with pytest.raises(anthropic.APIStatusError) as info:
        stream(bedrock, model=BEDROCK_MODEL)
    assert info.value.body == {
        "type": "error",
        "error": {"type": "throttlingException", "message": "Too many tokens"},
    }
    with pytest.raises(anthropic.RateLimitError) as info:
        stream(bedrock, model=BEDROCK_MODEL)
    assert info.value.body == {"message": "Too many requests"}
    assert info.value.response.headers["x-amzn-errortype"] == "ThrottlingException"
    with pytest.raises(anthropic.ServiceUnavailableError):
        stream(bedrock, model=BEDROCK_MODEL)


def test_bedrock_validates_context(fake_api: FakeAnthropic, bedrock: anthropic.AnthropicBedrock):
    messages = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]

    with pytest.raises(anthropic.BadRequestError, match="alternate"):
        stream(bedrock, messages, model=BEDROCK_MODEL)


def test_bedrock_requires_sigv4(fake_api: FakeAnthropic):
    url = f"{fake_api.base_url}/model/{BEDROCK_MODEL}/invoke-with-response-stream"
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "messages": HI}

    status, headers, raw = post(url, body, {"content-type": "application/json"})

    assert status == 403
    assert json.loads(raw) == {"message": "Missing Authentication Token"}
    assert headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    unsigned = anthropic.AnthropicBedrock(
        api_key="wrong", aws_region="us-east-1", base_url=fake_api.base_url, max_retries=0
    )
    with pytest.raises(anthropic.PermissionDeniedError):
        stream(unsigned, model=BEDROCK_MODEL)


def test_bedrock_refuses_the_sdks_own_api_version(
    fake_api: FakeAnthropic, bedrock: anthropic.AnthropicBedrock
):
    """The SDK sends its API version (2026-10-21) to Bedrock too, unless the body names one."""
    with pytest.raises(anthropic.BadRequestError, match="anthropic_version"):
        sdk_stream(bedrock, model=BEDROCK_MODEL)
    assert fake_api.requests[0].body["anthropic_version"] != LEGACY["anthropic_version"]
