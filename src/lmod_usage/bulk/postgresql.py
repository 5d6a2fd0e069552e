"""PostgreSQL: ``COPY`` into a temporary table, then one deduplicating insert.

``COPY`` is the fastest way into PostgreSQL but cannot skip duplicates, so
rows land in a per-session temporary table first and move on with
``ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

STAGE = "lmod_usage_stage"
CREATE_STAGE = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} ("
    " user_id integer, host_id integer, package_id integer,"
    " load_time timestamp, job_id varchar(255)"
    ") ON COMMIT DELETE ROWS"
)
COPY = f"COPY {STAGE} (user_id, host_id, package_id, load_time, job_id) FROM STDIN"
MOVE = (
    "INSERT INTO module_usage (user_id, host_id, package_id, load_time, job_id)"
    f" SELECT user_id, host_id, package_id, load_time, job_id FROM {STAGE}"
    " ORDER BY load_time, user_id, host_id, package_id"
    " ON CONFLICT (load_time, user_id, host_id, package_id) DO NOTHING"
)


def insert_loads(connection: Connection, rows: Sequence[Any]) -> int:
    """Copy rows to the stage and move the new ones into ``module_usage``."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(CREATE_STAGE)
        with cursor.copy(COPY) as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(MOVE)
        inserted = int(cursor.rowcount)
        cursor.execute(f"TRUNCATE {STAGE}")
        return inserted
    finally:
        cursor.close()
