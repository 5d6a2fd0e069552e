"""The command line: exit codes, one-line errors, output formats, secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MYSQL_ADMIN, require_server
from helpers import counts, load_line, write_log
from sqlalchemy.engine import make_url

from lmod_usage.cli import main

ROOT = Path(__file__).resolve().parent.parent


def run(
    *args: str, stdin: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m lmod_usage`` as a separate process."""
    return subprocess.run(
        [sys.executable, "-m", "lmod_usage", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=os.environ | {"PYTHONPATH": str(ROOT / "src")},
        check=False,
    )


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """A small log with two loads, one rejected line and one unrelated line."""
    return write_log(
        tmp_path / "lmod.log",
        [
            load_line("ann", "gcc/12", 0),
            "Jan  1 00:00:01 cn001 ModuleUsageTracking: user=ann module= time=1",
            "Jan  1 00:00:02 cn001 crond[77]: (root) CMD (run-parts /etc/cron.hourly)",
            load_line("bob", "gcc/12", 3),
        ],
    )


def test_summary_line(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", str(log)]) == 0

    captured = capsys.readouterr()
    summary = captured.out.strip()
    assert summary.startswith(
        f"{log}: 4 lines, 2 stored, 0 duplicates, 1 skipped, 1 rejected in "
    )
    assert captured.err == "database: sqlite:///lmod.db\n"


def test_json_summary(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "--json", "--quiet", "--full", str(log), str(log)]) == 0

    objects = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [sorted(item) for item in objects] == [
        ["duplicates", "inserted", "lines", "path", "rejected", "seconds", "skipped"]
    ] * 2
    assert [(item["inserted"], item["duplicates"]) for item in objects] == [
        (2, 0),
        (0, 2),
    ]


def test_verbose_shows_rejected_lines(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", "-v", "--quiet", str(log)]) == 0

    assert f"{log}:2: empty module: Jan  1 00:00:01 cn001" in capsys.readouterr().err


def test_missing_file_is_one_line_and_the_rest_is_ingested(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["ingest", "--quiet", "missing.log", str(log), "."])

    captured = capsys.readouterr()
    assert status == 3
    assert captured.err.splitlines() == [
        "lmod-usage: missing.log: no such file",
        "lmod-usage: .: is a directory, not a log file",
    ]
    assert counts("sqlite:///lmod.db")["module_usage"] == 2


def test_standard_input(log: Path, tmp_path: Path) -> None:
    result = run("ingest", "--quiet", "-", stdin=log.read_bytes(), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("-: 4 lines, 2 stored")


def test_ingest_py_runs_like_the_command(log: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "ingest.py"), str(log)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{log}: 4 lines, 2 stored")
    assert counts(f"sqlite:///{tmp_path / 'lmod.db'}")["module_usage"] == 2


def test_wrong_password_is_one_line_without_the_password(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_server("mariadb")
    url = make_url(MYSQL_ADMIN).set(password="Wr0ng-Secret")

    status = main(["ingest", "--db", url.render_as_string(False), str(log)])

    captured = capsys.readouterr()
    assert status == 4
    lines = captured.err.splitlines()
    assert len(lines) == 2
    assert lines[1].startswith("lmod-usage: mysql+pymysql://root:***@")
    assert "Access denied" in lines[1]
    assert "Wr0ng-Secret" not in captured.err + captured.out


def test_unreachable_server_is_one_line(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql+psycopg://lmod:Secret9@127.0.0.1:9/lmod"

    status = main(["ingest", "--quiet", "--db", url, str(log)])

    captured = capsys.readouterr()
    assert status == 4
    assert len(captured.err.splitlines()) == 1
    assert captured.err.startswith(
        "lmod-usage: postgresql+psycopg://lmod:***@127.0.0.1:9/lmod: "
    )
    assert "Secret9" not in captured.err


def test_password_from_environment_is_masked_in_the_database_line(
    log: Path, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("DB_URL=sqlite:///lmod.db\n")

    result = run("ingest", str(log), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stderr == "database: sqlite:///lmod.db\n"


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["ingest", "--debug", "--quiet", "missing.log"])

    assert status == 3
    assert "lmod-usage: missing.log: no such file" in capsys.readouterr().err


def test_unknown_backend_is_a_usage_error(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["ingest", "--quiet", "--db", "oracle://u@h/x", str(log)])

    assert status == 2
    assert capsys.readouterr().err.startswith("lmod-usage: cannot use oracle://u@h/x")


def test_debug_traceback_keeps_the_password_out(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql+psycopg://lmod:Secret9@127.0.0.1:9/lmod"

    status = main(["ingest", "--quiet", "--debug", "--db", url, str(log)])

    captured = capsys.readouterr()
    assert status == 4
    assert "Traceback (most recent call last)" in captured.err
    assert "Secret9" not in captured.err + captured.out
