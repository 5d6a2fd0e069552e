"""Ingest log files: read, parse in batches, store each batch in one transaction.

A batch is the unit of commit. A rejected line is counted and handed to the
caller, and the rest of the file goes on; a file that cannot be read ends
with an InputError after every batch before it was stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

from sqlalchemy import Engine

from lmod_usage.config import Settings
from lmod_usage.database import create_database_engine, database_errors, ensure_schema
from lmod_usage.parsing import LineParser, LoadRecord, RejectedLine
from lmod_usage.readers import LogInput, open_log, read_lines
from lmod_usage.store import LoadStore

log = logging.getLogger(__name__)

BATCH_SIZE = 20_000
SHOWN_TEXT = 300


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

    def as_dict(self) -> dict[str, object]:
        """The summary as JSON-ready values."""
        values = asdict(self)
        values["seconds"] = round(self.seconds, 3)
        return values


@dataclass(frozen=True)
class Rejection:
    """A line that looked like a load record but could not be stored."""

    path: str
    line_number: int
    reason: str
    text: str


@dataclass
class ParsedBatch:
    """Records parsed from consecutive lines, with what was left out."""

    records: list[LoadRecord] = field(default_factory=list)
    lines: int = 0
    skipped: int = 0
    rejections: list[Rejection] = field(default_factory=list)


RejectHandler = Callable[[Rejection], None]


def parse_batches(log_input: LogInput, batch_size: int) -> Iterator[ParsedBatch]:
    """Parse a log into batches of at most ``batch_size`` records."""
    parse = LineParser(reference_time=log_input.modified).parse
    batch = ParsedBatch()
    number = counted = 0
    for number, line in enumerate(read_lines(log_input), 1):
        try:
            record = parse(line)
        except RejectedLine as error:
            batch.rejections.append(rejection(log_input.name, number, error, line))
            continue
        if record is None:
            batch.skipped += 1
            continue

        batch.records.append(record)
        if len(batch.records) >= batch_size:
            batch.lines, counted = number - counted, number
            yield batch
            batch = ParsedBatch()

    batch.lines = number - counted
    yield batch


def rejection(name: str, number: int, error: RejectedLine, line: bytes) -> Rejection:
    """Describe a rejected line, shortened and with undecodable bytes escaped."""
    text = line.rstrip(b"\r\n").decode("utf-8", "backslashreplace")
    if len(text) > SHOWN_TEXT:
        text = text[:SHOWN_TEXT] + "..."
    return Rejection(name, number, error.reason, text)


class Ingester:
    """Ingests files into one database, keeping its id caches across files."""

    def __init__(self, settings: Settings, batch_size: int = BATCH_SIZE) -> None:
        self.settings = settings
        self.batch_size = batch_size
        with database_errors(settings):
            self.engine: Engine = create_database_engine(settings)
            try:
                self.revision = ensure_schema(self.engine)
            except BaseException:
                self.engine.dispose()
                raise
        self.store = LoadStore(self.engine)

    def ingest(self, name: str, on_reject: RejectHandler | None = None) -> FileSummary:
        """Ingest one file (``-`` for standard input) and summarise it."""
        started = time.perf_counter()
        summary = FileSummary(path=name)
        with open_log(name) as log_input, database_errors(self.settings):
            for batch in parse_batches(log_input, self.batch_size):
                self.store_batch(batch, summary, on_reject)

        summary.seconds = time.perf_counter() - started
        log.info(
            "%s: %d lines, %d stored, %d duplicates, %d skipped, %d rejected",
            name,
            summary.lines,
            summary.inserted,
            summary.duplicates,
            summary.skipped,
            summary.rejected,
        )
        return summary

    def store_batch(
        self,
        batch: ParsedBatch,
        summary: FileSummary,
        on_reject: RejectHandler | None,
    ) -> None:
        """Store one batch and add its figures to the file's summary."""
        inserted = self.store.write(batch.records, None) if batch.records else 0
        summary.lines += batch.lines
        summary.inserted += inserted
        summary.duplicates += len(batch.records) - inserted
        summary.skipped += batch.skipped
        summary.rejected += len(batch.rejections)
        if on_reject is not None:
            for item in batch.rejections:
                on_reject(item)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()
