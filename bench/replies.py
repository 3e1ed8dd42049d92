"""The replies the rendering benchmarks stream: generated markdown of a given size in tokens
(4 characters each), the same composition at every size so per-token costs compare."""

from __future__ import annotations

import random
from collections.abc import Callable

CHARS_PER_TOKEN = 4
REPLY_TOKENS = (1_000, 4_000, 16_000)

WORDS = (  # noqa: SIM905 - a sentence reads better than a 35-line list
    "the a stream token render block list table code reply model terminal line "
    "markdown parse refresh cost value function return error request response cache "
    "server client buffer index query result option default config simple quickly"
).split()


def words(rng: random.Random, count: int) -> str:
    chosen = [rng.choice(WORDS) for _ in range(count)]
    if rng.random() < 0.5:
        chosen[rng.randrange(count)] = f"`{rng.choice(WORDS)}()`"
    if rng.random() < 0.5:
        chosen[rng.randrange(count)] = f"**{rng.choice(WORDS)}**"
    return " ".join(chosen)


def paragraph(rng: random.Random) -> str:
    return words(rng, rng.randint(40, 110)).capitalize() + "."


def bullet_list(rng: random.Random) -> str:
    return "\n".join(f"- {words(rng, rng.randint(5, 18))}" for _ in range(rng.randint(3, 6)))


def loose_numbered_list(rng: random.Random) -> str:
    items = []
    for number in range(1, rng.randint(3, 5) + 1):
        item = f"{number}. **{rng.choice(WORDS).title()}**: {words(rng, rng.randint(8, 20))}"
        if rng.random() < 0.5:
            item += f"\n   {words(rng, rng.randint(6, 14))}"
        items.append(item)
    return "\n\n".join(items)


def code_block(rng: random.Random) -> str:
    lines = ["```python"]
    for index in range(rng.randint(8, 30)):
        name, arg = rng.choice(WORDS), rng.choice(WORDS)
        if index % 7 == 6:
            lines.append("")
        elif index % 5 == 0:
            lines.append(f"def {name}_{index}({arg}: int) -> int:")
        else:
            lines.append(
                f"    {name} = {arg}_{index} + {rng.randint(0, 99)}  # {rng.choice(WORDS)}"
            )
    lines.append("```")
    return "\n".join(lines)


def table(rng: random.Random) -> str:
    rows = ["| Option | Default | Meaning |", "|---|---:|---|"]
    for _ in range(rng.randint(3, 7)):
        rows.append(f"| `{rng.choice(WORDS)}` | {rng.randint(0, 999)} | {words(rng, 6)} |")
    return "\n".join(rows)


def section(rng: random.Random) -> list[str]:
    """About 1k tokens with the same mix every time, so replies of any length
    have the same composition and their per-token costs compare."""
    return [
        f"## {words(rng, 4).title()}",
        paragraph(rng),
        bullet_list(rng),
        paragraph(rng),
        code_block(rng),
        loose_numbered_list(rng),
        paragraph(rng),
        table(rng),
        code_block(rng),
        paragraph(rng),
    ]


def mixed_reply(tokens: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    blocks: list[str] = []
    while sum(map(len, blocks)) < tokens * CHARS_PER_TOKEN:
        blocks.extend(section(rng))
    return "\n\n".join(blocks)[: tokens * CHARS_PER_TOKEN] + "\n"


def long_code_reply(tokens: int, code_lines: int, seed: int = 0) -> str:
    """Mixed markdown around one long code block (a whole file, say)."""
    rng = random.Random(seed)
    code = [
        f"    value_{n} = compute({rng.choice(WORDS)!r}, {n})  # step {n}"
        for n in range(code_lines)
    ]
    before, after = mixed_reply(tokens // 2, seed), mixed_reply(tokens // 2, seed + 1)
    return before + "\n```python\n" + "\n".join(code) + "\n```\n\n" + after


def token_chunks(text: str) -> list[str]:
    return [text[i : i + CHARS_PER_TOKEN] for i in range(0, len(text), CHARS_PER_TOKEN)]


def code_heavy_reply(tokens: int, seed: int = 0) -> str:
    """Mostly code: a short paragraph, then code blocks of 8 to 30 lines."""
    rng = random.Random(seed)
    blocks: list[str] = []
    while sum(map(len, blocks)) < tokens * CHARS_PER_TOKEN:
        blocks += [words(rng, rng.randint(10, 25)).capitalize() + ":", code_block(rng)]
        blocks += [code_block(rng)]
    return "\n\n".join(blocks)[: tokens * CHARS_PER_TOKEN] + "\n"


def table_heavy_reply(tokens: int, seed: int = 0) -> str:
    """Mostly tables: a heading, a sentence and a table of 3 to 7 rows, over and over."""
    rng = random.Random(seed)
    blocks: list[str] = []
    while sum(map(len, blocks)) < tokens * CHARS_PER_TOKEN:
        blocks += [f"### {words(rng, 3).title()}", words(rng, 12).capitalize() + ".", table(rng)]
    return "\n\n".join(blocks)[: tokens * CHARS_PER_TOKEN] + "\n"


REPLIES: dict[str, Callable[[int], str]] = {
    "code-heavy": code_heavy_reply,
    "table-heavy": table_heavy_reply,
    "mixed": mixed_reply,
}
