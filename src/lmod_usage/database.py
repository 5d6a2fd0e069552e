"""Engines, schema revisions and the translation of driver errors.

Every database access goes through an engine made here, so that SQLite waits
for its lock instead of failing, MySQL may use ``LOAD DATA LOCAL INFILE``,
and any driver error reaches the user as one line with the password masked.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pymysql
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from lmod_usage.config import Settings
from lmod_usage.errors import ConfigError, DatabaseError, SchemaError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
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
SCHEMA_TABLES = {"user", "host", "package", "module_usage"}


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


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration that runs this package's migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest schema revision this version of lmod-usage knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, or None when it has none."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database schema to ``revision``."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def migrate(
    engine: Engine, revision: str = "head", downgrade: bool = False
) -> tuple[str | None, str | None]:
    """Move the schema to ``revision``; return the revisions before and after.

    Going back needs ``downgrade``, since older revisions hold less (job ids,
    views) and the difference is dropped.
    """
    with engine.begin() as connection:
        before = current_revision(connection)
        config = alembic_config(connection)
        try:
            if downgrade:
                command.downgrade(config, revision)
            else:
                command.upgrade(config, revision)
        except CommandError as error:
            raise SchemaError(f"cannot migrate to {revision}: {error}") from None
        after = current_revision(connection)
    return before, after


def print_migration_sql(settings: Settings, revision: str, downgrade: bool) -> None:
    """Print the SQL that migrating to ``revision`` would run.

    Without a ``FROM:`` part, upgrades start from an empty database and
    downgrades from the newest revision.
    """
    config = alembic_config()
    config.attributes["url"] = settings.url
    try:
        if downgrade:
            target = revision if ":" in revision else f"{head_revision()}:{revision}"
            command.downgrade(config, target, sql=True)
        else:
            command.upgrade(config, revision, sql=True)
    except CommandError as error:
        raise SchemaError(f"cannot write SQL for {revision}: {error}") from None


def ensure_schema(engine: Engine) -> str:
    """Create the schema in an empty database; refuse one at another revision.

    Returns the revision in use. Upgrading a database that holds data is left
    to ``lmod-usage migrate``, so that it happens when an admin chooses.
    """
    with engine.connect() as connection:
        revision = current_revision(connection)
        tables = set(inspect(connection).get_table_names())
    head = head_revision()

    if revision == head:
        return head
    if revision is None and not tables & SCHEMA_TABLES:
        log.info("creating the schema at revision %s", head)
        upgrade(engine)
        return head
    if revision is None:
        raise SchemaError(
            "the database has lmod-usage tables but no schema revision; "
            "if it was made by hand at the documented schema, run "
            "'alembic stamp 0.1' and then 'lmod-usage migrate'"
        )

    known = {script.revision for script in walk_revisions()}
    if revision not in known:
        raise SchemaError(
            f"the database is at schema revision {revision}, which this version "
            "of lmod-usage does not know; upgrade lmod-usage"
        )
    raise SchemaError(
        f"the database is at schema revision {revision} but this version needs "
        f"{head}; run 'lmod-usage migrate' to upgrade it"
    )


def walk_revisions() -> list[Any]:
    """Every revision script, newest first."""
    return list(ScriptDirectory.from_config(alembic_config()).walk_revisions())
