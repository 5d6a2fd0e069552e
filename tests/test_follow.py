"""Following a live log: growth, unfinished lines, rotation, truncation, stop."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import counts, ingest, load_line, write_log
from test_incremental import append, lines_from

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def db_file(tmp_path: Path) -> str:
    """A SQLite database for the follower and the checks."""
    return f"sqlite:///{tmp_path / 'lmod.db'}"


@pytest.fixture
def follower(db_file: str, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A follower of ``lmod.log``, stopped with SIGTERM if a test leaves it."""
    write_log(tmp_path / "lmod.log", lines_from(0, 5))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lmod_usage",
            "ingest",
            "--follow",
            "--json",
            "--quiet",
            "--db",
            db_file,
            str(tmp_path / "lmod.log"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONPATH": str(ROOT / "src")},
    )
    yield process
    if process.poll() is None:
        process.kill()
    process.communicate()


def wait_for(db_url: str, rows: int, process: subprocess.Popen[str]) -> None:
    """Wait until the follower has stored exactly ``rows`` loads."""
    deadline = time.monotonic() + 20
    while True:
        try:
            stored = counts(db_url)["module_usage"]
        except Exception:
            stored = 0
        if stored == rows:
            return
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{stored} loads stored, not {rows}"
        time.sleep(0.1)


def stop(process: subprocess.Popen[str]) -> dict[str, object]:
    """Stop the follower as systemd would, and return its summary."""
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    summary: dict[str, object] = json.loads(out)
    return summary


def test_follows_growth_and_waits_for_unfinished_lines(
    follower: subprocess.Popen[str], db_file: str, tmp_path: Path
) -> None:
    log = tmp_path / "lmod.log"
    wait_for(db_file, 5, follower)

    append(log, lines_from(5, 3))
    wait_for(db_file, 8, follower)
    last = load_line("cy", "R/4.3", 99)
    with log.open("a") as writer:
        writer.write(last[:40])
    time.sleep(1.5)
    assert counts(db_file)["module_usage"] == 8
    with log.open("a") as writer:
        writer.write(last[40:] + "\n")
    wait_for(db_file, 9, follower)

    summary = stop(follower)
    assert (summary["lines"], summary["inserted"], summary["rejected"]) == (9, 9, 0)


def test_follows_across_rotation(
    follower: subprocess.Popen[str], db_file: str, tmp_path: Path
) -> None:
    log = tmp_path / "lmod.log"
    rotated = tmp_path / "lmod.log-20260103"
    wait_for(db_file, 5, follower)

    log.rename(rotated)
    append(rotated, lines_from(5, 2))
    time.sleep(0.3)
    write_log(log, lines_from(7, 4))
    wait_for(db_file, 11, follower)
    summary = stop(follower)
    again = ingest(db_file, rotated, log)

    assert summary["inserted"] == 11
    assert [item.lines for item in again] == [0, 0]


def test_follows_a_copytruncate(
    follower: subprocess.Popen[str], db_file: str, tmp_path: Path
) -> None:
    log = tmp_path / "lmod.log"
    wait_for(db_file, 5, follower)

    shutil.copyfile(log, tmp_path / "lmod.log-20260103")
    with log.open("w") as truncated:
        truncated.write(load_line("dee", "vim/9", 500) + "\n")
    wait_for(db_file, 6, follower)

    assert stop(follower)["inserted"] == 6
