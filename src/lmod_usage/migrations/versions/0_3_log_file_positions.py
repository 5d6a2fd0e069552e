"""Remember how far each log file has been ingested.

Revision ID: 0.3
Revises: 0.2
Create Date: 2026-12-03

A log file is known by a fingerprint of its first bytes (decompressed), so it
is recognised after logrotate renames or compresses it. ``byte_offset`` is
updated in the same transaction as the loads it covers.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0.3"
down_revision = "0.2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_file",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("path", sa.String(4096), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("fingerprint_size", sa.Integer, nullable=False),
        sa.Column("device", sa.BigInteger, nullable=True),
        sa.Column("inode", sa.BigInteger, nullable=True),
        sa.Column("byte_offset", sa.BigInteger, nullable=False),
        sa.Column("line_count", sa.BigInteger, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=True),
        sa.Column("complete", sa.Boolean, nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"),
            nullable=False,
        ),
        sa.UniqueConstraint(
            "fingerprint_size", "fingerprint", name="uq_log_file_fingerprint"
        ),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
    )


def downgrade() -> None:
    op.drop_table("log_file")
