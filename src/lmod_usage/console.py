"""What the command line shows while it works: progress, and clean stops.

Kept apart from the commands so that they stay a thin layer of options over
library calls.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Protocol

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from lmod_usage.batches import Batch
from lmod_usage.ingest import FileSummary
from lmod_usage.status import Status


class Stoppable(Protocol):
    """Anything that can be asked to stop at its next safe point."""

    def request_stop(self) -> None:
        """Ask for a stop after the current unit of work commits."""


@contextmanager
def stop_on_signals(
    worker: Stoppable, display: ProgressDisplay | None = None
) -> Iterator[None]:
    """Turn the first SIGINT or SIGTERM into a clean stop, a second into abort."""

    def handle(number: int, _frame: FrameType | None) -> None:
        message = (
            f"lmod-usage: {signal.Signals(number).name} received; stopping after "
            "the current batch (send it again to abort at once)"
        )
        if display is not None:
            display.progress.console.print(message, markup=False, highlight=False)
        else:
            click.echo(message, err=True)
        worker.request_stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    previous = {
        number: signal.signal(number, handle)
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def progress_display() -> ProgressDisplay | None:
    """A progress display, if a person is watching a terminal; else None."""
    if sys.stderr.isatty() and sys.stdout.isatty():
        return ProgressDisplay()
    return None


class ProgressDisplay:
    """A progress bar per file: bytes read, loads per second, lines rejected."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[rate]:>9,.0f} loads/s"),
            TextColumn("{task.fields[rejected]:,} rejected"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.task: TaskID | None = None
        self.started = time.perf_counter()

    def __enter__(self) -> ProgressDisplay:
        self.progress.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.progress.stop()

    def start_file(self, name: str) -> None:
        """Begin a bar for a file, sized in bytes when the size is known."""
        self.finish_file()
        try:
            total: int | None = os.stat(name).st_size if name != "-" else None
        except OSError:
            total = None
        self.task = self.progress.add_task(name, total=total, rate=0.0, rejected=0)
        self.started = time.perf_counter()

    def finish_file(self) -> None:
        """Take the current bar away, so that the file's summary replaces it."""
        if self.task is not None:
            self.progress.remove_task(self.task)
            self.progress.refresh()
            self.task = None

    def update(self, batch: Batch, summary: FileSummary) -> None:
        """Move the bar on after a stored batch."""
        if self.task is None:
            return
        elapsed = max(time.perf_counter() - self.started, 1e-6)
        loads = summary.inserted + summary.duplicates
        self.progress.update(
            self.task,
            completed=batch.raw_offset,
            rate=loads / elapsed,
            rejected=summary.rejected,
        )


def print_status(status: Status) -> None:
    """Print the status of a database for a person to read."""
    revision = status.revision or "none (empty database)"
    if status.revision == status.newest_revision:
        revision += " (newest)"
    elif status.revision is not None:
        revision += f" (run 'lmod-usage migrate' for {status.newest_revision})"
    rows = ", ".join(f"{name} {count:,}" for name, count in status.rows.items())
    newest = status.newest_load.isoformat(" ") + " UTC" if status.newest_load else "-"

    click.echo(f"database:       {status.database}")
    click.echo(f"schema:         {revision}")
    click.echo(f"rows:           {rows or '-'}")
    click.echo(f"newest load:    {newest}")
    if not status.files:
        click.echo("log files:      none ingested yet")
        return

    table = Table("read to byte", "size", "lines", "last ingested (UTC)", "log file")
    table.columns[-1].overflow = "fold"
    for item in status.files:
        size = "-" if item.size is None else f"{item.size:,}"
        done = " (complete)" if item.complete else ""
        table.add_row(
            f"{item.byte_offset:,}{done}",
            size,
            f"{item.line_count:,}",
            item.updated_at.isoformat(" ", "seconds"),
            item.path,
        )
    Console().print(table)
