"""SQLite: ``executemany`` of ``INSERT OR IGNORE`` in the open transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

INSERT = (
    "INSERT OR IGNORE INTO module_usage"
    " (user_id, host_id, package_id, load_time, job_id) VALUES (?, ?, ?, ?, ?)"
)


def insert_loads(connection: Connection, rows: Sequence[Any]) -> int:
    """Insert rows, skipping stored loads; sqlite3 sums the rows changed."""
    cursor = connection.connection.cursor()
    try:
        cursor.executemany(INSERT, rows)
        return int(cursor.rowcount)
    finally:
        cursor.close()
