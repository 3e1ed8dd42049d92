"""`claudechat serve --host ::`: the unspecified IPv6 address alone takes IPv4 too, with one
worker (whose sockets claudechat binds itself) as with several (uvicorn's one socket).

One worker's sockets were once bound IPv6-only, and `::` left IPv4 clients refused. Off
loopback, so with a token rather than --no-auth."""

from __future__ import annotations

import socket

import httpx
import pytest

from conftest import API_KEY
from fakes.anthropic_api import FakeAnthropic
from serve_harness import Serve, clean_env


def _loopback_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


pytestmark = pytest.mark.skipif(not _loopback_ipv6(), reason="no IPv6 on loopback")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_unspecified_ipv6_host_answers_over_ipv4_and_ipv6(
    fake_server: FakeAnthropic, workers: str
) -> None:
    env = clean_env(ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=fake_server.base_url)
    server = Serve(env, "--host", "::", "--workers", workers)
    token = server.token("alice")
    with server:  # up once /health answers on 127.0.0.1
        for host in ("127.0.0.1", "[::1]"):
            url = f"http://{host}:{server.port}/conversations"
            answer = httpx.get(
                url, headers={"Authorization": f"Bearer {token}"}, trust_env=False, timeout=30
            )
            assert answer.status_code == 200, (host, answer.text)
            assert answer.json()["conversations"] == []
