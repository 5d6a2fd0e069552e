"""Schema revisions: upgrade, downgrade, views, and refusal of old schemas."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from helpers import ingest, load_line, query, write_log
from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    inspect,
    text,
)

from lmod_usage.cli import main
from lmod_usage.config import parse_url

ROOT = Path(__file__).resolve().parent.parent


def table_names(db_url: str) -> set[str]:
    """Tables and views in the database."""
    engine = create_engine(parse_url(db_url, "test"))
    try:
        inspector = inspect(engine)
        return set(inspector.get_table_names()) | set(inspector.get_view_names())
    finally:
        engine.dispose()


def test_upgrade_and_downgrade_through_every_revision(db_url: str) -> None:
    assert main(["migrate", "--db", db_url, "0.1"]) == 0
    assert table_names(db_url) == {
        "alembic_version",
        "user",
        "host",
        "package",
        "module_usage",
    }

    assert main(["migrate", "--db", db_url]) == 0
    assert {"overview", "package_count", "package_version_count"} <= table_names(db_url)

    assert main(["migrate", "--db", db_url, "--downgrade", "0.1"]) == 0
    assert "package_count" not in table_names(db_url)
    assert main(["migrate", "--db", db_url, "--downgrade", "base"]) == 0
    assert table_names(db_url) == {"alembic_version"}


def test_ingest_refuses_an_older_schema(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write_log(tmp_path / "lmod.log", [load_line("ann", "gcc/12", 0)])
    assert main(["migrate", "--db", db_url, "0.1"]) == 0

    status = main(["ingest", "--db", db_url, "--quiet", str(log)])

    assert status == 5
    assert capsys.readouterr().err.splitlines()[-1] == (
        "lmod-usage: the database is at schema revision 0.1 but this version "
        "needs 0.3; run 'lmod-usage migrate' to upgrade it"
    )
    assert main(["migrate", "--db", db_url]) == 0
    assert main(["ingest", "--db", db_url, "--quiet", str(log)]) == 0


def test_views_report_each_package_its_own_last_load(
    db_url: str, tmp_path: Path
) -> None:
    lines = [
        load_line("ann", "gcc/12", 10),
        load_line("bob", "gcc/13", 20),
        load_line("ann", "gcc/13", 30),
        load_line("ann", "python/3.11", 5),
    ]
    ingest(db_url, write_log(tmp_path / "lmod.log", lines))

    by_package = query(
        db_url, "SELECT package, count, last_load FROM package_count ORDER BY package"
    )
    by_version = query(
        db_url,
        "SELECT package, version, count, last_load FROM package_version_count"
        " ORDER BY package, version",
    )
    overview = query(
        db_url,
        "SELECT " + quote(db_url, "user") + ", package, version FROM overview"
        " ORDER BY load_time",
    )

    assert [(p, c, str(t)[:19]) for p, c, t in by_package] == [
        ("gcc", 3, "2026-01-01 00:00:30"),
        ("python", 1, "2026-01-01 00:00:05"),
    ]
    assert [(p, v, c, str(t)[:19]) for p, v, c, t in by_version] == [
        ("gcc", "12", 1, "2026-01-01 00:00:10"),
        ("gcc", "13", 2, "2026-01-01 00:00:30"),
        ("python", "3.11", 1, "2026-01-01 00:00:05"),
    ]
    assert overview == [
        ("ann", "python", "3.11"),
        ("ann", "gcc", "12"),
        ("bob", "gcc", "13"),
        ("ann", "gcc", "13"),
    ]


def quote(db_url: str, name: str) -> str:
    """Quote an identifier for the backend of ``db_url``."""
    return f"`{name}`" if db_url.startswith("mysql") else f'"{name}"'


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///x.db", "CREATE TABLE user"),
        ("mysql+pymysql://u@h/lmod", "CREATE TABLE user"),
        ("postgresql+psycopg://u@h/lmod", 'CREATE TABLE "user"'),
    ],
    ids=["sqlite", "mysql", "postgresql"],
)
def test_migrate_sql_prints_the_schema_without_a_server(
    url: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", "--sql", "--db", url]) == 0

    output = capsys.readouterr().out
    assert expected in output
    assert "CREATE VIEW" in output or "CREATE SQL SECURITY INVOKER VIEW" in output
    assert "UPDATE alembic_version SET version_num='0.3'" in output


def test_plain_alembic_commands_work_in_a_checkout(db_url: str) -> None:
    environment = os.environ | {"DB_URL": db_url}
    alembic = [sys.executable, "-m", "alembic"]

    for revision in ("0.1", "head"):
        subprocess.run(
            [*alembic, "upgrade", revision], cwd=ROOT, env=environment, check=True
        )
    current = subprocess.run(
        [*alembic, "current"],
        cwd=ROOT,
        env=environment,
        check=True,
        capture_output=True,
        text=True,
    )

    assert current.stdout.split()[0] == "0.3"


def forget_revision(db_url: str) -> None:
    """Remove the revision stamp, as an interrupted schema creation leaves it."""
    engine = create_engine(parse_url(db_url, "test"))
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM alembic_version"))
    engine.dispose()


def test_unfinished_empty_schema_is_created_again(db_url: str, tmp_path: Path) -> None:
    log = write_log(tmp_path / "lmod.log", [load_line("ann", "gcc/12", 0)])
    assert main(["migrate", "--quiet", "--db", db_url, "0.2"]) == 0
    forget_revision(db_url)

    assert main(["ingest", "--quiet", "--db", db_url, str(log)]) == 0
    assert query(db_url, "SELECT version_num FROM alembic_version") == [("0.3",)]


def test_tables_with_data_but_no_revision_are_refused(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write_log(tmp_path / "lmod.log", [load_line("ann", "gcc/12", 0)])
    assert main(["ingest", "--quiet", "--db", db_url, str(log)]) == 0
    forget_revision(db_url)

    status = main(["ingest", "--quiet", "--db", db_url, str(log)])

    assert status == 5
    assert "has lmod-usage tables but no schema revision" in capsys.readouterr().err


def create_original_schema(db_url: str) -> None:
    """The schema the original scripts made, at their revision 0.1, with a load."""
    metadata = MetaData()
    Table(
        "user",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(200), nullable=False, unique=True),
    )
    Table(
        "host",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(200), nullable=False, unique=True),
    )
    Table(
        "package",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(200), nullable=False),
        Column("version", String(200)),
        Column("path", String(200), unique=True),
    )
    Table(
        "module_usage",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("user_id", Integer, ForeignKey("user.id"), nullable=False),
        Column("host_id", Integer, ForeignKey("host.id"), nullable=False),
        Column("package_id", Integer, ForeignKey("package.id"), nullable=False),
        Column("load_time", DateTime, nullable=False),
        UniqueConstraint("user_id", "host_id", "package_id", "load_time"),
    )
    engine = create_engine(parse_url(db_url, "test"))
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE alembic_version (version_num VARCHAR(32))")
        )
        connection.execute(text("INSERT INTO alembic_version VALUES ('0.1')"))
        for table, values in (
            ("user", {"name": "ann"}),
            ("host", {"name": "cn001.example.org"}),
            (
                "package",
                {
                    "name": "gcc",
                    "version": "12",
                    "path": "/apps/modulefiles/gcc/12.lua",
                },
            ),
            (
                "module_usage",
                {
                    "user_id": 1,
                    "host_id": 1,
                    "package_id": 1,
                    "load_time": datetime(2026, 1, 1),
                },
            ),
        ):
            connection.execute(metadata.tables[table].insert(), values)
    engine.dispose()


def test_database_of_the_original_scripts_is_upgraded_in_place(
    db_url: str, tmp_path: Path
) -> None:
    create_original_schema(db_url)
    whole_second = load_line("ann", "gcc/12", 0).replace(".000042", "")
    log = write_log(
        tmp_path / "lmod.log",
        [whole_second, load_line("ann", "gcc/12", 1, path="/p/" + "x" * 300)],
    )

    assert main(["migrate", "--quiet", "--db", db_url]) == 0
    [summary] = ingest(db_url, log)

    assert (summary.inserted, summary.duplicates) == (1, 1)
    assert query(db_url, "SELECT COUNT(*) FROM package") == [(2,)]
    assert query(db_url, "SELECT package, count FROM package_count") == [("gcc", 2)]
