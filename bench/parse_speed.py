"""Measure how many lines per second LineParser reads.

Builds about 200,000 varied lines of the documented shape in memory and
times `LineParser.parse` (with its fast path) and `LineParser.parse_general`
over them. Run from the project root:

    PYTHONPATH=src .venv/bin/python bench/parse_speed.py
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime, timezone

from lmod_usage.parsing import LineParser, LoadRecord

LINE_COUNT = 200_000
PACKAGES = ("gcc", "openmpi", "python", "cuda", "intel", "R", "matlab", "hdf5")
MONTHS: tuple[str, ...] = ("Jan", "Feb", "Mar", "Apr", "May", "Jun")
MONTHS += ("Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def build_lines(count: int) -> list[bytes]:
    """Documented-shape lines with varied users, hosts, modules and times."""
    chooser = random.Random(5)
    start = 1_682_580_177
    lines = []

    for number in range(count):
        second = start + number * 7 + chooser.randrange(5)
        stamp = time.gmtime(second)
        host = f"node{chooser.randrange(1, 900)}"
        package = chooser.choice(PACKAGES)
        version = f"{chooser.randrange(1, 13)}.{chooser.randrange(10)}.0"
        pid = f"[{chooser.randrange(1, 99999)}]" if number % 3 else ""
        lines.append(
            f"{MONTHS[stamp.tm_mon - 1]} {stamp.tm_mday:2d} "
            f"{time.strftime('%H:%M:%S', stamp)} {host} ModuleUsageTracking{pid}: "
            f"user=usr{chooser.randrange(1, 5000)} module={package}/{version} "
            f"path=/apps/modules/{package}/{version}.lua "
            f"host={host}.cluster.example.org "
            f"time={second}.{chooser.randrange(1_000_000):06d}\n".encode()
        )

    return lines


def measure(
    name: str, parse: Callable[[bytes], LoadRecord | None], lines: list[bytes]
) -> None:
    """Time one parse function over all lines and print its rate."""
    started = time.perf_counter()
    for line in lines:
        parse(line)
    seconds = time.perf_counter() - started

    print(f"{name:>8}: {len(lines) / seconds:12,.0f} lines/s")


def main() -> None:
    """Build the lines once and measure both paths, best of three runs each."""
    lines = build_lines(LINE_COUNT)
    parser = LineParser(reference_time=datetime.now(timezone.utc), tz=timezone.utc)

    for _ in range(3):
        measure("fast", parser.parse, lines)
    for _ in range(3):
        measure("general", parser.parse_general, lines)


if __name__ == "__main__":
    main()
