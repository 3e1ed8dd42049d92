"""`claudechat serve` and bodies that are not JSON it can read: one type, malformed_json, and
one wording, whichever way the body is wrong. The parsing does not touch the store, so one
configuration's server (test_serve.py's embedded one) is enough."""

from __future__ import annotations

import pytest

from fakes.anthropic_api import FakeAnthropic
from serve_harness import Serve
from test_serve import MAX_BODY, fake, server  # noqa: F401  (the fixtures)

JSON_TYPE = {"Content-Type": "application/json"}


@pytest.mark.parametrize("server", ["embedded"], indirect=True)
def test_every_unreadable_body_says_it_is_not_valid_json(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    """A body that was not UTF-8 said "There was an error parsing the body" (FastAPI's),
    where truncated JSON said the project's own "the body is not valid JSON"."""
    bodies = {
        "truncated": b'{"user_input": "',
        "not UTF-8": b'{"user_input": "\xff\xfe"}',
        "nested too deep": b"[" * (MAX_BODY - 1),
    }
    with server.client() as http:
        answers = {
            how: http.post("/chat", content=body, headers=JSON_TYPE) for how, body in bodies.items()
        }
    said = {how: (a.status_code, a.json()["error"]["type"]) for how, a in answers.items()}
    assert said == dict.fromkeys(bodies, (400, "malformed_json"))
    messages = {how: a.json()["error"]["message"] for how, a in answers.items()}
    assert messages == {
        "truncated": "the body is not valid JSON",
        "not UTF-8": "the body is not valid JSON (not UTF-8)",
        "nested too deep": "the body is not valid JSON (nested too deep)",
    }
    assert fake.requests == []
