"""One writer process of the concurrency tests.

Runs the program's own entry point (cli.run) once per message, as `claudechat chat --resume ID`
with the message piped in, so that many writers times several turns cost one interpreter
start per writer. `new` as the id starts a conversation named after the first message and
resumes that one for the rest. Exits non-zero if any turn did.
"""

from __future__ import annotations

import io
import sys

from claudechat.cli import run
from claudechat.settings import load_settings
from claudechat.storage import open_store


def main(reference: str, messages: list[str]) -> int:
    for index, text in enumerate(messages):
        sys.stdin = io.TextIOWrapper(io.BytesIO(text.encode()))
        if reference == "new":
            code = run(["chat", "--name", text])
            reference = _named(text)
        else:
            code = run(["chat", "--resume", reference])
        if code != 0:
            print(f"turn {index} exited {code}", file=sys.stderr)
            return code
    return 0


def _named(name: str) -> str:
    settings = load_settings()
    rows = open_store(settings).list(settings.user).rows
    (row,) = [r for r in rows if r.conversation_name == name]
    return row.conversation_id


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
