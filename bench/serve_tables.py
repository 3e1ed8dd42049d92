"""The tables bench_serve.py prints: each row's figures from its clients' timings and the
fake's own time for each request, a table per round, and the medians over the rounds."""

from __future__ import annotations

import statistics
from typing import Any

TARGET_SECONDS = 0.020  # the target for the added latency's p99


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summarize(
    name: str, results: list[Any], wall: float, served: dict[str, float]
) -> dict[str, Any]:
    total, own, added = [], [], []
    first, later = [], []  # added latency of each conversation's first turn, of the others
    for result in results:
        for key, elapsed in result["timings"].items():
            total.append(elapsed)
            own.append(served[key])
            added.append(elapsed - served[key])
            (first if key.endswith(" turn 0") else later).append(elapsed - served[key])
    return {
        "name": name,
        "requests": len(total),
        "rps": len(total) / wall,
        "own_p50": statistics.median(own) * 1000,
        "total_p50": statistics.median(total) * 1000,
        "total_p99": percentile(total, 0.99) * 1000,
        "added_p50": statistics.median(added) * 1000,
        "added_p99": percentile(added, 0.99) * 1000,
        "first_p50": statistics.median(first) * 1000,
        "first_max": max(first) * 1000,
        "later_p50": statistics.median(later) * 1000,
        "later_p99": percentile(later, 0.99) * 1000,
        # The target is a p99 under 20 ms: under 1% of requests above it. The count
        # moves less from round to round than the 99th percentile, which is one request.
        "over_target": sum(1 for value in added if value > TARGET_SECONDS),
        "added_max": max(added) * 1000,
        "errors": sum(len(r["errors"]) for r in results),
        "lost": sum(r["expected"] - r["kept"] for r in results),
    }


def print_columns(headers: list[tuple[str, int]], rows: list[list[str]]) -> None:
    """A fixed-width table: the first column left-aligned, the others right-aligned, each
    (title, width)."""

    def line(cells: list[str]) -> str:
        (_, first), *others = headers
        return f"{cells[0]:<{first}}" + "".join(
            f"{cell:>{width}}" for cell, (_, width) in zip(cells[1:], others, strict=True)
        )

    header = line([title for title, _ in headers])
    print(header)
    print("-" * len(header))
    for row in rows:
        print(line(row))


def _ms(value: float) -> str:
    return f"{value:.1f}ms"


def print_turns(rows: list[dict[str, Any]]) -> None:
    """The first turn of each conversation apart: the clients start within one reply's time,
    each with a /new_chat, so the first turns come in a burst, and they are 5% of the requests
    of 20-turn conversations: enough to be the whole p99."""
    keys = ("first_p50", "first_max", "later_p50", "later_p99")
    headers = [("added latency by turn", 48)] + [(key.replace("_", " "), 11) for key in keys]
    print_columns(headers, [[row["name"], *(_ms(row[key]) for key in keys)] for row in rows])


def print_table(rows: list[dict[str, Any]]) -> None:
    headers = [("run", 48), ("requests", 9), ("req/s", 8), ("fake p50", 10)]
    timings = ("total_p50", "total_p99", "added_p50", "added_p99")
    headers += [(key.replace("_", " "), 11) for key in timings]
    headers += [("> 20ms", 8), ("added max", 11), ("errors", 8), ("lost", 6)]
    cells = [
        [
            row["name"],
            str(row["requests"]),
            f"{row['rps']:.1f}",
            _ms(row["own_p50"]),
            *(_ms(row[key]) for key in timings),
            str(row["over_target"]),
            _ms(row["added_max"]),
            str(row["errors"]),
            str(row["lost"]),
        ]
        for row in rows
    ]
    print_columns(headers, cells)


def print_usage(usages: list[tuple[int, str, list[Any], float, Any]]) -> None:
    for _round, name, results, wall, (idle, loaded) in usages:
        requests = max(1, sum(len(result["timings"]) for result in results))
        cpu = loaded.cpu_seconds - idle.cpu_seconds  # workers that ended meanwhile not counted
        print(
            f"{name}: CPU {cpu / requests * 1000:.1f} ms per request "
            f"({cpu / wall:.2f} of a CPU); memory {idle.rss_kib / 1024:.0f} MiB after start, "
            f"{loaded.rss_kib / 1024:.0f} MiB after the run, peak {loaded.peak_kib / 1024:.0f} MiB"
        )
        for result in results:
            for error in result["errors"][:3]:
                print("error:", error)


def print_medians(tables: list[list[dict[str, Any]]]) -> None:
    """Each row's median over the rounds, and the spread of its p99."""
    print(f"\nmedians over {len(tables)} rounds (added latency, ms)")
    headers = [("run", 48), ("added p50", 11), ("added p99", 11)]
    headers += [("p99 lowest-highest", 20), ("later p99", 11), ("> 20ms", 8)]
    cells = []
    # By name: against a baseline the rows take turns, so their order changes by round.
    for row in tables[0]:
        same = [r for rows in tables for r in rows if r["name"] == row["name"]]
        p50s = [r["added_p50"] for r in same]
        p99s = [r["added_p99"] for r in same]
        later = statistics.median(r["later_p99"] for r in same)
        over = statistics.median(r["over_target"] for r in same)
        median_p50, median_p99 = statistics.median(p50s), statistics.median(p99s)
        spread = f"{min(p99s):.1f}-{max(p99s):.1f}"
        cells.append(
            [
                row["name"],
                f"{median_p50:.1f}",
                f"{median_p99:.1f}",
                spread,
                f"{later:.1f}",
                f"{over:g}",
            ]
        )
    print_columns(headers, cells)
