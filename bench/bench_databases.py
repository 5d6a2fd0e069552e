"""Scratch databases for the ingest benchmark, and how their servers are set up.

Each measurement starts from an empty database: a SQLite file in a temporary
folder, or ``lmod_bench_<random>`` created on the MariaDB or PostgreSQL
server and dropped afterwards, also when the measurement fails. The servers
are the ones the test suite uses, found through the same variables.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

BACKENDS = ("sqlite", "mariadb", "postgresql")
ALIASES = {"mysql": "mariadb", "postgres": "postgresql"}
SERVER_URLS = {
    "mariadb": ("LMOD_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql"),
    "postgresql": (
        "LMOD_TEST_POSTGRESQL_URL",
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    ),
}
CONNECT_TIMEOUT = 5


@dataclass(frozen=True)
class BackendFacts:
    """A backend's version and the settings that weigh most on write speed."""

    backend: str
    version: str
    settings: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """One phrase for the header line, e.g. ``MariaDB 10.11 (a=1, b=2)``."""
        label = {"sqlite": "SQLite", "mariadb": "MariaDB"}.get(
            self.backend, "PostgreSQL"
        )
        pairs = ", ".join(f"{key}={value}" for key, value in self.settings.items())
        return f"{label} {self.version}" + (f" ({pairs})" if pairs else "")


def backend_name(text: str) -> str:
    """The canonical name of a backend given on the command line."""
    name = ALIASES.get(text.strip().lower(), text.strip().lower())
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {text!r}; choose from {', '.join(BACKENDS)}")
    return name


def server_url(backend: str) -> str:
    """The administrative URL of a server: its variable, else the default."""
    variable, default = SERVER_URLS[backend]
    return os.environ.get(variable) or default


def admin_engine(backend: str) -> Engine:
    """An engine on the server's administrative database, outside transactions.

    CREATE and DROP DATABASE cannot run inside a transaction on PostgreSQL.
    """
    timeout = {"connect_timeout": CONNECT_TIMEOUT}
    return create_engine(
        server_url(backend), isolation_level="AUTOCOMMIT", connect_args=timeout
    )


def describe_server(backend: str) -> str:
    """The server URL with any password masked, for messages."""
    return make_url(server_url(backend)).render_as_string(hide_password=True)


def read_facts(backend: str) -> BackendFacts:
    """Ask a backend for its version and write settings; fails if unreachable."""
    if backend == "sqlite":
        return BackendFacts("sqlite", sqlite3.sqlite_version)

    engine = admin_engine(backend)
    try:
        with engine.connect() as connection:
            if backend == "mariadb":
                return mariadb_facts(connection)
            return postgresql_facts(connection)
    finally:
        engine.dispose()


def mariadb_facts(connection: Connection) -> BackendFacts:
    """Version, InnoDB buffer pool and log flushing of a MariaDB server."""
    run = connection.execute
    version = str(run(text("SELECT VERSION()")).scalar())
    pool, flush = run(
        text("SELECT @@innodb_buffer_pool_size, @@innodb_flush_log_at_trx_commit")
    ).one()
    settings = {
        "innodb_buffer_pool_size": f"{int(pool) // 2**20}M",
        "innodb_flush_log_at_trx_commit": str(flush),
    }
    return BackendFacts("mariadb", version.split("-")[0], settings)


def postgresql_facts(connection: Connection) -> BackendFacts:
    """Version, shared buffers and commit durability of a PostgreSQL server."""
    run = connection.execute
    version = str(run(text("SHOW server_version")).scalar())
    settings = {
        name: str(run(text(f"SHOW {name}")).scalar())
        for name in ("shared_buffers", "synchronous_commit")
    }
    return BackendFacts("postgresql", version.split()[0], settings)


@contextmanager
def scratch_database(backend: str) -> Iterator[str]:
    """Yield the URL of a new, empty database, removed again on the way out."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="lmod_bench_") as folder:
            yield f"sqlite:///{folder}/lmod.db"
        return

    name = f"lmod_bench_{secrets.token_hex(6)}"
    engine = admin_engine(backend)
    try:
        with engine.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        try:
            url = make_url(server_url(backend)).set(database=name)
            yield url.render_as_string(hide_password=False)
        finally:
            drop_database(engine, backend, name)
    finally:
        engine.dispose()


def drop_database(engine: Engine, backend: str, name: str) -> None:
    """Drop a scratch database; on PostgreSQL even with sessions still open."""
    force = " WITH (FORCE)" if backend == "postgresql" else ""
    with engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}{force}"))
