"""Follow a live log: store loads as they are written, across rotations.

The file is read to its end, what was read is committed, and the follower
sleeps a moment before looking again. When logrotate moves the file away,
the rest of the old file is read and the new file is opened under the same
name; when it is truncated in place, reading starts again at its beginning.
Every commit moves the file's remembered position, so a follower that is
restarted, or a daily ``ingest`` of the rotated files, carries on from there.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from datetime import datetime, timezone

from lmod_usage.batches import parse_batches
from lmod_usage.errors import InputError
from lmod_usage.ingest import FileSummary, Ingester, Listeners
from lmod_usage.positions import Position
from lmod_usage.readers import LogInput, open_log
from lmod_usage.store import CodeMap

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0


def follow(
    ingester: Ingester,
    name: str,
    listeners: Listeners | None = None,
    poll_seconds: float = POLL_SECONDS,
) -> FileSummary:
    """Store the loads of a live log until a stop is requested.

    Returns the figures of everything stored while following.
    """
    listeners = listeners or Listeners()
    summary = FileSummary(path=name)
    started = time.perf_counter()

    while not ingester.stop_requested:
        with open_log(name) as log_input:
            if log_input.compression is not None or not log_input.seekable:
                raise InputError(f"{name}: --follow needs a plain, growing log file")
            follow_one(ingester, log_input, summary, listeners, poll_seconds)
        wait_for_file(ingester, name, poll_seconds)

    summary.seconds = time.perf_counter() - started
    return summary


def follow_one(
    ingester: Ingester,
    log_input: LogInput,
    summary: FileSummary,
    listeners: Listeners,
    poll_seconds: float,
) -> None:
    """Follow one opened file until it is rotated away or a stop is requested."""
    while log_input.current_size() == 0 and file_change(log_input, 0) is None:
        if ingester.stop_requested:
            return
        pause(ingester, poll_seconds)

    position = ingester.positions.locate(log_input, full=False)
    while not ingester.stop_requested:
        read_available(ingester, log_input, position, summary, listeners)
        change = file_change(log_input, position.byte_offset)
        if change == "rotated":
            log.info("%s: rotated; reading the rest of the old file", log_input.name)
            drain(ingester, log_input, position, summary, listeners, poll_seconds)
            return
        if change == "truncated":
            log.info("%s: truncated; reading it from the start", log_input.name)
            return
        pause(ingester, poll_seconds)


def read_available(
    ingester: Ingester,
    log_input: LogInput,
    position: Position,
    summary: FileSummary,
    listeners: Listeners,
) -> None:
    """Store every complete line written since the position, and move it on."""
    log_input.stream.seek(position.byte_offset)
    fresh = dataclasses.replace(log_input, modified=datetime.now(timezone.utc))
    codes = CodeMap()
    start = (position.byte_offset, position.line_count)
    for batch in parse_batches(fresh, ingester.batch_size, *start):
        ingester.store_batch(batch, codes, fresh, position)
        listeners.stored(batch, summary.add(batch))


def drain(
    ingester: Ingester,
    log_input: LogInput,
    position: Position,
    summary: FileSummary,
    listeners: Listeners,
    poll_seconds: float,
) -> None:
    """Read a rotated file until its writer has let go of it, then to its end.

    A syslog daemon goes on writing to the renamed file until it is told to
    reopen its logs, so the old file is read until it stops growing.
    """
    size = None
    while not ingester.stop_requested and log_input.current_size() != size:
        size = log_input.current_size()
        pause(ingester, poll_seconds)
        read_available(ingester, log_input, position, summary, listeners)
    finished = dataclasses.replace(log_input, closed=True)
    read_available(ingester, finished, position, summary, listeners)


def file_change(log_input: LogInput, offset: int) -> str | None:
    """Whether the name now leads to another file, or the file was truncated."""
    try:
        status = os.stat(log_input.name)
    except FileNotFoundError:
        return "rotated"
    if (status.st_dev, status.st_ino) != (log_input.device, log_input.inode):
        return "rotated"
    if status.st_size < offset:
        return "truncated"
    return None


def wait_for_file(ingester: Ingester, name: str, poll_seconds: float) -> None:
    """Wait until a file exists under ``name`` again, or a stop is requested."""
    while not ingester.stop_requested and not os.path.exists(name):
        pause(ingester, poll_seconds)


def pause(ingester: Ingester, seconds: float) -> None:
    """Sleep in short steps, so that a requested stop is noticed at once."""
    deadline = time.monotonic() + seconds
    while not ingester.stop_requested and time.monotonic() < deadline:
        time.sleep(min(0.1, seconds))
