"""Bring a database made by the original scripts up to lmod-usage's revision 0.1.

The original scripts' revision is also called ``0.1`` and has the same
tables, but with 200-character columns, a unique index on ``package.path``
and no ``package.path_key``; on MySQL its load times may lack microseconds.
Revision 0.2 calls `adopt` before its own changes, so that such a database
upgrades in place and keeps its loads. On a database made by lmod-usage, and
when printing SQL, it does nothing.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

log = logging.getLogger(__name__)


def name_type(length: int) -> sa.types.TypeEngine[str]:
    """A string compared byte for byte, also under MySQL's collations."""
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"),
        "mysql",
        "mariadb",
    )


def adopt() -> None:
    """Convert the original scripts' schema, if that is what the database has."""
    if op.get_context().as_sql:
        return
    inspector = sa.inspect(op.get_bind())
    if "path_key" in {column["name"] for column in inspector.get_columns("package")}:
        return

    log.warning("converting a database made by the original lmod scripts")
    drop_path_uniques(inspector)
    widen_columns()
    fill_path_keys()
    with op.batch_alter_table("package") as batch:
        batch.alter_column("path_key", existing_type=sa.String(64), nullable=False)
        batch.create_unique_constraint("uq_package_path_key", ["path_key"])
    if op.get_context().dialect.name in ("mysql", "mariadb"):
        op.alter_column(
            "module_usage",
            "load_time",
            type_=mysql.DATETIME(fsp=6),
            existing_nullable=False,
        )


def drop_path_uniques(inspector: Any) -> None:
    """Drop unique keys on ``package.path``, too long to index once widened."""
    if op.get_context().dialect.name == "sqlite":
        return
    for constraint in inspector.get_unique_constraints("package"):
        if constraint["column_names"] == ["path"]:
            op.drop_constraint(constraint["name"], "package", type_="unique")
            return
    for index in inspector.get_indexes("package"):
        if index["unique"] and index["column_names"] == ["path"]:
            op.drop_index(index["name"], table_name="package")


def widen_columns() -> None:
    """Give names and paths the sizes real data needs; add ``path_key``."""
    for table in ("user", "host"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column("name", type_=name_type(255), existing_nullable=False)
    with op.batch_alter_table("package") as batch:
        batch.alter_column("name", type_=name_type(255), existing_nullable=False)
        batch.alter_column("version", type_=name_type(255), existing_nullable=True)
        batch.alter_column("path", type_=sa.String(4096), existing_nullable=True)
        batch.add_column(sa.Column("path_key", sa.String(64), nullable=True))


def fill_path_keys() -> None:
    """Compute each package's key as lmod-usage does: a digest of its path."""
    bind = op.get_bind()
    package = sa.table(
        "package",
        sa.column("id"),
        sa.column("name"),
        sa.column("version"),
        sa.column("path"),
        sa.column("path_key"),
    )
    rows = bind.execute(
        sa.select(package.c.id, package.c.name, package.c.version, package.c.path)
    ).all()
    for package_id, name, version, path in rows:
        module = name if version is None else f"{name}/{version}"
        text = path if path is not None else "\0module:" + module
        key = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
        bind.execute(
            package.update().where(package.c.id == package_id).values(path_key=key)
        )
