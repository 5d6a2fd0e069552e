"""Ingestion on every backend: exact row counts, deduplication, inputs."""

from __future__ import annotations

import bz2
import gzip
import lzma
from datetime import datetime
from pathlib import Path

import pytest
from helpers import counts, ingest, load_line, query, write_log

from lmod_usage.batches import Rejection
from lmod_usage.config import Settings, parse_url
from lmod_usage.errors import InputError
from lmod_usage.ingest import Ingester, Listeners


def test_sample_log_summary(db_url: str, sample_log: Path) -> None:
    [summary] = ingest(db_url, sample_log)

    assert summary.as_dict() | {"seconds": 0} == {
        "path": str(sample_log),
        "lines": 46,
        "inserted": 40,
        "duplicates": 1,
        "skipped": 3,
        "rejected": 2,
        "seconds": 0,
    }
    assert counts(db_url)["module_usage"] == 40


def test_same_file_twice_stores_nothing_new(db_url: str, tmp_path: Path) -> None:
    lines = [load_line(f"user{i % 3}", f"gcc/{i % 2}.0", i) for i in range(10)]
    log = write_log(tmp_path / "lmod.log", lines)

    [first] = ingest(db_url, log)
    [second] = ingest(db_url, log, full=True)

    assert (first.inserted, first.duplicates) == (10, 0)
    assert (second.lines, second.inserted, second.duplicates) == (10, 0, 10)
    assert counts(db_url) == {"user": 3, "host": 1, "package": 2, "module_usage": 10}


def test_overlapping_files_store_each_load_once(db_url: str, tmp_path: Path) -> None:
    lines = [load_line("alice", "python/3.11", i, host=f"cn{i % 4}") for i in range(12)]
    older = write_log(tmp_path / "lmod.log-1", lines[:8])
    newer = write_log(tmp_path / "lmod.log", lines[5:])

    first, second = ingest(db_url, older, newer)
    before = counts(db_url)
    again = ingest(db_url, older, newer, full=True)

    assert (first.inserted, second.inserted, second.duplicates) == (8, 4, 3)
    assert before == {"user": 1, "host": 4, "package": 1, "module_usage": 12}
    assert [summary.inserted for summary in again] == [0, 0]
    assert counts(db_url) == before


def test_duplicate_within_one_batch_is_counted(db_url: str, tmp_path: Path) -> None:
    line = load_line("bob", "cuda/12.2", 5)
    log = write_log(tmp_path / "lmod.log", [line, line, line])

    [summary] = ingest(db_url, log)

    assert (summary.inserted, summary.duplicates) == (1, 2)


@pytest.mark.parametrize(
    "compress",
    [gzip.compress, bz2.compress, lzma.compress],
    ids=["gzip", "bzip2", "xz"],
)
def test_compressed_files_are_recognised_by_content(
    db_url: str, tmp_path: Path, compress: object
) -> None:
    lines = [load_line("carol", f"R/4.{i}", i) for i in range(5)]
    data = "".join(line + "\n" for line in lines).encode()
    log = tmp_path / "lmod.log-20260102"  # no telling suffix
    log.write_bytes(compress(data))  # type: ignore[operator]

    [summary] = ingest(db_url, log)

    assert (summary.lines, summary.inserted) == (5, 5)


def test_damaged_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    lines = [load_line("dave", "gcc/12", i) for i in range(2000)]
    data = gzip.compress("".join(line + "\n" for line in lines).encode())
    log = tmp_path / "lmod.log.gz"
    log.write_bytes(data[: len(data) // 2])
    db_url = f"sqlite:///{tmp_path / 'lmod.db'}"

    with pytest.raises(InputError, match="gzip data failed after line") as caught:
        ingest(db_url, log)

    stored = counts(db_url)["module_usage"]
    assert 0 < stored < 2000
    assert f"gzip data failed after line {stored}:" in str(caught.value)


def test_loads_without_path_are_deduplicated(db_url: str, tmp_path: Path) -> None:
    lines = [
        load_line("erin", "cmake/3.27", 1, path=None),
        load_line("erin", "cmake/3.27", 1, path=None),
        load_line("erin", "cmake/3.27", 2, path=None),
        load_line("erin", "cmake", 3, path=None),
    ]
    log = write_log(tmp_path / "lmod.log", lines)

    [first] = ingest(db_url, log)
    [second] = ingest(db_url, log, full=True)

    assert (first.inserted, first.duplicates, second.inserted) == (3, 1, 0)
    assert query(db_url, "SELECT name, version, path FROM package ORDER BY id") == [
        ("cmake", "3.27", None),
        ("cmake", None, None),
    ]


def test_load_time_keeps_microseconds_and_job_id(db_url: str, tmp_path: Path) -> None:
    lines = [
        load_line("frank", "openmpi/4.1.5", 0, extra=" jobid=434.master16"),
        load_line("frank", "openmpi/4.1.5", 1, extra=" jobid=nil"),
    ]
    log = write_log(tmp_path / "lmod.log", lines)

    ingest(db_url, log)

    rows = query(
        db_url, "SELECT load_time, job_id FROM module_usage ORDER BY load_time"
    )
    times = [
        row[0] if isinstance(row[0], datetime) else datetime.fromisoformat(str(row[0]))
        for row in rows
    ]
    assert times == [
        datetime(2026, 1, 1, 0, 0, 0, 42),
        datetime(2026, 1, 1, 0, 0, 1, 42),
    ]
    assert [row[1] for row in rows] == ["434.master16", None]


def test_names_differing_in_case_stay_apart(db_url: str, tmp_path: Path) -> None:
    lines = [load_line("Alice", "GCC/12", 0), load_line("alice", "gcc/12", 0)]
    log = write_log(tmp_path / "lmod.log", lines)

    [summary] = ingest(db_url, log)

    assert summary.inserted == 2
    assert counts(db_url)["user"] == 2
    assert counts(db_url)["package"] == 2


def test_longest_paths_are_stored_and_unique(db_url: str, tmp_path: Path) -> None:
    stem = "/apps/" + "x" * 4080
    first, second = stem + "/a.lua", stem + "/b.lua"
    lines = [
        load_line("grace", "tool/1", 0, path=first),
        load_line("grace", "tool/1", 0, path=second),
        load_line("grace", "tool/1", 1, path=first),
        load_line("grace", "tool/1", 2, path=stem + "/toolong.lua"),
    ]
    log = write_log(tmp_path / "lmod.log", lines)

    [summary] = ingest(db_url, log)

    assert (summary.inserted, summary.rejected) == (3, 1)
    stored = query(db_url, "SELECT path FROM package ORDER BY path")
    assert stored == [(first,), (second,)]


def test_non_ascii_names_round_trip(db_url: str, tmp_path: Path) -> None:
    log = write_log(tmp_path / "lmod.log", [load_line("józef", "gromacs/2023-ß", 0)])

    ingest(db_url, log)

    assert query(db_url, "SELECT name, version FROM package") == [("gromacs", "2023-ß")]
    assert ("józef",) in query(db_url, "SELECT name FROM " + quoted_user(db_url))


def append_line(log: Path, line: str) -> None:
    """Append one line to a log."""
    with log.open("a") as writer:
        writer.write(line + "\n")


def quoted_user(db_url: str) -> str:
    """The user table's name, quoted for the backend."""
    return "`user`" if db_url.startswith("mysql") else '"user"'


def test_rejected_lines_do_not_stop_the_file(db_url: str, tmp_path: Path) -> None:
    lines = [
        load_line("henry", "gcc/12", 0),
        load_line("", "gcc/12", 1),
        "Jan  1 00:00:00 cn001 ModuleUsageTracking: user=henry module=gcc/12 time=x",
        "Jan  1 00:00:00 cn001 ModuleUsageTracking: loaded the site defaults",
        load_line("henry", "gcc/12", 2),
    ]
    log = write_log(tmp_path / "lmod.log", lines)

    [summary] = ingest(db_url, log)

    assert (summary.lines, summary.inserted, summary.rejected) == (5, 2, 2)
    assert summary.skipped == 1


def test_crlf_lines_are_read(db_url: str, tmp_path: Path) -> None:
    log = tmp_path / "lmod.log"
    log.write_bytes(
        (
            load_line("ivan", "vim/9", 0)
            + "\r\n"
            + load_line("ivan", "vim/9", 1)
            + "\r\n"
        ).encode()
    )

    [summary] = ingest(db_url, log)

    assert summary.inserted == 2
    assert query(db_url, "SELECT path FROM package") == [
        ("/apps/modulefiles/vim/9.lua",)
    ]


@pytest.mark.parametrize("parallel", [False, True], ids=["in-process", "child"])
def test_small_batches_give_the_same_result(
    db_url: str, tmp_path: Path, parallel: bool
) -> None:
    lines = [
        load_line(f"u{i % 7}", f"m{i % 5}/1", i, extra=f" jobid={i % 3}")
        for i in range(50)
    ]
    lines.insert(20, "Jan  1 00:00:00 cn001 ModuleUsageTracking: user= module=x/1")
    log = write_log(tmp_path / "lmod.log", lines + lines[:10])
    settings = Settings(parse_url(db_url, "test"), "test")
    ingester = Ingester(settings, batch_size=7, parallel=parallel)
    rejected: list[Rejection] = []

    first = ingester.ingest(str(log), listeners=Listeners(rejected.append))
    again = ingester.ingest(str(log), full=True)
    ingester.close()

    assert (first.lines, first.inserted, first.duplicates) == (61, 50, 10)
    assert (first.rejected, again.inserted, again.duplicates) == (1, 0, 60)
    assert [item.line_number for item in rejected] == [21]
    assert counts(db_url) == {"user": 7, "host": 1, "package": 5, "module_usage": 50}
    assert query(db_url, "SELECT COUNT(*) FROM module_usage WHERE job_id = '2'") == [
        (16,)
    ]


@pytest.mark.parametrize("local_files", ["1", "0"], ids=["load-data", "insert"])
def test_mysql_bulk_paths_agree(
    mariadb_url: str, tmp_path: Path, local_files: str
) -> None:
    lines = [
        load_line("kim", "gcc/12", i, extra=" jobid=a\\b\\N" if i else "")
        for i in range(5)
    ]
    log = write_log(tmp_path / "lmod.log", lines + lines[:2])

    url = f"{mariadb_url}?local_infile={local_files}"
    [summary] = ingest(url, log)
    append_line(log, load_line("kim", "gcc/12", 7))
    [again] = ingest(url, log, full=True)

    assert (summary.inserted, summary.duplicates) == (5, 2)
    assert (again.inserted, again.duplicates) == (1, 7)
    assert query(
        mariadb_url, "SELECT DISTINCT job_id FROM module_usage ORDER BY 1"
    ) == [
        (None,),
        ("a\\b\\N",),
    ]
