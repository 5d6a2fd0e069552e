"""Parse a log into compact batches of loads, ready to be stored.

Names repeat endlessly in a log (a few thousand users and hosts, a few
hundred packages, millions of loads), so a batch carries each user, host
and package as a small integer code, and the names themselves only the
first time they appear. That keeps a batch cheap to send from a parsing
process to the writing one, and lets the writer turn codes into database ids
with a list look-up.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field

from lmod_usage.parsing import LineParser, LoadRecord, RejectedLine
from lmod_usage.readers import READ_ERRORS, LogInput, read_error

PackageIdentity = tuple[str | None, str, str | None]
LOAD_TIME_LENGTH = len("2026-01-01 00:00:00.000000")
SHOWN_TEXT = 300


@dataclass(frozen=True)
class Rejection:
    """A line that looked like a load record but could not be stored."""

    path: str
    line_number: int
    reason: str
    text: str


@dataclass
class Batch:
    """Loads parsed from consecutive lines, with what was left out.

    ``users``, ``hosts`` and ``packages`` hold one code per load; a code
    indexes the names introduced so far, and ``new_users`` (and the like)
    are the names this batch introduces, in code order. Load times are
    concatenated, ``LOAD_TIME_LENGTH`` characters each. ``inserted`` is set
    once the batch is stored: how many of its loads were new.
    """

    new_users: list[str] = field(default_factory=list)
    new_hosts: list[str] = field(default_factory=list)
    new_packages: list[PackageIdentity] = field(default_factory=list)
    users: array[int] = field(default_factory=lambda: array("I"))
    hosts: array[int] = field(default_factory=lambda: array("I"))
    packages: array[int] = field(default_factory=lambda: array("I"))
    load_times: list[str] = field(default_factory=list)
    job_ids: list[str | None] = field(default_factory=list)
    lines: int = 0
    skipped: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    end_offset: int = 0
    end_line: int = 0
    raw_offset: int = 0
    final: bool = False
    inserted: int = 0

    def __len__(self) -> int:
        """The number of loads in the batch."""
        return len(self.users)

    def pack(self) -> None:
        """Shrink the batch for sending: one string of times, no all-None ids."""
        self.load_times = ["".join(self.load_times)]
        if not any(self.job_ids):
            self.job_ids = []

    def unpack(self) -> None:
        """Undo `pack` after the batch arrived."""
        [joined] = self.load_times or [""]
        step = LOAD_TIME_LENGTH
        self.load_times = [joined[i : i + step] for i in range(0, len(joined), step)]
        if not self.job_ids:
            self.job_ids = [None] * len(self.load_times)


class Encoder:
    """Gives names their codes, remembering them across batches of one run."""

    def __init__(self) -> None:
        self.users: dict[str, int] = {}
        self.hosts: dict[str, int] = {}
        self.packages: dict[PackageIdentity, int] = {}

    def add(self, batch: Batch, record: LoadRecord) -> None:
        """Append one parsed record to a batch, coding its names."""
        user, host, package, version, path, load_time, job_id = record
        users, hosts, packages = self.users, self.hosts, self.packages

        code = users.get(user)
        if code is None:
            code = users[user] = len(users)
            batch.new_users.append(user)
        batch.users.append(code)

        code = hosts.get(host)
        if code is None:
            code = hosts[host] = len(hosts)
            batch.new_hosts.append(host)
        batch.hosts.append(code)

        identity = (path, package, version)
        code = packages.get(identity)
        if code is None:
            code = packages[identity] = len(packages)
            batch.new_packages.append(identity)
        batch.packages.append(code)

        batch.load_times.append(load_time)
        batch.job_ids.append(job_id)


def parse_batches(
    log_input: LogInput, batch_size: int, start_offset: int = 0, start_line: int = 0
) -> Iterator[Batch]:
    """Parse a log into batches of at most ``batch_size`` loads.

    The stream must already be at ``start_offset``, the end of line number
    ``start_line``. Each batch records the offset and line number just past
    its last line, so whoever stores it knows how far the file is ingested.
    The last batch is marked ``final``. A live file's unfinished last line
    is left for a later run; a read error ends the parse after a batch of
    what was read before it.
    """
    parse = LineParser(reference_time=log_input.modified).parse
    encoder = Encoder()
    batch = Batch()
    number, offset = start_line, start_offset
    counted = start_line

    live = log_input.live
    add = encoder.add
    try:
        for line in log_input.stream:
            if live and not line.endswith(b"\n"):
                break
            number += 1
            offset += len(line)
            try:
                record = parse(line)
            except RejectedLine as error:
                batch.rejections.append(rejection(log_input.name, number, error, line))
                continue
            if record is None:
                batch.skipped += 1
                continue

            add(batch, record)
            if len(batch.users) >= batch_size:
                yield finish(batch, log_input, offset, (counted, number))
                batch, counted = Batch(), number
    except READ_ERRORS as error:
        # Store what was read before the damage, then report it.
        yield finish(batch, log_input, offset, (counted, number))
        raise read_error(log_input, number, error) from None

    batch.final = True
    yield finish(batch, log_input, offset, (counted, number))


def finish(
    batch: Batch, log_input: LogInput, offset: int, lines: tuple[int, int]
) -> Batch:
    """Close a batch that holds the lines after ``lines[0]`` up to ``lines[1]``."""
    first, last = lines
    batch.lines, batch.end_line, batch.end_offset = last - first, last, offset
    batch.raw_offset = log_input.raw.tell() if log_input.seekable else offset
    return batch


def rejection(name: str, number: int, error: RejectedLine, line: bytes) -> Rejection:
    """Describe a rejected line, shortened and with undecodable bytes escaped."""
    text = line.rstrip(b"\r\n").decode("utf-8", "backslashreplace")
    if len(text) > SHOWN_TEXT:
        text = text[:SHOWN_TEXT] + "..."
    return Rejection(name, number, error.reason, text)
