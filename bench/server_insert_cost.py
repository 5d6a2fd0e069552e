"""How fast each database server takes loads, with and without foreign keys.

Parsing aside, the fresh-ingest rate on MariaDB and PostgreSQL is set by the
server's own work per row. This script times lmod-usage's bulk path alone on
rows made in memory (no log, no parser), then again after dropping the three
foreign keys of ``module_usage`` (and on MariaDB the indexes InnoDB made for
them), and once more with every row already stored. It shows where the time
of a fresh ingest goes, and what the foreign keys cost.

    .venv/bin/python bench/server_insert_cost.py [--rows 200000] [--backends ...]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_databases import scratch_database

from lmod_usage.bulk import writer_for
from lmod_usage.config import Settings, parse_url
from lmod_usage.database import create_database_engine
from lmod_usage.revisions import ensure_schema

BATCH = 20_000
USERS, HOSTS, PACKAGES = 4_000, 600, 2_000
DROP_KEYS = {
    "mariadb": [
        "ALTER TABLE module_usage DROP FOREIGN KEY module_usage_ibfk_1,"
        " DROP FOREIGN KEY module_usage_ibfk_2, DROP FOREIGN KEY module_usage_ibfk_3",
        "ALTER TABLE module_usage DROP INDEX user_id, DROP INDEX host_id,"
        " DROP INDEX package_id",
    ],
    "postgresql": [
        "ALTER TABLE module_usage DROP CONSTRAINT module_usage_user_id_fkey,"
        " DROP CONSTRAINT module_usage_host_id_fkey,"
        " DROP CONSTRAINT module_usage_package_id_fkey"
    ],
}
DIMENSIONS = {
    "mariadb": [
        "INSERT INTO `user` (id, name)"
        f" SELECT seq, CONCAT('u', seq) FROM seq_1_to_{USERS}",
        "INSERT INTO host (id, name)"
        f" SELECT seq, CONCAT('h', seq) FROM seq_1_to_{HOSTS}",
        "INSERT INTO package (id, name, path_key)"
        f" SELECT seq, CONCAT('p', seq), MD5(seq) FROM seq_1_to_{PACKAGES}",
    ],
    "postgresql": [
        'INSERT INTO "user" (id, name)'
        f" SELECT g, 'u' || g FROM generate_series(1, {USERS}) g",
        "INSERT INTO host (id, name)"
        f" SELECT g, 'h' || g FROM generate_series(1, {HOSTS}) g",
        "INSERT INTO package (id, name, path_key)"
        f" SELECT g, 'p' || g, md5(g::text) FROM generate_series(1, {PACKAGES}) g",
    ],
}


def make_rows(count: int, seed: int) -> list[tuple[Any, ...]]:
    """Loads in time order, users, hosts and packages drawn at random."""
    chooser = random.Random(seed)
    moment = 1_767_225_600.0
    rows = []
    for _ in range(count):
        moment += chooser.random() * 2.5
        second = int(moment)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
        rows.append(
            (
                chooser.randrange(USERS) + 1,
                chooser.randrange(HOSTS) + 1,
                chooser.randrange(PACKAGES) + 1,
                f"{stamp}.{int((moment - second) * 1e6):06d}",
                None,
            )
        )
    return rows


def timed_insert(url: str, rows: list[tuple[Any, ...]]) -> tuple[float, int]:
    """Rows per second through lmod-usage's bulk path, and how many went in."""
    engine = create_database_engine(Settings(parse_url(url, "bench"), "bench"))
    insert = writer_for(engine.dialect.name)
    inserted = 0
    started = time.perf_counter()
    for start in range(0, len(rows), BATCH):
        with engine.begin() as connection:
            inserted += insert(connection, rows[start : start + BATCH])
    seconds = time.perf_counter() - started
    engine.dispose()
    return len(rows) / seconds, inserted


def run_sql(url: str, statements: Sequence[str]) -> None:
    """Run statements in one transaction."""
    engine = create_engine(url)
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    engine.dispose()


def measure(
    backend: str, rows: list[tuple[Any, ...]], say: Callable[[str], None]
) -> None:
    """Print the insert rates of one backend."""
    with scratch_database(backend) as url:
        engine = create_database_engine(Settings(parse_url(url, "bench"), "bench"))
        ensure_schema(engine)
        engine.dispose()
        run_sql(url, DIMENSIONS[backend])

        fresh, _ = timed_insert(url, rows)
        again, inserted = timed_insert(url, rows)
        run_sql(url, ["DELETE FROM module_usage", *DROP_KEYS[backend]])
        bare, _ = timed_insert(url, rows)

    say(f"{backend:<11} {fresh:>12,.0f} {bare:>20,.0f} {again:>16,.0f}")
    if inserted:
        say(f"{backend}: the second insert stored {inserted} rows; expected none")


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the requested backends and print one line for each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--backends", default="mariadb,postgresql")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    rows = make_rows(args.rows, args.seed)
    print(f"{args.rows:,} rows in batches of {BATCH:,}; rows per second:")
    heading = ("backend", "with keys", "without foreign keys", "all duplicates")
    print("{:<11} {:>12} {:>20} {:>16}".format(*heading))
    for backend in args.backends.split(","):
        measure(backend.strip(), rows, print)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
