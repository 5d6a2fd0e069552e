"""MySQL and MariaDB: ``LOAD DATA LOCAL INFILE ... IGNORE`` from a scratch file.

Loading a tab-separated file is the server's fastest way in, and ``IGNORE``
skips rows that collide with a stored load. Servers that refuse local files
(MySQL 8 does by default) get multi-row ``INSERT IGNORE`` statements instead,
which PyMySQL builds from an ``executemany``.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from typing import Any

import pymysql
from sqlalchemy import Connection

log = logging.getLogger(__name__)

COLUMNS = "(user_id, host_id, package_id, load_time, job_id)"
LOAD = (
    "LOAD DATA LOCAL INFILE %s IGNORE INTO TABLE module_usage"
    " CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\'"
    f" LINES TERMINATED BY '\\n' {COLUMNS}"
)
INSERT = f"INSERT IGNORE INTO module_usage {COLUMNS} VALUES (%s, %s, %s, %s, %s)"
# Client and server error codes for "local files are not allowed".
LOCAL_FILES_REFUSED = {1148, 2068, 3948, 4166}


class MySQLWriter:
    """Inserts loads, remembering whether the server takes local files."""

    def __init__(self) -> None:
        self.local_files = True

    def __call__(self, connection: Connection, rows: Sequence[Any]) -> int:
        """Insert rows in key order, skipping stored loads; return the new ones."""
        ordered = sorted(rows, key=lambda row: (row[3], row[0], row[1], row[2]))
        cursor = connection.connection.cursor()
        try:
            if self.local_files:
                try:
                    return load_file(cursor, ordered)
                except pymysql.err.OperationalError as error:
                    if error.args[0] not in LOCAL_FILES_REFUSED:
                        raise
                    self.local_files = False
                    log.info("server refuses LOAD DATA LOCAL; using INSERT")
            cursor.executemany(INSERT, ordered)
            return int(cursor.rowcount)
        finally:
            cursor.close()


def load_file(cursor: Any, rows: Sequence[Any]) -> int:
    """Write rows to a scratch file and have the server load it."""
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".tsv") as scratch:
        scratch.write("".join(map(tab_separated, rows)))
        scratch.flush()
        cursor.execute(LOAD, (scratch.name,))
    return int(cursor.rowcount)


def tab_separated(row: Any) -> str:
    """One row as a line of the file; ``\\N`` is SQL NULL."""
    user_id, host_id, package_id, load_time, job_id = row
    job = "\\N" if job_id is None else job_id.replace("\\", "\\\\")
    return f"{user_id}\t{host_id}\t{package_id}\t{load_time}\t{job}\n"
