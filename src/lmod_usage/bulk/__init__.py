"""Each backend's fastest way to store a batch of loads without duplicates.

Each module offers a callable ``(connection, rows) -> int`` that inserts
rows of ``(user_id, host_id, package_id, load_time, job_id)`` inside the
caller's transaction, skips the ones already stored, and returns
how many it inserted. Writers insert rows in the order of the unique key
(``load_time`` first), so concurrent writers take their row locks in the
same order and the index grows at its end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Connection

from lmod_usage.bulk import mysql, postgresql, sqlite

LoadRow = tuple[int, int, int, str, str | None]
InsertLoads = Callable[[Connection, Sequence[LoadRow]], int]


def writer_for(backend: str) -> InsertLoads:
    """A bulk insert function for a SQLAlchemy backend name."""
    if backend in ("mysql", "mariadb"):
        return mysql.MySQLWriter()
    if backend == "postgresql":
        return postgresql.insert_loads
    return sqlite.insert_loads
