"""Fixtures: a fresh database on each backend, and sample logs.

Each test that takes ``db_url`` runs once per backend: SQLite in a temporary
directory, and a uniquely named database on the MariaDB and PostgreSQL
servers, dropped afterwards. Outside CI an unreachable server skips its
tests with a hint; under ``CI=true`` it fails them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

MYSQL_ADMIN = os.environ.get(
    "LMOD_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql"
)
POSTGRESQL_ADMIN = os.environ.get(
    "LMOD_TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
ADMIN_URLS = {"mariadb": MYSQL_ADMIN, "postgresql": POSTGRESQL_ADMIN}
SETTING = {"mariadb": "LMOD_TEST_MYSQL_URL", "postgresql": "LMOD_TEST_POSTGRESQL_URL"}
BACKENDS = ["sqlite", "mariadb", "postgresql"]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@cache
def server_problem(backend: str) -> str | None:
    """Why the backend's server cannot be used, or None when it can."""
    engine = create_engine(ADMIN_URLS[backend])
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        return str(error).splitlines()[0]
    finally:
        engine.dispose()
    return None


def require_server(backend: str) -> None:
    """Skip (or fail under CI) when the backend's test server is down."""
    problem = server_problem(backend)
    if problem is None:
        return
    message = (
        f"{backend} test server unreachable ({problem}); start it or point "
        f"{SETTING[backend]} at one"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def create_server_database(backend: str) -> URL:
    """Create a uniquely named database and return its URL."""
    name = f"lmod_test_{uuid.uuid4().hex[:12]}"
    admin = make_url(ADMIN_URLS[backend])
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if backend == "mariadb":
            connection.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
        else:
            connection.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return admin.set(database=name)


def drop_server_database(backend: str, url: URL) -> None:
    """Drop a test database, ending any connection still open to it."""
    engine = create_engine(ADMIN_URLS[backend], isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if backend == "mariadb":
            connection.execute(text(f"DROP DATABASE IF EXISTS {url.database}"))
            connection.execute(text(f"DROP USER IF EXISTS '{url.database}'@'%'"))
        else:
            connection.execute(
                text(f"DROP DATABASE IF EXISTS {url.database} WITH (FORCE)")
            )
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The name of the backend a test runs on."""
    name: str = request.param
    if name != "sqlite":
        require_server(name)
    return name


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database on the current backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'lmod.db'}"
        return

    yield from server_database(backend)


@pytest.fixture(params=["mariadb", "postgresql"])
def server_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A URL of an empty database on each database server."""
    require_server(request.param)
    yield from server_database(request.param)


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A URL of an empty database on the MariaDB test server."""
    require_server("mariadb")
    yield from server_database("mariadb")


def server_database(backend: str) -> Iterator[str]:
    """Create a database for one test and drop it afterwards."""
    url = create_server_database(backend)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        drop_server_database(backend, url)


@pytest.fixture
def sample_log() -> Path:
    """The sample log shipped in the repository."""
    return EXAMPLES / "sample.log"


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the developer's DB_* settings and .env out of every test."""
    for name in ("DB_URL", "DB_USER", "DB_PASSWORD", "DB_HOST", "DB_PORT", "DB_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
