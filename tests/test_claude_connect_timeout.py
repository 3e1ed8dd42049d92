"""Claude's host accepts no connection at all (its SYNs unanswered): the adapter's connect
timeout (the connect_timeout setting) ends each attempt, the session asks again as for a
refused connection, and the run ends in one clear line and exit 3, the message kept.

A listening socket whose accept queue is full, never accepted from, is such a host on Linux
loopback: further connects wait for an answer that never comes."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from conftest import content_text, conversation_id
from fakes.anthropic_api import FakeAnthropic

QUEUE_FILLERS = 8


@pytest.fixture
def unanswering_host() -> Iterator[str]:
    """The base URL of a host that never completes a connection."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    fillers = []
    for _ in range(QUEUE_FILLERS):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(address)
        fillers.append(filler)
    probe = socket.socket()
    probe.settimeout(0.5)
    try:
        with pytest.raises(TimeoutError):  # the queue is full: a connect goes unanswered
            probe.connect(address)
        yield f"http://127.0.0.1:{address[1]}"
    finally:
        for sock in (probe, *fillers, listener):
            sock.close()


def test_a_host_that_takes_no_connection_is_asked_again_then_named_in_one_line(
    cli,  # type: ignore[no-untyped-def]
    fake_api: FakeAnthropic,
    unanswering_host: str,
) -> None:
    # The models list cached first (from the fake): its fetch would wait one more timeout.
    assert cli("models").returncode == 0
    # A short connect timeout: at the default 5 s, the three attempts took 27 s.
    env = {"ANTHROPIC_BASE_URL": unanswering_host, "CLAUDECHAT_CONNECT_TIMEOUT": "0.5"}
    result = cli("chat", input="anyone there?", env=env)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    unreached = (
        f"cannot reach the Anthropic API at {unanswering_host}, set by ANTHROPIC_BASE_URL "
        "(no connection within connect_timeout, 0.5 s)"
    )
    lines = result.stderr.strip().splitlines()
    retries = [line for line in lines if "; retrying in " in line]
    assert [line.startswith(unreached) for line in retries] == [True, True], result.stderr
    (failed,) = [line for line in lines if line.startswith("claudechat: ")]
    assert failed == f"claudechat: {unreached}; try again", result.stderr
    document = json.loads(cli("show", conversation_id(result.stderr), "--json").stdout)
    assert [(content_text(m["content"]), m["status"]) for m in document["messages"]] == [
        ("anyone there?", "pending")
    ]


def test_connect_timeout_is_a_setting_shown_by_config(cli, fake_api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """It was a fixed 5 s, too short for a slow link and long to wait for a host that answers
    nothing: no setting changed it, and `config` did not show it."""
    from claudechat.claude import Claude
    from claudechat.settings import load_settings
    from test_config import config_lines

    assert config_lines(cli)["connect_timeout"] == "5.0  # default"
    taken = config_lines(cli, CLAUDECHAT_CONNECT_TIMEOUT="0.5")
    assert taken["connect_timeout"] == "0.5  # environment CLAUDECHAT_CONNECT_TIMEOUT"
    for bad in ("0", "-1", "soon", "inf", "1e11"):  # 1e11 s: every request failed, exit 3
        refused = cli("config", env={"CLAUDECHAT_CONNECT_TIMEOUT": bad})
        assert refused.returncode == 2, bad
        assert refused.stderr.strip() == (
            f"claudechat: environment CLAUDECHAT_CONNECT_TIMEOUT: connect_timeout has an invalid "
            f"value {bad!r}: use seconds above 0 and at most 604800, a week (fractions such as "
            "0.5 allowed)"
        )
    monkeypatch.setenv("CLAUDECHAT_CONNECT_TIMEOUT", "2.5")
    assert Claude(load_settings()).client.timeout.connect == 2.5  # what each request is given
