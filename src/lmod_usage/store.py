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
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Table, select
from sqlalchemy.exc import OperationalError

from lmod_usage import schema
from lmod_usage.batches import Batch, PackageIdentity
from lmod_usage.bulk import LoadRow, writer_for
from lmod_usage.database import DRIVER_ERRORS, WRITE_OPTION, insert_ignore

log = logging.getLogger(__name__)

Extra = Callable[[Connection], None]
T = TypeVar("T")

LOOKUP_CHUNK = 500
RETRIES = 5
# Driver error codes that mean "another writer got in the way; try again".
RETRYABLE_MYSQL = {1205, 1213}
RETRYABLE_POSTGRESQL = {"40001", "40P01"}
RETRY_ON: tuple[type[Exception], ...] = (OperationalError, *DRIVER_ERRORS)


@dataclass
class CodeMap:
    """Database ids for the name codes of one parse, in code order."""

    users: list[int] = field(default_factory=list)
    hosts: list[int] = field(default_factory=list)
    packages: list[int] = field(default_factory=list)


@dataclass
class Learnt:
    """Ids found or created in the current transaction, kept once it commits."""

    users: dict[str, int] = field(default_factory=dict)
    hosts: dict[str, int] = field(default_factory=dict)
    packages: dict[PackageIdentity, int] = field(default_factory=dict)


class LoadStore:
    """Writes batches of loads into one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.backend = engine.dialect.name
        self.insert_loads = writer_for(self.backend)
        self.users: dict[str, int] = {}
        self.hosts: dict[str, int] = {}
        self.packages: dict[PackageIdentity, int] = {}

    def write(self, batch: Batch, codes: CodeMap, extra: Extra | None = None) -> int:
        """Store a batch in one transaction and return how many loads were new.

        ``codes`` belongs to the parse the batch came from and grows with each
        batch. ``extra`` runs in the same transaction, for bookkeeping that
        must commit together with the rows. Lock conflicts with a concurrent
        writer are retried a few times before they are reported.
        """
        for attempt in range(1, RETRIES + 1):
            try:
                return self.write_once(batch, codes, extra)
            except RETRY_ON as error:
                if attempt == RETRIES or not self.is_retryable(error):
                    raise
                log.info("write conflict, retrying (%s): %s", attempt, error)
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    def write_once(self, batch: Batch, codes: CodeMap, extra: Extra | None) -> int:
        """One attempt at storing a batch."""
        learnt = Learnt()
        with self.engine.connect() as connection:
            connection = connection.execution_options(**{WRITE_OPTION: True})
            with connection.begin():
                added = self.resolve(connection, batch, learnt)
                rows = load_rows(batch, codes, added)
                inserted = self.insert_loads(connection, rows) if rows else 0
                if extra is not None:
                    extra(connection)

        codes.users += added.users
        codes.hosts += added.hosts
        codes.packages += added.packages
        self.users.update(learnt.users)
        self.hosts.update(learnt.hosts)
        self.packages.update(learnt.packages)
        return inserted

    def resolve(self, connection: Connection, batch: Batch, learnt: Learnt) -> CodeMap:
        """Database ids for the names a batch introduces."""
        return CodeMap(
            users=self.name_ids(connection, schema.user, batch.new_users, learnt.users),
            hosts=self.name_ids(connection, schema.host, batch.new_hosts, learnt.hosts),
            packages=self.package_ids(connection, batch.new_packages, learnt),
        )

    def name_ids(
        self,
        connection: Connection,
        table: Table,
        names: list[str],
        learnt: dict[str, int],
    ) -> list[int]:
        """Ids for user or host names, in order, creating the missing ones."""
        cache = self.users if table is schema.user else self.hosts
        missing = sorted(set(names) - cache.keys())
        if missing:
            values = [{"name": name} for name in missing]
            self.insert_ignore(connection, table, values, ["name"])
            for chunk in chunks(missing):
                query = select(table.c.name, table.c.id).where(table.c.name.in_(chunk))
                learnt.update({name: id_ for name, id_ in connection.execute(query)})
        return [cache.get(name) or learnt[name] for name in names]

    def package_ids(
        self,
        connection: Connection,
        identities: list[PackageIdentity],
        learnt: Learnt,
    ) -> list[int]:
        """Ids for packages (path, name, version), creating the missing ones."""
        missing = sorted(set(identities) - self.packages.keys(), key=str)
        if missing:
            keys = {identity: package_key_of(identity) for identity in missing}
            values = sorted(
                (package_values(identity, key) for identity, key in keys.items()),
                key=lambda value: value["path_key"],
            )
            self.insert_ignore(connection, schema.package, values, ["path_key"])

            table = schema.package
            found: dict[str, int] = {}
            for chunk in chunks(sorted(set(keys.values()))):
                query = select(table.c.path_key, table.c.id)
                query = query.where(table.c.path_key.in_(chunk))
                found.update({key: id_ for key, id_ in connection.execute(query)})
            learnt.packages.update({i: found[key] for i, key in keys.items()})
        cache = self.packages
        return [cache.get(i) or learnt.packages[i] for i in identities]

    def insert_ignore(
        self,
        connection: Connection,
        table: Table,
        values: list[dict[str, Any]],
        key: list[str],
    ) -> None:
        """Insert dimension rows, leaving those another writer stored alone."""
        connection.execute(insert_ignore(table, self.backend, key), values)

    def is_retryable(self, error: Exception) -> bool:
        """Whether a failed write lost a lock race and may simply be retried."""
        orig = getattr(error, "orig", error)
        if self.backend == "postgresql":
            return getattr(orig, "sqlstate", None) in RETRYABLE_POSTGRESQL
        if self.backend in ("mysql", "mariadb"):
            args: tuple[Any, ...] = getattr(orig, "args", ())
            return bool(args) and args[0] in RETRYABLE_MYSQL
        return False


def load_rows(batch: Batch, codes: CodeMap, added: CodeMap) -> list[LoadRow]:
    """The rows of ``module_usage`` for a batch, its codes turned into ids."""
    users = codes.users + added.users
    hosts = codes.hosts + added.hosts
    packages = codes.packages + added.packages
    return list(
        zip(
            map(users.__getitem__, batch.users),
            map(hosts.__getitem__, batch.hosts),
            map(packages.__getitem__, batch.packages),
            batch.load_times,
            batch.job_ids,
            strict=True,
        )
    )


def package_key_of(identity: PackageIdentity) -> str:
    """The unique key of a package identity (path, name, version)."""
    path, name, version = identity
    module = name if version is None else f"{name}/{version}"
    return schema.package_key(path, module)


def package_values(identity: PackageIdentity, key: str) -> dict[str, Any]:
    """The column values of a new package row."""
    path, name, version = identity
    return {"name": name, "version": version, "path": path, "path_key": key}


def chunks(items: Sequence[T], size: int = LOOKUP_CHUNK) -> Iterable[Sequence[T]]:
    """Split a list into slices short enough for an ``IN (...)`` clause."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
