"""Shell completion of option values and conversation ids, through the program's own
completion protocol (as bash calls it after `claudechat --install-completion`)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import conversation_id


def completed(words: str) -> list[str]:
    """What bash is offered for the last of `words` (an empty last word: all of them)."""
    parts = words.split(" ")
    env = {
        **os.environ,
        "_CLAUDECHAT_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(parts) - 1),
    }
    done = subprocess.run(
        [sys.executable, "-m", "claudechat"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout.split()


@pytest.mark.fresh_store
def test_a_tab_on_a_fresh_install_creates_no_database(isolated_home) -> None:  # type: ignore[no-untyped-def]
    assert completed("claudechat show ") == []
    assert not (isolated_home / "claudechat.db").exists()


def test_fixed_choices_are_completed() -> None:
    assert completed("claudechat usage --by ") == ["day", "model", "conversation"]
    assert completed("claudechat chat --effort m") == ["medium", "max"]
    assert completed("claudechat export -f ") == ["markdown", "json", "html", "md"]
    assert completed("claudechat export -f m") == ["markdown", "md"]  # -f md is taken
    assert completed("claudechat chat --provider b") == ["bedrock"]


def test_models_and_conversation_ids_are_completed(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    assert completed("claudechat show ") == []  # no history yet: nothing, and no error
    assert cli("models").returncode == 0  # the models cache, which Tab reads (no API call)
    asked = len(fake_api.model_requests)
    assert "claude-haiku-4-5" in completed("claudechat chat -m claude-h")
    first = conversation_id(cli("chat", input="one").stderr)
    second = conversation_id(cli("chat", input="two").stderr)
    for command in ("show", "export", "rename", "delete", "chat --resume"):
        assert sorted(completed(f"claudechat {command} ")) == sorted([first, second]), command
    assert completed(f"claudechat show {second[:6]}") == [second]
    assert len(fake_api.model_requests) == asked
