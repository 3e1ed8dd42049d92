"""A Messages API request goes out as the SDK itself would send it. claudechat encodes the body
(the SDK's own preparation first walked and copied the whole conversation, on every turn), so
its bytes must be the ones the SDK makes of the same body: compact JSON, UTF-8 text as it is,
sent as JSON."""

from __future__ import annotations

from typing import Any

from conftest import API_KEY
from fakes.anthropic_api import FakeAnthropic


def test_a_request_is_the_bytes_the_sdk_makes_of_its_body(
    cli: Any, fake_api: FakeAnthropic
) -> None:
    said = 'naïve café ✓ 🎉 "quoted" \\ back\tslash'
    assert cli("chat", input=said).returncode == 0
    assert (
        cli("chat", "--continue", input="and again").returncode == 0
    )  # a context of three messages
    ours = fake_api.requests[-1]
    assert ours.path == "/v1/messages"
    assert ours.headers["content-type"] == "application/json"
    assert "naïve café ✓ 🎉".encode() in ours.raw  # as it is, not escaped

    from anthropic import Anthropic, Stream

    client = Anthropic(api_key=API_KEY, base_url=fake_api.base_url, max_retries=0)
    with client.post(
        "/v1/messages", body=ours.body, cast_to=object, stream=True, stream_cls=Stream[object]
    ) as events:
        list(events)
    the_sdks = fake_api.requests[-1]
    assert the_sdks.raw == ours.raw
    assert the_sdks.headers["content-type"] == ours.headers["content-type"]
