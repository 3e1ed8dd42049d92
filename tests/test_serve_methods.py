"""A method a path does not answer: 405 with an `Allow` header naming every method it does
answer, as HTTP requires. The servers are test_serve.py's (one per storage configuration,
--no-auth on loopback)."""

from __future__ import annotations

import pytest

from fakes.anthropic_api import FakeAnthropic
from serve_harness import Serve
from test_serve import fake, server  # noqa: F401  (the fixtures)

ANSWERED = {
    "/chat": {"POST"},
    "/new_chat": {"POST"},
    # GET or POST (the seed's README used POST); HEAD wherever GET answers.
    "/get_conversation": {"GET", "HEAD", "POST"},
    "/conversations": {"GET", "HEAD"},
    "/conversations/ffffffff": {"DELETE"},
    "/health": {"GET", "HEAD"},
}


@pytest.mark.parametrize("path", sorted(ANSWERED))
def test_a_method_not_allowed_names_every_method_the_path_answers(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
    path: str,
) -> None:
    """The router named only the first route's methods: /get_conversation, three routes,
    said `Allow: GET`, though POST and HEAD answer it too."""
    with server.client() as http:
        for method in ("OPTIONS", "PUT", "PATCH"):
            refused = http.request(method, path)
            assert refused.status_code == 405, (method, path, refused.text)
            assert refused.json()["error"]["type"] == "method_not_allowed"
            allowed = {name.strip() for name in refused.headers["allow"].split(",")}
            assert allowed == ANSWERED[path], (method, path)
        for method in ANSWERED[path]:  # each one named does answer (if only with an error)
            assert http.request(method, path).status_code != 405, (method, path)
    assert fake.requests == []
