"""Wall-time benchmarks of the whole application, every section in one run.

    .venv/bin/python bench/bench_app.py [--quick] [--only N ...]

Sections (each also runs alone from its own file)
  1. start-up of `--help`, `--version`, `list` and `show` (bench_startup.py);
  2. time to the first REPL prompt in a pseudo-terminal (bench_startup.py);
  3. ConversationStore.save() at turn 1 and turn 200 (bench_saves.py);
  4. `list` among 100,000 conversations in PostgreSQL (bench_list.py).
Rendering a reply in a terminal against the SDK's own cost: bench_terminal.py (the whole
process in a pseudo-terminal) and bench_render.py (the renderer in-process).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_list import section_big_list
from bench_saves import section_saves
from bench_startup import section_first_prompt, section_startup
from benchlib import bench_run, parse_args


def main() -> int:
    args = parse_args(__doc__, sections=[1, 2, 3, 4])
    sections = set(args.only or [1, 2, 3, 4])
    with bench_run(args) as (runs, tmp, servers):
        if 1 in sections:
            section_startup(runs, tmp)
        if 2 in sections:
            section_first_prompt(runs, tmp)
        if 3 in sections:
            section_saves(runs, tmp, servers)
        if 4 in sections:
            section_big_list(runs, tmp, servers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
