"""Alembic environment: run migrations on the database lmod-usage is set up for.

``lmod-usage migrate`` hands over an open connection. Plain ``alembic``
commands in a checkout find the database the same way lmod-usage does: from
``DB_URL`` or the ``DB_*`` settings, in the environment or in ``.env``.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from lmod_usage.config import load_settings
from lmod_usage.database import create_database_engine


def run_offline() -> None:
    """Print the SQL for the chosen revisions instead of running it."""
    url = context.config.attributes.get("url") or load_settings().url
    context.configure(url=url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_on(connection: Connection) -> None:
    """Run the migrations on an open connection."""
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the migrations on the given connection or the configured database."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return

    engine = create_database_engine(load_settings())
    with engine.begin() as own_connection:
        run_on(own_connection)
    engine.dispose()


if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)

if context.is_offline_mode():
    run_offline()
else:
    run_online()
