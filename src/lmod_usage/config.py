"""Where the database is: one URL, or the ``DB_*`` settings existing sites use.

Precedence, first match wins:

1. ``--db URL`` on the command line;
2. ``DB_URL`` in the environment or in ``.env``;
3. ``DB_USER`` set: MySQL/MariaDB from ``DB_USER``, ``DB_PASSWORD``,
   ``DB_HOST`` (``localhost``), ``DB_PORT`` (``3306``) and ``DB_NAME``
   (``lmod``), as the original scripts read them;
4. SQLite at ``./lmod.db``, or ``./<DB_NAME>.db`` when ``DB_NAME`` is set.

Values in the real environment win over those in ``.env``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from lmod_usage.errors import ConfigError

MYSQL_DRIVER = "mysql+pymysql"
# The drivers this project installs, used when a URL names none.
DEFAULT_DRIVERS = {
    "mysql": MYSQL_DRIVER,
    "mariadb": "mariadb+pymysql",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
}
DEFAULT_HOST = "localhost"
DEFAULT_PORT = 3306
DEFAULT_NAME = "lmod"


@dataclass(frozen=True)
class Settings:
    """The database to use and where that choice came from."""

    url: URL
    source: str

    def describe(self) -> str:
        """The URL with its password masked, safe to print or log."""
        return self.url.render_as_string(hide_password=True)


def read_environment(env_file: Path | None = None) -> dict[str, str]:
    """Merge ``.env`` (if present) under the real environment."""
    path = env_file if env_file is not None else Path(".env")
    merged: dict[str, str] = {}
    if path.is_file():
        values = dotenv_values(path)
        merged.update({key: value for key, value in values.items() if value})
    merged.update(os.environ)
    return merged


def load_settings(
    db_option: str | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Decide which database to use, following the documented precedence."""
    env = read_environment() if environ is None else environ

    if db_option:
        return Settings(parse_url(db_option, "--db"), "--db")
    if env.get("DB_URL"):
        return Settings(parse_url(env["DB_URL"], "DB_URL"), "DB_URL")
    if env.get("DB_USER"):
        return Settings(mysql_url(env), "DB_USER")

    name = env.get("DB_NAME") or DEFAULT_NAME
    return Settings(URL.create("sqlite", database=f"{name}.db"), "default")


def parse_url(text: str, origin: str) -> URL:
    """Parse a SQLAlchemy URL, naming the setting it came from when it is bad."""
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        # The text may hold a password, so it is not repeated in the message.
        raise ConfigError(
            f"{origin} is not a database URL; expected for example "
            "sqlite:///lmod.db or postgresql+psycopg://user@host/lmod"
        ) from None
    return url.set(drivername=DEFAULT_DRIVERS.get(url.drivername, url.drivername))


def mysql_url(env: Mapping[str, str]) -> URL:
    """Build the MySQL/MariaDB URL from the ``DB_*`` settings."""
    port_text = env.get("DB_PORT") or str(DEFAULT_PORT)
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(f"DB_PORT must be a number, not {port_text!r}") from None

    return URL.create(
        MYSQL_DRIVER,
        username=env["DB_USER"],
        password=env.get("DB_PASSWORD") or None,
        host=env.get("DB_HOST") or DEFAULT_HOST,
        port=port,
        database=env.get("DB_NAME") or DEFAULT_NAME,
    )
