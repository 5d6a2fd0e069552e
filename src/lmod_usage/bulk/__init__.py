"""Each backend's fastest way to store a batch of loads without duplicates.

Every module here offers one function, ``insert_loads(connection, rows)``,
that inserts rows of ``(user_id, host_id, package_id, load_time, job_id)``
inside the caller's transaction, skips the ones already stored, and returns
how many it inserted. Rows arrive sorted by the unique key, so concurrent
writers take their row locks in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Connection

from lmod_usage.bulk import mysql, postgresql, sqlite

LoadRow = tuple[int, int, int, str, str | None]
InsertLoads = Callable[[Connection, Sequence[LoadRow]], int]

WRITERS: dict[str, InsertLoads] = {
    "sqlite": sqlite.insert_loads,
    "postgresql": postgresql.insert_loads,
    "mysql": mysql.insert_loads,
    "mariadb": mysql.insert_loads,
}


def writer_for(backend: str) -> InsertLoads:
    """The bulk insert function for a SQLAlchemy backend name."""
    return WRITERS[backend]
