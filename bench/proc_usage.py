"""What a process and its children (a server's workers) use, read from /proc: memory and CPU."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Usage:
    rss_kib: int = 0
    peak_kib: int = 0  # VmHWM: the most each process held, summed
    cpu_seconds: float = 0.0  # user + system, since each process started


def usage(pid: int) -> Usage:
    """A process and its direct children, as one (uvicorn's workers are children)."""
    children = subprocess.run(
        ["pgrep", "-P", str(pid)], capture_output=True, text=True
    ).stdout.split()
    total = Usage()
    for each in [str(pid), *children]:
        try:
            status = Path(f"/proc/{each}/status").read_text()
            stat = Path(f"/proc/{each}/stat").read_text()
        except OSError:
            continue  # a worker that ended in between
        for line in status.splitlines():
            key, _, value = line.partition(":")
            if key == "VmRSS":
                total.rss_kib += int(value.split()[0])
            elif key == "VmHWM":
                total.peak_kib += int(value.split()[0])
        # Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
        fields = stat.rpartition(")")[2].split()
        total.cpu_seconds += (int(fields[11]) + int(fields[12])) / TICKS
    return total
