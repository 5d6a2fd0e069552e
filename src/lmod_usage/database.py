"""Engines, and the translation of driver errors into one-line messages.

Every database access goes through an engine made here, so that SQLite waits
for its lock instead of failing, MySQL may use ``LOAD DATA LOCAL INFILE``,
and any driver error reaches the user as one line with the password masked.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pymysql
from sqlalchemy import (
    Connection,
    Engine,
    Insert,
    Table,
    create_engine,
    event,
    insert,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from lmod_usage.config import Settings
from lmod_usage.errors import ConfigError, DatabaseError

log = logging.getLogger(__name__)

SQLITE_BUSY_SECONDS = 300
# Execution option that makes a SQLite transaction take the write lock at once.
WRITE_OPTION = "lmod_usage_write"
BACKENDS = ("sqlite", "mysql", "mariadb", "postgresql")
# What the drivers raise when their own cursors are used for bulk paths.
DRIVER_ERRORS: tuple[type[Exception], ...] = (
    sqlite3.Error,
    pymysql.err.Error,
    psycopg.Error,
)


def insert_ignore(table: Table, backend: str, key: list[str]) -> Insert:
    """An INSERT that leaves alone rows whose ``key`` columns are stored.

    Naming the key keeps any other conflict, such as a primary key sequence
    that fell behind after a restore, an error instead of a silent skip.
    MySQL has no such clause, and ignores every duplicate key.
    """
    if backend == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=key)
    if backend == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=key)
    return insert(table).prefix_with("IGNORE")


def create_database_engine(settings: Settings) -> Engine:
    """Create the engine for the configured database, tuned per backend."""
    url = settings.url
    backend = url.get_backend_name()
    if backend not in BACKENDS:
        raise ConfigError(
            f"cannot use {settings.describe()}: lmod-usage works with "
            "sqlite, mysql/mariadb and postgresql"
        )

    options: dict[str, Any] = {"pool_pre_ping": backend != "sqlite"}
    if backend == "sqlite":
        options["connect_args"] = {"timeout": SQLITE_BUSY_SECONDS}
    elif backend in ("mysql", "mariadb"):
        # LOAD DATA LOCAL is the fast path; '?local_infile=0' turns it off.
        local_files = url.query.get("local_infile", "1") != "0"
        options["connect_args"] = {"local_infile": local_files, "charset": "utf8mb4"}

    try:
        engine = create_engine(url, **options)
    except (ArgumentError, NoSuchModuleError, ImportError) as error:
        raise ConfigError(
            f"cannot use {settings.describe()}: {error}; the drivers installed "
            "with lmod-usage are mysql+pymysql and postgresql+psycopg"
        ) from None

    if backend == "sqlite":
        configure_sqlite(engine)
    return engine


def configure_sqlite(engine: Engine) -> None:
    """Let writers queue for SQLite's lock instead of failing with 'locked'.

    pysqlite opens transactions lazily and as readers, so two writers can each
    hold a read lock and neither can upgrade. Writers instead start with
    ``BEGIN IMMEDIATE``, which waits for the busy timeout.
    """

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@contextmanager
def database_errors(settings: Settings) -> Iterator[None]:
    """Turn any driver or SQLAlchemy error into a one-line DatabaseError."""
    try:
        yield
    except DBAPIError as error:
        reason = describe_driver_error(error.orig)
        raise DatabaseError(
            mask(f"{settings.describe()}: {reason}", settings)
        ) from error
    except SQLAlchemyError as error:
        reason = str(error).splitlines()[0]
        raise DatabaseError(
            mask(f"{settings.describe()}: {reason}", settings)
        ) from error


def describe_driver_error(error: BaseException | None) -> str:
    """The first line of what the driver said, without SQL or parameters."""
    if error is None:
        return "unknown database error"
    args: tuple[Any, ...] = getattr(error, "args", ())
    if len(args) == 2 and isinstance(args[0], int):
        return f"{args[1]} (error {args[0]})"
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def mask(text: str, settings: Settings) -> str:
    """Replace the password, wherever a driver echoed it, by asterisks."""
    password = settings.url.password
    if password:
        text = text.replace(str(password), "***")
    return text
