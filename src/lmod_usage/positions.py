"""How far each log file has been ingested, so repeated runs read only new bytes.

A file is known by a fingerprint of its first bytes after decompression.
The fingerprint survives what logrotate does to a file (renaming it,
compressing it, copying it before truncating the original), while a new
file that happens to reuse an old inode gets a fingerprint of its own.
Device and inode are kept to choose between files that share a fingerprint.

A file's row is updated in the same transaction as the loads read from it,
so a run stopped at any moment resumes exactly after the last stored line.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from lmod_usage import schema
from lmod_usage.batches import Batch
from lmod_usage.database import WRITE_OPTION, insert_ignore
from lmod_usage.readers import READ_ERRORS, LogInput

log = logging.getLogger(__name__)

FINGERPRINT_BYTES = 4096
table = schema.log_file


@dataclass
class Position:
    """Where reading a file starts, and the row that remembers it."""

    file_id: int | None
    byte_offset: int = 0
    line_count: int = 0
    complete: bool = False


def digest(data: bytes) -> str:
    """The fingerprint of a file's first bytes."""
    return hashlib.sha256(data).hexdigest()


class PositionBook:
    """Finds, starts and moves on the remembered positions of log files."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def locate(self, log_input: LogInput, full: bool) -> Position:
        """Find where to start reading a log, and seek its stream there.

        Standard input and empty files are read whole and not remembered.
        With ``full`` the file is read from its start but its row is still
        kept up to date.
        """
        head = read_head(log_input)
        if not head:
            return Position(None)

        with self.write_connection() as connection, connection.begin():
            position = self.find(connection, log_input, head)
            if position is None:
                return Position(self.create(connection, log_input, head))
        if full:
            return Position(position.file_id)
        return self.resume(log_input, position)

    def find(
        self, connection: Connection, log_input: LogInput, head: bytes
    ) -> Position | None:
        """The position of a known file whose fingerprint matches ``head``."""
        sizes = connection.execute(
            select(table.c.fingerprint_size)
            .distinct()
            .where(table.c.fingerprint_size <= len(head))
        ).scalars()
        candidates: list[Any] = []
        for size in sizes:
            query = select(table).where(
                table.c.fingerprint_size == size,
                table.c.fingerprint == digest(head[:size]),
            )
            candidates.extend(connection.execute(query).mappings())
        if not candidates:
            return None

        same_inode = [
            row
            for row in candidates
            if (row["device"], row["inode"]) == (log_input.device, log_input.inode)
        ]
        row = (same_inode or candidates)[0]
        return Position(
            row["id"], row["byte_offset"], row["line_count"], row["complete"]
        )

    def create(self, connection: Connection, log_input: LogInput, head: bytes) -> int:
        """Remember a file seen for the first time and return its row id.

        Another ingester may have just remembered the same file; then its row
        is the one used.
        """
        values = {
            "path": log_input.name,
            "fingerprint": digest(head),
            "fingerprint_size": len(head),
            "device": log_input.device,
            "inode": log_input.inode,
            "byte_offset": 0,
            "line_count": 0,
            "size": log_input.size,
            "complete": False,
            "updated_at": now(),
        }
        key = ["fingerprint_size", "fingerprint"]
        connection.execute(insert_ignore(table, connection.dialect.name, key), values)
        query = select(table.c.id).where(
            table.c.fingerprint_size == len(head),
            table.c.fingerprint == digest(head),
        )
        file_id: int = connection.execute(query).scalar_one()
        return file_id

    def resume(self, log_input: LogInput, position: Position) -> Position:
        """Seek to the remembered offset, or start over if the file shrank."""
        offset = position.byte_offset
        if offset == 0 or (position.complete and log_input.compression is not None):
            return position

        if log_input.compression is None:
            shrank = log_input.size is not None and log_input.size < offset
        else:
            shrank = log_input.stream.seek(offset) != offset
        if not shrank:
            log_input.stream.seek(offset)
            log.info("%s: resuming after byte %d", log_input.name, offset)
            return position

        log.warning(
            "%s: shorter than the %d bytes read before; reading it from the start",
            log_input.name,
            offset,
        )
        log_input.stream.seek(0)
        self.reset(position)
        return Position(position.file_id)

    def reset(self, position: Position) -> None:
        """Forget how far a file was read, as it now holds other content."""
        with self.write_connection() as connection, connection.begin():
            connection.execute(
                update(table)
                .where(table.c.id == position.file_id)
                .values(byte_offset=0, line_count=0, complete=False)
            )

    def recorder(self, position: Position, batch: Batch, log_input: LogInput) -> Any:
        """A step that records a stored batch's end, for the batch's transaction.

        The offset only moves forward, so a slower concurrent ingester of the
        same file cannot send it back.
        """
        values = {
            "path": log_input.name,
            "device": log_input.device,
            "inode": log_input.inode,
            "byte_offset": batch.end_offset,
            "line_count": batch.end_line,
            "size": log_input.current_size(),
            "complete": batch.final and log_input.compression is not None,
            "updated_at": now(),
        }
        statement = (
            update(table)
            .where(
                table.c.id == position.file_id,
                table.c.byte_offset <= batch.end_offset,
            )
            .values(**values)
        )

        def record(connection: Connection) -> None:
            connection.execute(statement)

        return record

    def write_connection(self) -> Connection:
        """A connection whose transactions write (on SQLite: take the lock)."""
        return self.engine.connect().execution_options(**{WRITE_OPTION: True})


def read_head(log_input: LogInput) -> bytes:
    """The first bytes of a seekable log, to fingerprint it, or b"" if none.

    A file too damaged to give them is read without a remembered position,
    so that the lines it does hold are still stored.
    """
    if not log_input.seekable:
        return b""
    try:
        head = log_input.stream.read(FINGERPRINT_BYTES)
        log_input.stream.seek(0)
    except READ_ERRORS as error:
        log.warning(
            "%s: cannot fingerprint (%s); reading it whole", log_input.name, error
        )
        log_input.stream.seek(0)
        return b""
    return head


def now() -> datetime:
    """The current time in UTC, without a zone, as load times are stored."""
    return datetime.now(timezone.utc).replace(tzinfo=None)
