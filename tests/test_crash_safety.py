"""Killed, stopped, concurrent and disconnected runs store each load once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ADMIN_URLS
from helpers import counts, load_line, write_log
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

from lmod_usage.pipeline import PARALLEL_MIN_BYTES

ROOT = Path(__file__).resolve().parent.parent
LOADS = 32_000  # over 4 MiB: parsed in a second process
BATCH = "200"


@pytest.fixture
def big_log(tmp_path: Path) -> Path:
    """A log of LOADS distinct loads, stored in many small batches."""
    lines = [
        load_line(f"user{i % 50}", f"pkg{i % 40}/{i % 3}", i, host=f"cn{i % 9}")
        for i in range(LOADS)
    ]
    log = write_log(tmp_path / "lmod.log", lines)
    assert log.stat().st_size >= PARALLEL_MIN_BYTES
    return log


def start(db_url: str, *files: Path, cwd: Path) -> subprocess.Popen[str]:
    """Start ``lmod-usage ingest`` in its own process."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lmod_usage",
            "ingest",
            "--json",
            "--quiet",
            "--batch-size",
            BATCH,
            "--db",
            db_url,
            *map(str, files),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=os.environ | {"PYTHONPATH": str(ROOT / "src")},
    )


def stored(db_url: str) -> int:
    """Loads stored so far, or 0 before the schema exists."""
    try:
        return counts(db_url)["module_usage"]
    except Exception:
        return 0


def wait_for_rows(db_url: str, process: subprocess.Popen[str], at_least: int) -> None:
    """Wait until the ingester has committed at least ``at_least`` loads."""
    deadline = time.monotonic() + 60
    while stored(db_url) < at_least:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the ingester stored nothing in time"
        time.sleep(0.02)


def finish(process: subprocess.Popen[str]) -> list[dict[str, int]]:
    """Wait for an ingester that must succeed, and return its summaries."""
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.parametrize("fraction", [0.1, 0.4, 0.7])
def test_sigkill_loses_and_repeats_nothing(
    db_url: str, big_log: Path, tmp_path: Path, fraction: float
) -> None:
    process = start(db_url, big_log, cwd=tmp_path)
    wait_for_rows(db_url, process, int(LOADS * fraction))
    process.kill()
    process.communicate()
    before = stored(db_url)

    [summary] = finish(start(db_url, big_log, cwd=tmp_path))

    assert before >= int(LOADS * fraction)
    assert summary["duplicates"] == 0
    assert before + summary["inserted"] == LOADS
    assert stored(db_url) == LOADS


@pytest.mark.parametrize(
    "signal_number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"]
)
def test_signal_stops_cleanly_after_a_commit(
    db_url: str, big_log: Path, tmp_path: Path, signal_number: int
) -> None:
    process = start(db_url, big_log, cwd=tmp_path)
    wait_for_rows(db_url, process, 1)

    process.send_signal(signal_number)
    out, err = process.communicate(timeout=60)
    before = stored(db_url)
    [summary] = finish(start(db_url, big_log, cwd=tmp_path))

    assert process.returncode == 130
    assert err.splitlines()[-1].startswith(
        f"lmod-usage: stopped; {big_log} is stored up to line "
    )
    assert out == ""
    assert summary["duplicates"] == 0
    assert before + summary["inserted"] == LOADS


def test_two_ingesters_at_once(db_url: str, big_log: Path, tmp_path: Path) -> None:
    text_lines = big_log.read_text().splitlines()
    overlapping = write_log(
        tmp_path / "other.log",
        text_lines[LOADS // 2 :]
        + [load_line("zed", "new/1", LOADS + i) for i in range(5)],
    )

    first = start(db_url, big_log, cwd=tmp_path)
    second = start(db_url, overlapping, big_log, cwd=tmp_path)
    summaries = finish(first) + finish(second)

    assert stored(db_url) == LOADS + 5
    assert sum(item["inserted"] for item in summaries) == LOADS + 5
    assert counts(db_url)["user"] == 51


def test_database_going_away_ends_the_run_and_the_next_continues(
    server_url: str, big_log: Path, tmp_path: Path
) -> None:
    url = make_url(server_url)
    user_url = with_own_account(url)
    process = start(user_url, big_log, cwd=tmp_path)
    wait_for_rows(server_url, process, 1)

    shut_out(url, True)
    _, err = process.communicate(timeout=60)
    shut_out(url, False)
    before = stored(server_url)
    [summary] = finish(start(user_url, big_log, cwd=tmp_path))

    assert process.returncode == 4
    assert len(err.splitlines()) == 1, err
    assert err.startswith("lmod-usage: ")
    assert "Traceback" not in err
    assert summary["duplicates"] == 0
    assert before + summary["inserted"] == LOADS


def admin(url: URL) -> Engine:
    """An autocommit engine on the test server of ``url``."""
    backend = "postgresql" if url.get_backend_name() == "postgresql" else "mariadb"
    return create_engine(ADMIN_URLS[backend], isolation_level="AUTOCOMMIT")


def with_own_account(url: URL) -> str:
    """A URL that reaches the database as an account of its own (MariaDB).

    MariaDB cannot close a database to the administrator, so the ingester
    connects as an account that can be dropped; PostgreSQL closes the
    database itself.
    """
    if url.get_backend_name() == "postgresql":
        return url.render_as_string(hide_password=False)
    engine = admin(url)
    with engine.connect() as connection:
        connection.execute(
            text(f"CREATE USER '{url.database}'@'%' IDENTIFIED BY 'pw-{url.database}'")
        )
        connection.execute(
            text(f"GRANT ALL ON `{url.database}`.* TO '{url.database}'@'%'")
        )
    engine.dispose()
    own = url.set(username=url.database, password=f"pw-{url.database}")
    return own.render_as_string(hide_password=False)


def shut_out(url: URL, closed: bool) -> None:
    """Close the database to new connections and end the open ones, or reopen it."""
    engine = admin(url)
    name = url.database
    with engine.connect() as connection:
        if url.get_backend_name() == "postgresql":
            allow = "false" if closed else "true"
            connection.execute(text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS {allow}"))
            if closed:
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
        elif closed:
            connection.execute(text(f"DROP USER '{name}'@'%'"))
            ids = connection.execute(
                text(
                    "SELECT id FROM information_schema.processlist WHERE user = :name"
                ),
                {"name": name},
            ).scalars()
            for connection_id in list(ids):
                connection.execute(text(f"KILL {int(connection_id)}"))
        else:
            connection.execute(
                text(f"CREATE USER '{name}'@'%' IDENTIFIED BY 'pw-{name}'")
            )
            connection.execute(text(f"GRANT ALL ON `{name}`.* TO '{name}'@'%'"))
    engine.dispose()
