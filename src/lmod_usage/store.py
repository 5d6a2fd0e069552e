"""Store batches of parsed loads: names to ids, then the backend's bulk insert.

User, host and package ids are cached in memory for the whole run, so a
batch only asks the database about names it has not seen yet. Ids learnt in
a transaction join the cache only once it commits: a batch that is rolled
back and retried must not leave ids behind that were never stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from lmod_usage import schema
from lmod_usage.bulk import LoadRow, writer_for
from lmod_usage.database import WRITE_OPTION
from lmod_usage.parsing import LoadRecord

log = logging.getLogger(__name__)

PackageIdentity = tuple[str | None, str, str | None]
T = TypeVar("T")

LOOKUP_CHUNK = 500
RETRIES = 5
# Driver error codes that mean "another writer got in the way; try again".
RETRYABLE_MYSQL = {1205, 1213}
RETRYABLE_POSTGRESQL = {"40001", "40P01"}


class LoadStore:
    """Writes batches of load records into one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.backend = engine.dialect.name
        self.insert_loads = writer_for(self.backend)
        self.users: dict[str, int] = {}
        self.hosts: dict[str, int] = {}
        self.packages: dict[PackageIdentity, int] = {}

    def write(
        self, records: Sequence[LoadRecord], extra: Callable[[Connection], None] | None
    ) -> int:
        """Store records in one transaction and return how many were new.

        ``extra`` runs in the same transaction, for bookkeeping that must
        commit together with the rows. Lock conflicts with a concurrent writer
        are retried a few times before they are reported.
        """
        for attempt in range(1, RETRIES + 1):
            try:
                return self.write_once(records, extra)
            except OperationalError as error:
                if attempt == RETRIES or not self.is_retryable(error):
                    raise
                log.info("write conflict, retrying (%s): %s", attempt, error.orig)
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    def write_once(
        self, records: Sequence[LoadRecord], extra: Callable[[Connection], None] | None
    ) -> int:
        """One attempt at storing a batch."""
        learnt: dict[str, dict[Any, int]] = {"user": {}, "host": {}, "package": {}}
        with self.engine.connect() as connection:
            connection = connection.execution_options(**{WRITE_OPTION: True})
            with connection.begin():
                rows = self.resolve(connection, records, learnt)
                inserted = self.insert_loads(connection, rows) if rows else 0
                if extra is not None:
                    extra(connection)

        self.users.update(learnt["user"])
        self.hosts.update(learnt["host"])
        self.packages.update(learnt["package"])
        return inserted

    def resolve(
        self,
        connection: Connection,
        records: Sequence[LoadRecord],
        learnt: dict[str, dict[Any, int]],
    ) -> list[LoadRow]:
        """Turn records into id rows, sorted by the unique key of a load."""
        user_names = {record.user for record in records}
        host_names = {record.host for record in records}
        users = self.lookup_names(connection, schema.user, user_names, learnt["user"])
        hosts = self.lookup_names(connection, schema.host, host_names, learnt["host"])
        packages = self.lookup_packages(connection, records, learnt["package"])

        rows = [
            (
                users[record.user],
                hosts[record.host],
                packages[(record.path, record.package, record.version)],
                record.load_time,
                record.job_id,
            )
            for record in records
        ]
        rows.sort(key=lambda row: row[:4])
        return rows

    def lookup_names(
        self,
        connection: Connection,
        table: Table,
        names: set[str],
        learnt: dict[str, int],
    ) -> dict[str, int]:
        """Ids for the user or host names of a batch, creating missing ones."""
        cache = self.users if table is schema.user else self.hosts
        missing = sorted(names - cache.keys())
        if missing:
            self.insert_ignore(connection, table, [{"name": name} for name in missing])
            for chunk in chunks(missing):
                query = select(table.c.name, table.c.id).where(table.c.name.in_(chunk))
                learnt.update({name: id_ for name, id_ in connection.execute(query)})
        return merged(cache, learnt)

    def lookup_packages(
        self,
        connection: Connection,
        records: Sequence[LoadRecord],
        learnt: dict[PackageIdentity, int],
    ) -> dict[PackageIdentity, int]:
        """Ids for the packages of a batch, keyed by path, name and version."""
        identities = {(r.path, r.package, r.version) for r in records}
        missing = sorted(identities - self.packages.keys(), key=str)
        if missing:
            keys = {identity: package_key_of(identity) for identity in missing}
            values = sorted(
                (package_values(identity, key) for identity, key in keys.items()),
                key=lambda value: value["path_key"],
            )
            self.insert_ignore(connection, schema.package, values)

            table = schema.package
            found: dict[str, int] = {}
            for chunk in chunks(sorted(set(keys.values()))):
                query = select(table.c.path_key, table.c.id)
                query = query.where(table.c.path_key.in_(chunk))
                found.update({key: id_ for key, id_ in connection.execute(query)})
            learnt.update({identity: found[key] for identity, key in keys.items()})
        return merged(self.packages, learnt)

    def insert_ignore(
        self, connection: Connection, table: Table, values: list[dict[str, Any]]
    ) -> None:
        """Insert dimension rows, leaving those another writer stored alone."""
        if self.backend == "postgresql":
            statement: Any = postgresql.insert(table).on_conflict_do_nothing()
        elif self.backend == "sqlite":
            statement = sqlite.insert(table).on_conflict_do_nothing()
        else:
            statement = insert(table).prefix_with("IGNORE")
        connection.execute(statement, values)

    def is_retryable(self, error: OperationalError) -> bool:
        """Whether a failed write lost a lock race and may simply be retried."""
        orig = error.orig
        if self.backend == "postgresql":
            return getattr(orig, "sqlstate", None) in RETRYABLE_POSTGRESQL
        if self.backend in ("mysql", "mariadb"):
            args: tuple[Any, ...] = getattr(orig, "args", ())
            return bool(args) and args[0] in RETRYABLE_MYSQL
        return False


def package_key_of(identity: PackageIdentity) -> str:
    """The unique key of a package identity (path, name, version)."""
    path, name, version = identity
    module = name if version is None else f"{name}/{version}"
    return schema.package_key(path, module)


def package_values(identity: PackageIdentity, key: str) -> dict[str, Any]:
    """The column values of a new package row."""
    path, name, version = identity
    return {"name": name, "version": version, "path": path, "path_key": key}


def merged(cache: dict[Any, int], learnt: dict[Any, int]) -> dict[Any, int]:
    """The cache with this transaction's new ids, copied only when there are any."""
    return cache | learnt if learnt else cache


def chunks(items: Sequence[T], size: int = LOOKUP_CHUNK) -> Iterable[Sequence[T]]:
    """Split a list into slices short enough for an ``IN (...)`` clause."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
