"""What a database holds: its schema revision, row counts and known log files."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Connection, func, inspect, select

from lmod_usage import schema
from lmod_usage.config import Settings
from lmod_usage.database import create_database_engine, database_errors
from lmod_usage.revisions import current_revision, head_revision

COUNTED = (schema.user, schema.host, schema.package, schema.module_usage)


@dataclass(frozen=True)
class KnownFile:
    """A log file as last ingested."""

    path: str
    byte_offset: int
    size: int | None
    line_count: int
    complete: bool
    updated_at: datetime


@dataclass(frozen=True)
class Status:
    """A summary of the database for ``lmod-usage status``."""

    database: str
    revision: str | None
    newest_revision: str
    rows: dict[str, int]
    newest_load: datetime | None
    files: list[KnownFile]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready values, times in ISO 8601."""
        values = asdict(self)
        values["newest_load"] = iso(self.newest_load)
        for item in values["files"]:
            item["updated_at"] = iso(item["updated_at"])
        return values


def iso(moment: datetime | None) -> str | None:
    """A stored UTC time as ISO 8601 text."""
    return None if moment is None else moment.isoformat(" ")


def collect_status(settings: Settings) -> Status:
    """Read the status of the configured database."""
    with database_errors(settings):
        engine = create_database_engine(settings)
        try:
            with engine.connect() as connection:
                return read_status(connection, settings)
        finally:
            engine.dispose()


def read_status(connection: Connection, settings: Settings) -> Status:
    """Read the status over an open connection."""
    tables = set(inspect(connection).get_table_names())
    rows = {
        table.name: connection.execute(
            select(func.count()).select_from(table)
        ).scalar_one()
        for table in COUNTED
        if table.name in tables
    }
    newest = None
    if "module_usage" in tables:
        newest = connection.execute(
            select(func.max(schema.module_usage.c.load_time))
        ).scalar_one()
        newest = as_datetime(newest)

    return Status(
        database=settings.describe(),
        revision=current_revision(connection),
        newest_revision=head_revision(),
        rows=rows,
        newest_load=newest,
        files=known_files(connection) if "log_file" in tables else [],
    )


def known_files(connection: Connection) -> list[KnownFile]:
    """The log files the database remembers, most recently ingested first."""
    table = schema.log_file
    query = select(
        table.c.path,
        table.c.byte_offset,
        table.c.size,
        table.c.line_count,
        table.c.complete,
        table.c.updated_at,
    ).order_by(table.c.updated_at.desc(), table.c.id.desc())
    return [KnownFile(*row) for row in connection.execute(query)]


def as_datetime(value: object) -> datetime | None:
    """A load time as a datetime, whatever type the driver returned."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
