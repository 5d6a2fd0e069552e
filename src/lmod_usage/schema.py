"""The database schema as SQLAlchemy Core tables, shared by ingestion and reports.

The Alembic revisions are the authority on what a database holds; these
definitions describe the newest revision so that queries can be built from
them. Column sizes live here as constants because the parser uses them too:
a value that would not fit its column is rejected before it reaches the
database.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql

USER_NAME_LENGTH = 255
HOST_NAME_LENGTH = 255
PACKAGE_NAME_LENGTH = 255
VERSION_LENGTH = 255
PATH_LENGTH = 4096
JOB_ID_LENGTH = 255
PACKAGE_KEY_LENGTH = 64
FINGERPRINT_LENGTH = 64

metadata = MetaData()


def name_type(length: int) -> String:
    """A string type compared byte for byte on MySQL as on the other backends.

    MySQL's default collations fold case, so ``Alice`` and ``alice`` would
    collide in a unique index; a binary collation keeps them apart.
    """
    return String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"),
        "mysql",
        "mariadb",
    )


def load_time_type() -> DateTime:
    """A timestamp without time zone that keeps microseconds on every backend."""
    return DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def package_key(path: str | None, module: str) -> str:
    """The unique key of a package row: a digest of its modulefile path.

    Paths may be 4,096 characters long, more than MySQL or PostgreSQL can put
    in a unique index, so uniqueness is enforced on this digest instead. Loads
    logged without a path are keyed by their module name, in a namespace that
    no absolute path can reach.
    """
    text = path if path is not None else "\0module:" + module
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


user = Table(
    "user",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", name_type(USER_NAME_LENGTH), nullable=False, unique=True),
)

host = Table(
    "host",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", name_type(HOST_NAME_LENGTH), nullable=False, unique=True),
)

package = Table(
    "package",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", name_type(PACKAGE_NAME_LENGTH), nullable=False),
    Column("version", name_type(VERSION_LENGTH), nullable=True),
    Column("path", String(PATH_LENGTH), nullable=True),
    Column("path_key", String(PACKAGE_KEY_LENGTH), nullable=False, unique=True),
)

module_usage = Table(
    "module_usage",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("user_id", Integer, ForeignKey("user.id"), nullable=False),
    Column("host_id", Integer, ForeignKey("host.id"), nullable=False),
    Column("package_id", Integer, ForeignKey("package.id"), nullable=False),
    Column("load_time", load_time_type(), nullable=False),
    Column("job_id", name_type(JOB_ID_LENGTH), nullable=True),
    UniqueConstraint(
        "load_time", "user_id", "host_id", "package_id", name="uq_module_usage_load"
    ),
)

log_file = Table(
    "log_file",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("path", String(PATH_LENGTH), nullable=False),
    Column("fingerprint", String(FINGERPRINT_LENGTH), nullable=False),
    Column("fingerprint_size", Integer, nullable=False),
    Column("device", BigInteger, nullable=True),
    Column("inode", BigInteger, nullable=True),
    Column("byte_offset", BigInteger, nullable=False),
    Column("line_count", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=True),
    Column("complete", Boolean, nullable=False),
    Column("updated_at", load_time_type(), nullable=False),
    UniqueConstraint("fingerprint_size", "fingerprint", name="uq_log_file_fingerprint"),
)
