"""An embedded database made read-only, then writable again, as a user chmod does stop.

Run as an unprivileged user: the suite runs as root, whom file modes do not stop.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import content_text, conversation_id, echoed

NOBODY = 65534


@pytest.fixture
def nobodys_home(fake_api) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        pytest.skip("running as another user needs root")
    home = Path(tempfile.mkdtemp(prefix="claudechat-nobody-"))  # pytest's folders are 0700
    os.chown(home, NOBODY, NOBODY)
    try:
        yield home
    finally:
        shutil.rmtree(home)


def as_nobody(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    keep = ("PATH", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "PYTHONPATH")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env |= {"CLAUDECHAT_HOME": str(home), "CLAUDECHAT_USER": "nobody", "NO_PROXY": "127.0.0.1"}
    nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    return subprocess.run(
        [*nobody, sys.executable, "-m", "claudechat", *args],
        env=env,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_database_made_writable_again_takes_the_journal_once(nobodys_home) -> None:  # type: ignore[no-untyped-def]
    """SQLite made the -shm with the database's mode (0400) while it was read-only; it stayed
    0400 after `chmod 600 claudechat.db`, and sync, doctor and every save failed on "attempt
    to write a readonly database" until the -shm was changed by hand."""
    database = nobodys_home / "claudechat.db"
    made = as_nobody(nobodys_home, "chat", "-n", "shm", "one")
    assert made.returncode == 0, made.stderr
    conversation = conversation_id(made.stderr)
    database.chmod(0o400)
    journaled = as_nobody(nobodys_home, "chat", "-r", conversation, "two")
    assert journaled.returncode == 0, journaled.stderr
    assert f"({database} is read-only to you" in journaled.stderr
    database.chmod(0o600)  # as the line advised
    synced = as_nobody(nobodys_home, "sync")
    assert synced.returncode == 0, synced.stderr
    assert "pushed 1 conversation" in synced.stderr
    checked = as_nobody(nobodys_home, "doctor")
    assert checked.returncode == 0, checked.stderr + checked.stdout
    shown = as_nobody(nobodys_home, "show", conversation, "--json")
    assert shown.returncode == 0, shown.stderr
    texts = [content_text(m["content"]) for m in json.loads(shown.stdout)["messages"]]
    assert texts == echoed("one", "two")
    listed = as_nobody(nobodys_home, "list")
    assert listed.stderr == "" and listed.stdout.startswith(conversation[:8] + "\t")


def test_a_read_only_shm_of_another_user_is_named(nobodys_home) -> None:  # type: ignore[no-untyped-def]
    """A -shm left by another user (root, say) cannot be mended: the line names it, where it
    named the folder "or the file" while the database itself was writable."""
    made = as_nobody(nobodys_home, "chat", "one")
    assert made.returncode == 0, made.stderr
    shm = nobodys_home / "claudechat.db-shm"
    shm.write_bytes(bytes(32768))
    os.chown(shm, 0, 0)
    shm.chmod(0o444)
    renamed = as_nobody(nobodys_home, "rename", conversation_id(made.stderr), "two")
    assert f"({shm} is read-only to you: check its owner" in renamed.stderr, renamed.stderr
    assert "Traceback" not in renamed.stderr, renamed.stderr
    assert renamed.returncode == 0, renamed.stderr
