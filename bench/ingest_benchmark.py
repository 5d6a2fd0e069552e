"""Measure how fast ``lmod-usage ingest`` stores logs on each database backend.

For every size and backend it ingests a generated log into an empty database
("fresh"), then the same file again, when every load is already stored
("all-duplicates", with ``--full`` if the command has that option), and,
when ``--full`` exists, once more without it ("incremental"). Each run is
the whole command in a new process, so the wall time includes Python start
up and schema creation; the peak memory is the largest resident set of that
process or of any process it started and waited for. The counts the command
prints are checked against what the generator wrote. Run from the project
root with the project's virtual environment:

    .venv/bin/python bench/ingest_benchmark.py --sizes 100k,1M --json -
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench_databases import (
    BACKENDS,
    BackendFacts,
    backend_name,
    describe_server,
    read_facts,
    scratch_database,
)
from generate_logs import GENERATOR_VERSION, GeneratedLog, generate, parse_count
from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).resolve().parent / "results"
TABLE_WIDTH = 150


@dataclass(frozen=True)
class RunPlan:
    """One kind of run: its name in the report and its extra options."""

    name: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class ToolRun:
    """What one ``lmod-usage`` process did, seen from outside."""

    seconds: float
    peak_kib: int
    exit_status: int
    stdout: str
    stderr: str


@dataclass
class Measurement:
    """The figures of one run, and what looked wrong about it."""

    backend: str
    size: str
    run: str
    lines: int = 0
    seconds: float = 0.0
    lines_per_second: float = 0.0
    peak_rss_mib: float = 0.0
    inserted: int = 0
    duplicates: int = 0
    skipped: int = 0
    rejected: int = 0
    tool_seconds: float = 0.0
    exit_status: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the run succeeded and its counts add up."""
        return not self.problems


@dataclass
class Report:
    """Everything one benchmark produced, ready for the table and for JSON."""

    machine: dict[str, Any]
    backends: dict[str, BackendFacts]
    notes: list[str] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def failures(self) -> int:
        """How many runs failed a check, plus errors outside any run."""
        return sum(not item.ok for item in self.measurements) + len(self.errors)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        return {
            "machine": self.machine,
            "backends": {name: asdict(facts) for name, facts in self.backends.items()},
            "notes": self.notes,
            "runs": [asdict(item) for item in self.measurements],
            "errors": self.errors,
            "failures": self.failures(),
        }


def size_label(lines: int) -> str:
    """A short name for a line count: 100k, 1M, 2.5M."""
    if lines >= 1_000_000 and lines % 100_000 == 0:
        return f"{lines / 1_000_000:g}M"
    if lines >= 1_000 and lines % 1_000 == 0:
        return f"{lines // 1_000}k"
    return str(lines)


def cpu_model() -> str:
    """The processor's model name as the kernel reports it."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float:
    """Total memory in GiB, from /proc/meminfo (0 where there is none)."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as info:
            kib = int(info.readline().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return round(kib / 2**20, 1)


def machine_facts() -> dict[str, Any]:
    """What the figures depend on besides the code: processors and Python."""
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_gib": memory_gib(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def header_line(report: Report) -> str:
    """The machine and server facts in one line, for README figures."""
    machine = report.machine
    parts = [
        f"{machine['cpu_count']} CPUs ({machine['cpu_model']})",
        f"{machine['memory_gib']} GiB",
        f"Python {machine['python']}",
    ]
    parts += [facts.describe() for facts in report.backends.values()]
    return "; ".join(parts)


def choose_backends(
    requested: str | None, console: Console
) -> tuple[dict[str, BackendFacts], list[str]]:
    """Facts of the backends to measure, and notes on those left out.

    Named backends must be reachable; by default the unreachable ones are
    left out with a note.
    """
    names = [backend_name(item) for item in requested.split(",")] if requested else []
    chosen: dict[str, BackendFacts] = {}
    notes = []

    for name in names or BACKENDS:
        try:
            chosen[name] = read_facts(name)
        except Exception as error:
            cause = str(getattr(error, "orig", None) or error).splitlines()[0]
            message = f"{name} unreachable at {describe_server(name)}: {cause}"
            if names:
                raise SystemExit(f"ingest_benchmark: {message}") from error
            notes.append(f"{name} left out: unreachable at {describe_server(name)}")
            console.print(f"[yellow]{message}[/]")

    return chosen, notes


def tool_command(*arguments: str) -> list[str]:
    """The command line that runs lmod-usage with this very interpreter."""
    return [sys.executable, "-m", "lmod_usage", *arguments]


def plan_runs(batch_size: int | None) -> list[RunPlan]:
    """The runs of each case, in order; the first one starts from empty."""
    tuning = ("--batch-size", str(batch_size)) if batch_size else ()
    return [
        RunPlan("fresh", tuning),
        RunPlan("all-duplicates", ("--full", *tuning)),
        RunPlan("incremental", tuning),
    ]


def spawn_and_wait(argv: list[str], stdout: int, stderr: int) -> tuple[int, int]:
    """Run a command to its end; return its exit status and peak RSS in KiB.

    ``os.wait4`` reports the child's own resource use together with that of
    every descendant it waited for, so the peak covers helper processes too
    (the largest single one, not a sum).
    """
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_DUP2, stdout, 1),
        (os.POSIX_SPAWN_DUP2, stderr, 2),
    ]
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
    try:
        _, status, usage = os.wait4(pid, 0)
    except BaseException:
        os.kill(pid, signal.SIGTERM)
        os.wait4(pid, 0)
        raise
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss


def run_tool(argv: list[str]) -> ToolRun:
    """Run one command and time it, keeping what it printed."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        status, peak_kib = spawn_and_wait(argv, out.fileno(), err.fileno())
        seconds = time.perf_counter() - started

        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    return ToolRun(seconds, peak_kib, status, stdout, stderr)


def read_summary(run: ToolRun) -> dict[str, Any] | None:
    """The JSON summary of the last file, or None if there is none."""
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    if not lines:
        return None
    try:
        summary = json.loads(lines[-1])
    except json.JSONDecodeError:
        return None
    return summary if isinstance(summary, dict) else None


def measure(
    backend: str, size: str, plan: RunPlan, url: str, log_path: Path
) -> Measurement:
    """Ingest the log once as the plan says and collect the figures."""
    arguments = ["ingest", "--json", "--quiet", *plan.options, "--db", url]
    run = run_tool(tool_command(*arguments, str(log_path)))
    result = Measurement(backend, size, plan.name, exit_status=run.exit_status)
    result.seconds = round(run.seconds, 3)
    result.peak_rss_mib = round(run.peak_kib / 1024, 1)

    summary = read_summary(run)
    if run.exit_status != 0 or summary is None:
        last = (run.stderr.strip().splitlines() or ["no message"])[-1]
        result.problems.append(f"exit status {run.exit_status}, no summary: {last}")
        return result

    for key in ("lines", "inserted", "duplicates", "skipped", "rejected"):
        setattr(result, key, int(summary.get(key, 0)))
    result.tool_seconds = float(summary.get("seconds", 0.0))
    result.lines_per_second = round(result.lines / max(run.seconds, 1e-9))
    return result


def check_fresh(result: Measurement, log: GeneratedLog) -> list[str]:
    """Problems with the counts of a first ingest, given what the log holds.

    A cut line may end up skipped, rejected or stored, so the checks allow
    for each damaged line going either way and demand the rest exactly.
    """
    damaged = log.malformed
    ranges = {
        "inserted": (log.records, log.records + damaged),
        "duplicates": (log.repeated, log.repeated + damaged),
        "skipped": (log.unrelated, log.unrelated + damaged),
        "rejected": (log.empty_user + log.bad_time, damaged),
    }
    problems = [
        f"{key} {getattr(result, key):,} outside {low:,}..{high:,}"
        for key, (low, high) in ranges.items()
        if not low <= getattr(result, key) <= high
    ]
    return problems + check_total(result, log.lines)


def check_total(result: Measurement, lines: int) -> list[str]:
    """Problems if the lines read are not all accounted for exactly once."""
    counted = result.inserted + result.duplicates + result.skipped + result.rejected
    problems = []
    if result.lines != lines:
        problems.append(f"read {result.lines:,} lines of {lines:,}")
    if counted != result.lines:
        problems.append(
            f"inserted+duplicates+skipped+rejected = {counted:,}, "
            f"lines = {result.lines:,}"
        )
    return problems


def check_repeat(result: Measurement, fresh: Measurement) -> list[str]:
    """Problems with a run over a file whose loads are all stored already."""
    problems = []
    if result.inserted != 0:
        problems.append(f"stored {result.inserted:,} loads again (expected 0)")
    if result.run == "incremental":
        return problems + check_total(result, result.lines)

    problems += check_total(result, fresh.lines)
    expected = fresh.inserted + fresh.duplicates
    if result.duplicates != expected:
        problems.append(f"duplicates {result.duplicates:,}, expected {expected:,}")
    if (result.skipped, result.rejected) != (fresh.skipped, fresh.rejected):
        problems.append("skipped or rejected differ from the fresh run")
    return problems


def cached_log(
    directory: Path, lines: int, seed: int, console: Console
) -> GeneratedLog:
    """The generated log of this size and seed, made now unless already there."""
    path = directory / f"lmod-{size_label(lines)}-seed{seed}.log"
    sidecar = path.with_suffix(".json")
    if path.is_file() and sidecar.is_file():
        known = GeneratedLog(**json.loads(sidecar.read_text(encoding="utf-8")))
        wanted = (lines, seed, GENERATOR_VERSION, path.stat().st_size)
        if (known.lines, known.seed, known.version, known.size_bytes) == wanted:
            return known

    console.print(f"generating {path} ({lines:,} lines, seed {seed})")
    directory.mkdir(parents=True, exist_ok=True)
    log = generate(path, lines, seed)
    sidecar.write_text(json.dumps(log.as_dict(), indent=2) + "\n", encoding="utf-8")
    return log


def run_case(
    backend: str, log: GeneratedLog, plans: Sequence[RunPlan], console: Console
) -> list[Measurement]:
    """All runs of one backend and size, in one scratch database."""
    size = size_label(log.lines)
    results: list[Measurement] = []
    with scratch_database(backend) as url:
        for plan in plans:
            console.print(f"{backend} {size} {plan.name} ...", end=" ")
            result = measure(backend, size, plan, url, Path(log.path))
            if not result.problems:
                fresh = results[0] if results else None
                result.problems += (
                    check_repeat(result, fresh) if fresh else check_fresh(result, log)
                )
            console.print(f"{result.seconds:.1f} s")
            report_problems(result, console)
            results.append(result)
            if result.exit_status != 0:
                break
    return results


def report_problems(result: Measurement, console: Console) -> None:
    """Say loudly what went wrong with one run."""
    for problem in result.problems:
        console.print(
            f"[bold red]FAILED[/] {result.backend} {result.size} {result.run}: "
            f"{problem}"
        )


def results_table(report: Report) -> Table:
    """The measurements as a table, one row per run."""
    table = Table(title="lmod-usage ingest", caption=" ".join(report.notes) or None)
    for name in ("Backend", "Size", "Run"):
        table.add_column(name)
    for name in ("Lines", "Seconds", "Lines/s", "Peak MiB"):
        table.add_column(name, justify="right")
    for name in ("Inserted", "Duplicates", "Rejected"):
        table.add_column(name, justify="right")
    table.add_column("Check")

    for item in report.measurements:
        table.add_row(
            item.backend,
            item.size,
            item.run,
            f"{item.lines:,}",
            f"{item.seconds:.2f}",
            f"{item.lines_per_second:,.0f}",
            f"{item.peak_rss_mib:,.0f}",
            f"{item.inserted:,}",
            f"{item.duplicates:,}",
            f"{item.rejected:,}",
            "ok" if item.ok else "[bold red]FAILED[/]",
        )
    return table


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line of this script."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", default="100k,1M", help="line counts, e.g. 100k,1M,10M"
    )
    parser.add_argument(
        "--backends", help="sqlite,mariadb,postgresql (default: all reachable)"
    )
    parser.add_argument("--seed", type=int, default=1, help="generator seed")
    parser.add_argument(
        "--json", metavar="FILE", help="write the results as JSON; - for stdout"
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=RESULTS, help="where generated logs stay"
    )
    parser.add_argument("--batch-size", type=int, help="passed on to lmod-usage ingest")
    return parser.parse_args(argv)


def run_benchmark(args: argparse.Namespace, console: Console) -> Report:
    """Generate the logs and measure every backend on every size."""
    backends, notes = choose_backends(args.backends, console)
    report = Report(machine_facts(), backends, notes)
    if args.batch_size:
        report.notes.append(f"lmod-usage ingest --batch-size {args.batch_size}")
    console.print(header_line(report), soft_wrap=True)

    for lines in [parse_count(item) for item in args.sizes.split(",")]:
        log = cached_log(args.cache_dir, lines, args.seed, console)
        for backend in backends:
            try:
                report.measurements += run_case(
                    backend, log, plan_runs(args.batch_size), console
                )
            except Exception as error:
                report.errors.append(f"{backend} {size_label(lines)}: {error}")
                console.print(f"[bold red]FAILED[/] {report.errors[-1]}")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table and write the JSON asked for."""
    args = parse_arguments(argv)
    if importlib.util.find_spec("lmod_usage") is None:
        sys.exit("ingest_benchmark: lmod_usage is not importable; use .venv/bin/python")

    messages = Console(stderr=True)
    table_console = Console(stderr=args.json == "-")
    if not table_console.is_terminal:
        table_console.width = TABLE_WIDTH

    report = run_benchmark(args, messages)
    table_console.print(header_line(report), soft_wrap=True)
    table_console.print(results_table(report))
    write_json(report, args.json)

    if report.failures():
        messages.print(f"[bold red]{report.failures()} run(s) FAILED their checks[/]")
        return 1
    return 0


def write_json(report: Report, destination: str | None) -> None:
    """Write the report as JSON to a file, or to standard output for ``-``."""
    if destination is None:
        return
    text = json.dumps(report.as_dict(), indent=2) + "\n"
    if destination == "-":
        sys.stdout.write(text)
    else:
        Path(destination).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
