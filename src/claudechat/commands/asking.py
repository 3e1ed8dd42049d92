"""The one question a command asks: whether to delete conversations for good."""

from __future__ import annotations

import sys

import typer

from claudechat.output import counted

DELETE_ASKS = 3  # an answer neither yes nor no is asked again, this many times in all


def confirm_deleting(resolved: list[str], titles: dict[str, str]) -> None:
    """Return on yes; exit 1 with "nothing deleted" on no, Enter, Ctrl-D or three answers
    that are neither."""
    from claudechat.output import quoted
    from claudechat.short_ids import unique_prefixes

    # Each told apart from the others asked about: two alike in their first 8 read as one.
    shown = unique_prefixes(resolved, resolved)
    for conversation_id in resolved:
        print(f"  {shown[conversation_id]}  {titles.get(conversation_id, '')}", file=sys.stderr)
    question = f"Delete {counted(len(resolved), 'conversation')} for good? [y/N] "
    for _ in range(DELETE_ASKS):
        answer = _answer(question)
        if answer in ("y", "yes"):
            return
        if answer in ("", "n", "no"):
            break
        # "maybe" was taken for a no without a word: a typo is asked again.
        print(f"answer y or n, not {quoted(answer, 20)}", file=sys.stderr)
    print("nothing deleted", file=sys.stderr)
    raise typer.Exit(1)


def _answer(question: str) -> str:
    """The answer, in lower case; "" for Enter or Ctrl-D. The question goes to stderr with the
    titles: stdout may be a file, and is for the results."""
    print(question, end="", file=sys.stderr)
    sys.stderr.flush()
    try:
        answer = sys.stdin.readline()
    except KeyboardInterrupt:
        print(file=sys.stderr)  # "interrupted" went on after the question's ^C
        raise
    if not answer:  # Ctrl-D: a no, on a line of its own
        print(file=sys.stderr)
    return answer.strip().lower()
