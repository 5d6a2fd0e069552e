"""Ingest log files: read, parse in batches, store each batch in one transaction.

A batch is the unit of commit. A rejected line is counted and handed to the
caller, and the rest of the file goes on; a file that cannot be read ends
with an InputError after every batch before it was stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from sqlalchemy import Engine

from lmod_usage.batches import Batch, Rejection
from lmod_usage.config import Settings
from lmod_usage.database import create_database_engine, database_errors
from lmod_usage.errors import Interrupted
from lmod_usage.pipeline import batches
from lmod_usage.positions import Position, PositionBook
from lmod_usage.readers import LogInput, open_log
from lmod_usage.revisions import ensure_schema
from lmod_usage.store import CodeMap, LoadStore

log = logging.getLogger(__name__)

BATCH_SIZE = 20_000


@dataclass
class FileSummary:
    """What one file gave: the figures printed after it is ingested."""

    path: str
    lines: int = 0
    inserted: int = 0
    duplicates: int = 0
    skipped: int = 0
    rejected: int = 0
    seconds: float = 0.0

    def add(self, batch: Batch) -> FileSummary:
        """Count a stored batch, and return the summary so far."""
        self.lines += batch.lines
        self.inserted += batch.inserted
        self.duplicates += len(batch) - batch.inserted
        self.skipped += batch.skipped
        self.rejected += len(batch.rejections)
        return self

    def as_dict(self) -> dict[str, object]:
        """The summary as JSON-ready values."""
        values = asdict(self)
        values["seconds"] = round(self.seconds, 3)
        return values


class Ingester:
    """Ingests files into one database, keeping its id caches across files."""

    def __init__(
        self,
        settings: Settings,
        batch_size: int = BATCH_SIZE,
        parallel: bool | None = None,
    ) -> None:
        self.settings = settings
        self.batch_size = batch_size
        self.parallel = parallel
        self.stop_requested = False
        with database_errors(settings):
            self.engine: Engine = create_database_engine(settings)
            try:
                self.revision = ensure_schema(self.engine)
            except BaseException:
                self.engine.dispose()
                raise
        self.store = LoadStore(self.engine)
        self.positions = PositionBook(self.engine)

    def request_stop(self) -> None:
        """Stop after the batch being stored commits (for signal handlers)."""
        self.stop_requested = True

    def ingest(
        self, name: str, full: bool = False, listeners: Listeners | None = None
    ) -> FileSummary:
        """Ingest one file (``-`` for standard input) and summarise it.

        Only what was not read before is read, unless ``full``. Raises
        Interrupted, after committing, when a stop was requested.
        """
        if self.stop_requested:
            raise Interrupted(f"stopped before reading {name}")
        listeners = listeners or Listeners()
        started = time.perf_counter()
        summary = FileSummary(path=name)
        with open_log(name) as log_input, database_errors(self.settings):
            position = self.positions.locate(log_input, full)
            first = position.line_count + 1
            if not (position.complete and log_input.compression):
                self.read(log_input, position, summary, listeners)

        summary.seconds = time.perf_counter() - started
        log_reading(summary, first, position.line_count)
        return summary

    def read(
        self,
        log_input: LogInput,
        position: Position,
        summary: FileSummary,
        listeners: Listeners,
    ) -> None:
        """Store the batches of a log from its position, one transaction each."""
        codes = CodeMap()
        start = (position.byte_offset, position.line_count)
        for batch in batches(log_input, self.batch_size, start, self.parallel):
            self.store_batch(batch, codes, log_input, position)
            listeners.stored(batch, summary.add(batch))
            if self.stop_requested and not batch.final:
                raise Interrupted(
                    f"stopped; {log_input.name} is stored up to line "
                    f"{batch.end_line:,}, and the next run continues from there"
                )

    def store_batch(
        self, batch: Batch, codes: CodeMap, log_input: LogInput, position: Position
    ) -> None:
        """Store a batch and move the file's position past it, in one commit."""
        record = None
        if position.file_id is not None and batch.end_offset > position.byte_offset:
            record = self.positions.recorder(position, batch, log_input)
        if len(batch) or record is not None:
            batch.inserted = self.store.write(batch, codes, record)
        position.byte_offset = max(position.byte_offset, batch.end_offset)
        position.line_count = max(position.line_count, batch.end_line)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()


def log_reading(summary: FileSummary, first: int, last: int) -> None:
    """Say which lines of a file this run read."""
    if summary.lines == 0:
        log.info("%s: nothing new after line %d", summary.path, last)
        return
    log.info(
        "%s: read lines %d to %d: %d stored, %d duplicates, %d rejected",
        summary.path,
        first,
        last,
        summary.inserted,
        summary.duplicates,
        summary.rejected,
    )


@dataclass
class Listeners:
    """Who hears about rejected lines and stored batches."""

    on_reject: Callable[[Rejection], None] | None = None
    on_progress: Callable[[Batch, FileSummary], None] | None = None

    def stored(self, batch: Batch, summary: FileSummary) -> None:
        """Tell the listeners about a batch that was just stored."""
        if self.on_reject is not None:
            for item in batch.rejections:
                self.on_reject(item)
        if self.on_progress is not None:
            self.on_progress(batch, summary)
