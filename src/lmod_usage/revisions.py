"""Schema revisions: create, check, upgrade and downgrade through Alembic.

Ingestion creates the schema in an empty database by itself, under a lock so
that two ingesters starting at once do not both try; anything else is left
to ``lmod-usage migrate``, run when an admin chooses.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, inspect, text

from lmod_usage.config import Settings
from lmod_usage.database import WRITE_OPTION
from lmod_usage.errors import SchemaError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
SCHEMA_TABLES = {"user", "host", "package", "module_usage"}
VIEWS = {"overview", "package_count", "package_version_count"}
DROP_ORDER = ("module_usage", "log_file", "package", "host", "user")
LOCK_NAME = "lmod_usage_schema"
LOCK_SECONDS = 300
# PostgreSQL's advisory locks take a number; this one stands for LOCK_NAME.
POSTGRESQL_LOCK_KEY = 0x4C4D4F44
LOCK_STATEMENTS = {
    "postgresql": (
        "SELECT pg_advisory_lock(:key) IS NOT NULL",
        "SELECT pg_advisory_unlock(:key)",
    ),
    "mysql": ("SELECT GET_LOCK(:name, :seconds)", "SELECT RELEASE_LOCK(:name)"),
}


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

    Returns the revision in use. The check is repeated under a lock before
    creating anything, since another ingester may be creating it right now.
    """
    head = head_revision()
    with engine.connect() as connection:
        if current_revision(connection) == head:
            return head

    with engine.connect() as connection:
        connection = connection.execution_options(**{WRITE_OPTION: True})
        with schema_lock(connection), connection.begin():
            revision = current_revision(connection)
            if revision is None and clear_unfinished_schema(connection):
                log.info("creating the schema at revision %s", head)
                command.upgrade(alembic_config(connection), head)
                return head
    check_revision(revision, head)
    return head


def clear_unfinished_schema(connection: Connection) -> bool:
    """Whether a database without a revision is ready for a new schema.

    It is when it holds none of the schema's tables, or only empty ones: what
    a first run killed while creating the schema leaves on MySQL, where each
    CREATE TABLE commits at once. Those empty tables are dropped.
    """
    inspector = inspect(connection)
    present = set(inspector.get_table_names()) & (SCHEMA_TABLES | {"log_file"})
    if not present:
        return True
    quote = connection.dialect.identifier_preparer.quote
    for name in present:
        count = connection.execute(text(f"SELECT COUNT(*) FROM {quote(name)}"))
        if count.scalar_one():
            return False

    log.warning("dropping the empty tables of an unfinished schema creation")
    for name in set(inspector.get_view_names()) & VIEWS:
        connection.execute(text(f"DROP VIEW {quote(name)}"))
    for name in DROP_ORDER:
        if name in present:
            connection.execute(text(f"DROP TABLE {quote(name)}"))
    return True


def check_revision(revision: str | None, head: str) -> None:
    """Explain why a database at ``revision`` cannot be used as it is."""
    if revision == head:
        return
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


@contextmanager
def schema_lock(connection: Connection) -> Iterator[None]:
    """Hold a session lock that serialises schema changes between processes.

    Taken before the transaction that changes the schema and released after
    it commits, so the next holder sees the finished schema. SQLite needs no
    lock beyond its write transaction.
    """
    backend = connection.dialect.name
    if backend == "postgresql":
        take, release = LOCK_STATEMENTS["postgresql"]
    elif backend in ("mysql", "mariadb"):
        take, release = LOCK_STATEMENTS["mysql"]
    else:
        yield
        return

    parameters = {
        "name": LOCK_NAME,
        "key": POSTGRESQL_LOCK_KEY,
        "seconds": LOCK_SECONDS,
    }
    got = connection.execute(text(take), parameters).scalar()
    connection.commit()
    if not got:
        raise SchemaError("another process holds the schema lock; try again later")
    try:
        yield
    finally:
        connection.execute(text(release), parameters)
        connection.commit()


def walk_revisions() -> list[Any]:
    """Every revision script, newest first."""
    return list(ScriptDirectory.from_config(alembic_config()).walk_revisions())
