"""Repeated runs read only new bytes: appends, rotation, truncation, tails."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

from helpers import counts, ingest, load_line, query, write_log


def lines_from(start: int, count: int, user: str = "ann") -> list[str]:
    """Load lines with distinct load times."""
    return [load_line(user, f"gcc/{i % 3}", i) for i in range(start, start + count)]


def append(path: Path, lines: list[str]) -> None:
    """Append whole lines to a log, as syslog does."""
    with path.open("a") as log:
        log.write("".join(line + "\n" for line in lines))


def test_second_run_reads_nothing(db_url: str, tmp_path: Path) -> None:
    log = write_log(tmp_path / "lmod.log", lines_from(0, 20))

    first, second = ingest(db_url, log, log)

    assert (first.lines, first.inserted) == (20, 20)
    assert (second.lines, second.inserted, second.duplicates) == (0, 0, 0)


def test_appended_lines_are_all_that_is_read(db_url: str, tmp_path: Path) -> None:
    log = write_log(tmp_path / "lmod.log", lines_from(0, 20))
    ingest(db_url, log)
    append(log, lines_from(20, 3))

    [summary] = ingest(db_url, log)

    assert (summary.lines, summary.inserted, summary.duplicates) == (3, 3, 0)
    assert counts(db_url)["module_usage"] == 23


def test_rotation_reads_the_tail_and_the_new_file(db_url: str, tmp_path: Path) -> None:
    live = write_log(tmp_path / "lmod.log", lines_from(0, 20))
    ingest(db_url, live)
    append(live, lines_from(20, 2))
    rotated = tmp_path / "lmod.log-20260103"
    live.rename(rotated)
    write_log(live, lines_from(22, 3))

    tail, new = ingest(db_url, rotated, live)

    assert (tail.lines, tail.inserted, tail.duplicates) == (2, 2, 0)
    assert (new.lines, new.inserted, new.duplicates) == (3, 3, 0)
    assert counts(db_url)["module_usage"] == 25


def test_compressed_rotation_reads_the_tail_once(db_url: str, tmp_path: Path) -> None:
    live = write_log(tmp_path / "lmod.log", lines_from(0, 200))
    ingest(db_url, live)
    append(live, lines_from(200, 4))
    compressed = tmp_path / "lmod.log-20260103.gz"
    compressed.write_bytes(gzip.compress(live.read_bytes()))
    live.unlink()
    write_log(live, lines_from(204, 1))

    tail, new = ingest(db_url, compressed, live)
    again = ingest(db_url, compressed, live)

    assert (tail.lines, tail.inserted, tail.duplicates) == (4, 4, 0)
    assert (new.lines, new.inserted) == (1, 1)
    assert [(summary.lines, summary.inserted) for summary in again] == [(0, 0)] * 2
    assert counts(db_url)["module_usage"] == 205
    assert query(db_url, "SELECT complete FROM log_file ORDER BY id") == [
        (True,),
        (False,),
    ]


def test_copytruncate_reads_the_copy_tail_and_the_new_start(
    db_url: str, tmp_path: Path
) -> None:
    live = write_log(tmp_path / "lmod.log", lines_from(0, 30))
    ingest(db_url, live)
    append(live, lines_from(30, 2))
    copy = tmp_path / "lmod.log-20260103"
    shutil.copyfile(live, copy)
    inode = live.stat().st_ino
    with live.open("w") as truncated:
        truncated.write(load_line("bob", "gcc/1", 40) + "\n")

    tail, new = ingest(db_url, copy, live)

    assert live.stat().st_ino == inode
    assert (tail.lines, tail.inserted, tail.duplicates) == (2, 2, 0)
    assert (new.lines, new.inserted, new.duplicates) == (1, 1, 0)


def test_file_shorter_than_its_offset_is_read_again(
    db_url: str, tmp_path: Path
) -> None:
    lines = lines_from(0, 100)
    log = write_log(tmp_path / "lmod.log", lines)
    ingest(db_url, log)
    with log.open("r+") as shrinking:
        shrinking.truncate(sum(len(line) + 1 for line in lines[:60]))

    [summary] = ingest(db_url, log)

    assert (summary.lines, summary.inserted, summary.duplicates) == (60, 0, 60)
    [summary] = ingest(db_url, log)
    assert summary.lines == 0


def test_unterminated_last_line_waits_for_its_newline(
    db_url: str, tmp_path: Path
) -> None:
    log = write_log(tmp_path / "lmod.log", lines_from(0, 3))
    last = load_line("cy", "R/4.3", 99)
    with log.open("a") as writer:
        writer.write(last[:50])

    [first] = ingest(db_url, log)
    with log.open("a") as writer:
        writer.write(last[50:] + "\n")
    [second] = ingest(db_url, log)

    assert (first.lines, first.inserted, first.rejected) == (3, 3, 0)
    assert (second.lines, second.inserted, second.rejected) == (1, 1, 0)
    assert query(db_url, "SELECT COUNT(*) FROM module_usage") == [(4,)]


def test_compressed_file_is_taken_as_it_is(db_url: str, tmp_path: Path) -> None:
    text = "".join(line + "\n" for line in lines_from(0, 3))
    text += load_line("cy", "R/4.3", 99)
    log = tmp_path / "lmod.log.gz"
    log.write_bytes(gzip.compress(text.encode()))

    [summary] = ingest(db_url, log)

    assert (summary.lines, summary.inserted) == (4, 4)


def test_line_numbers_continue_across_runs(db_url: str, tmp_path: Path) -> None:
    from lmod_usage.batches import Rejection
    from lmod_usage.config import Settings, parse_url
    from lmod_usage.ingest import Ingester, Listeners

    log = write_log(tmp_path / "lmod.log", lines_from(0, 5))
    ingest(db_url, log)
    append(log, ["Jan  1 00:00:00 cn001 lmod: user=ann module= time=1"])
    ingester = Ingester(Settings(parse_url(db_url, "test"), "test"))
    rejected: list[Rejection] = []

    ingester.ingest(str(log), listeners=Listeners(rejected.append))
    ingester.close()

    assert [item.line_number for item in rejected] == [6]


def test_full_reads_everything_again_and_keeps_the_position(
    db_url: str, tmp_path: Path
) -> None:
    log = write_log(tmp_path / "lmod.log", lines_from(0, 10))
    ingest(db_url, log)

    [again] = ingest(db_url, log, full=True)
    [after] = ingest(db_url, log)

    assert (again.lines, again.duplicates) == (10, 10)
    assert after.lines == 0
    assert query(db_url, "SELECT byte_offset FROM log_file") == [
        (os.path.getsize(log),)
    ]
