"""Small helpers shared by the tests: writing logs and reading tables back."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from lmod_usage.config import Settings, parse_url
from lmod_usage.ingest import FileSummary, Ingester

TABLES = ("user", "host", "package", "module_usage")


def load_line(
    user: str,
    module: str,
    second: int,
    host: str = "cn001",
    path: str | None = "default",
    extra: str = "",
) -> str:
    """A documented-format load line at 2026-01-01 00:00:00 UTC plus ``second``."""
    epoch = 1767225600 + second
    path_part = ""
    if path == "default":
        path_part = f" path=/apps/modulefiles/{module}.lua"
    elif path is not None:
        path_part = f" path={path}"
    return (
        f"Jan  1 00:00:00 {host} ModuleUsageTracking: user={user} module={module}"
        f"{path_part} host={host}.example.org{extra} time={epoch}.000042"
    )


def write_log(path: Path, lines: list[str]) -> Path:
    """Write lines to a log file, one per line."""
    path.write_text("".join(line + "\n" for line in lines))
    return path


def ingest(db_url: str, *paths: Path, full: bool = False) -> list[FileSummary]:
    """Ingest files through the library and return their summaries."""
    ingester = Ingester(Settings(parse_url(db_url, "test"), "test"))
    try:
        return [ingester.ingest(str(path), full=full) for path in paths]
    finally:
        ingester.close()


def counts(db_url: str) -> dict[str, int]:
    """Rows in each table of the schema."""
    engine = create_engine(parse_url(db_url, "test"))
    try:
        with engine.connect() as connection:
            quote = engine.dialect.identifier_preparer.quote
            return {
                table: connection.execute(
                    text(f"SELECT COUNT(*) FROM {quote(table)}")
                ).scalar_one()
                for table in TABLES
            }
    finally:
        engine.dispose()


def query(db_url: str, sql: str) -> list[tuple[object, ...]]:
    """Run a query and return its rows as tuples."""
    engine = create_engine(parse_url(db_url, "test"))
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()
