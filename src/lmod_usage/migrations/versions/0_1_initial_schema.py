"""The documented schema: users, hosts, packages and their loads.

Revision ID: 0.1
Revises:
Create Date: 2026-12-03

Text columns are sized for real data: module paths of up to 4,096
characters. Neither MySQL nor PostgreSQL can hold such a value in a unique
index, so ``package.path`` is unique through ``path_key``, a SHA-256 digest of
the path (or of the module name for loads logged without a path).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0.1"
down_revision = None
branch_labels = None
depends_on = None


def name_type(length: int) -> sa.types.TypeEngine[str]:
    """A string compared byte for byte, also under MySQL's collations."""
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"),
        "mysql",
        "mariadb",
    )


# MySQL/MariaDB: transactional tables that hold any UTF-8 text.
MYSQL_OPTIONS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def upgrade() -> None:
    op.create_table(
        "user",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", name_type(255), nullable=False),
        sa.UniqueConstraint("name", name="uq_user_name"),
        **MYSQL_OPTIONS,
    )
    op.create_table(
        "host",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", name_type(255), nullable=False),
        sa.UniqueConstraint("name", name="uq_host_name"),
        **MYSQL_OPTIONS,
    )
    op.create_table(
        "package",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", name_type(255), nullable=False),
        sa.Column("version", name_type(255), nullable=True),
        sa.Column("path", sa.String(4096), nullable=True),
        sa.Column("path_key", sa.String(64), nullable=False),
        sa.UniqueConstraint("path_key", name="uq_package_path_key"),
        **MYSQL_OPTIONS,
    )
    op.create_table(
        "module_usage",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
        ),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("user.id"), nullable=False),
        sa.Column("host_id", sa.Integer, sa.ForeignKey("host.id"), nullable=False),
        sa.Column(
            "package_id", sa.Integer, sa.ForeignKey("package.id"), nullable=False
        ),
        sa.Column(
            "load_time",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"),
            nullable=False,
        ),
        sa.UniqueConstraint(
            "load_time",
            "user_id",
            "host_id",
            "package_id",
            name="uq_module_usage_load",
        ),
        **MYSQL_OPTIONS,
    )


def downgrade() -> None:
    op.drop_table("module_usage")
    op.drop_table("package")
    op.drop_table("host")
    op.drop_table("user")
