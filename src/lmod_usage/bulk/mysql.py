"""MySQL and MariaDB: multi-row ``INSERT IGNORE`` through PyMySQL.

PyMySQL folds an ``executemany`` of a plain ``INSERT ... VALUES`` into
statements of many rows each, bounded by the server's packet size.
``IGNORE`` skips rows that collide with the unique key of a stored load.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

INSERT = (
    "INSERT IGNORE INTO module_usage"
    " (user_id, host_id, package_id, load_time, job_id)"
    " VALUES (%s, %s, %s, %s, %s)"
)


def insert_loads(connection: Connection, rows: Sequence[Any]) -> int:
    """Insert rows, skipping stored loads; the server counts the inserted."""
    cursor = connection.connection.cursor()
    try:
        cursor.executemany(INSERT, rows)
        return int(cursor.rowcount)
    finally:
        cursor.close()
