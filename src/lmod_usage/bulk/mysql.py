"""MySQL and MariaDB: ``LOAD DATA LOCAL INFILE`` from a scratch file.

Loading a tab-separated file is the server's fastest way in. New loads,
later than anything stored, are loaded straight into ``module_usage`` with
``IGNORE``. A batch whose time range already holds loads (a re-read file)
is loaded into a temporary table first and only its missing rows are moved
on, because InnoDB rejects each duplicate far more slowly than a join finds
it. Servers that refuse local files (MySQL 8 does by default) get multi-row
``INSERT`` statements instead, which PyMySQL builds from an ``executemany``.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from typing import Any

import pymysql
from sqlalchemy import Connection

log = logging.getLogger(__name__)

STAGE = "lmod_usage_stage"
COLUMNS = "(user_id, host_id, package_id, load_time, job_id)"
CREATE_STAGE = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} (user_id INT, host_id INT,"
    " package_id INT, load_time DATETIME(6), job_id VARCHAR(255))"
    " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
)
LOAD = (
    "LOAD DATA LOCAL INFILE %s {ignore} INTO TABLE {table}"
    " CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\'"
    f" LINES TERMINATED BY '\\n' {COLUMNS}"
)
INSERT = "INSERT {ignore} INTO {table} " + COLUMNS + " VALUES (%s, %s, %s, %s, %s)"
OVERLAP = "SELECT 1 FROM module_usage WHERE load_time BETWEEN %s AND %s LIMIT 1"
MOVE = (
    f"INSERT IGNORE INTO module_usage {COLUMNS}"
    " SELECT s.user_id, s.host_id, s.package_id, s.load_time, s.job_id"
    f" FROM {STAGE} AS s LEFT JOIN module_usage AS m"
    " ON m.load_time = s.load_time AND m.user_id = s.user_id"
    " AND m.host_id = s.host_id AND m.package_id = s.package_id"
    " WHERE m.id IS NULL"
    " ORDER BY s.load_time, s.user_id, s.host_id, s.package_id"
)
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
            cursor.execute(OVERLAP, (ordered[0][3], ordered[-1][3]))
            if cursor.fetchone() is None:
                return self.fill(cursor, "module_usage", ordered)

            cursor.execute(CREATE_STAGE)
            self.fill(cursor, STAGE, ordered)
            cursor.execute(MOVE)
            inserted = int(cursor.rowcount)
            cursor.execute(f"TRUNCATE TABLE {STAGE}")
            return inserted
        finally:
            cursor.close()

    def fill(self, cursor: Any, table: str, rows: Sequence[Any]) -> int:
        """Put rows into a table, ignoring duplicates; return how many went in."""
        ignore = "IGNORE" if table == "module_usage" else ""
        if self.local_files:
            try:
                return load_file(cursor, LOAD.format(ignore=ignore, table=table), rows)
            except pymysql.err.OperationalError as error:
                if error.args[0] not in LOCAL_FILES_REFUSED:
                    raise
                self.local_files = False
                log.info("server refuses LOAD DATA LOCAL; using INSERT")
        cursor.executemany(INSERT.format(ignore=ignore, table=table), rows)
        return int(cursor.rowcount)


def load_file(cursor: Any, statement: str, rows: Sequence[Any]) -> int:
    """Write rows to a scratch file and have the server load it."""
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".tsv") as scratch:
        scratch.write("".join(map(tab_separated, rows)))
        scratch.flush()
        cursor.execute(statement, (scratch.name,))
    return int(cursor.rowcount)


def tab_separated(row: Any) -> str:
    """One row as a line of the file; ``\\N`` is SQL NULL."""
    user_id, host_id, package_id, load_time, job_id = row
    job = "\\N" if job_id is None else job_id.replace("\\", "\\\\")
    return f"{user_id}\t{host_id}\t{package_id}\t{load_time}\t{job}\n"
