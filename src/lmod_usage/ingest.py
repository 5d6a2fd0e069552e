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
from lmod_usage.database import create_database_engine, database_errors, ensure_schema
from lmod_usage.pipeline import batches
from lmod_usage.readers import open_log
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

    def as_dict(self) -> dict[str, object]:
        """The summary as JSON-ready values."""
        values = asdict(self)
        values["seconds"] = round(self.seconds, 3)
        return values


RejectHandler = Callable[[Rejection], None]


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
        codes = CodeMap()
        with open_log(name) as log_input, database_errors(self.settings):
            for batch in batches(log_input, self.batch_size, self.parallel):
                self.store_batch(batch, codes, summary, on_reject)

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
        batch: Batch,
        codes: CodeMap,
        summary: FileSummary,
        on_reject: RejectHandler | None,
    ) -> None:
        """Store one batch and add its figures to the file's summary."""
        inserted = self.store.write(batch, codes) if len(batch) else 0
        summary.lines += batch.lines
        summary.inserted += inserted
        summary.duplicates += len(batch) - inserted
        summary.skipped += batch.skipped
        summary.rejected += len(batch.rejections)
        if on_reject is not None:
            for item in batch.rejections:
                on_reject(item)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()
