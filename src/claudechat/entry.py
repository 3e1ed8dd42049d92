"""The program's entry point, kept apart from cli.py so that nothing is loaded before it runs:
a Ctrl-C while the command's modules are still loading (the first 50 ms or so) ends the
program as a later one does, with exit 130 and one line, not Python's import traceback."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from claudechat.cli import main as run
    except KeyboardInterrupt:
        # Nothing was read, sent or saved yet.
        sys.stderr.write("claudechat: interrupted\n")
        raise SystemExit(130) from None
    run()
