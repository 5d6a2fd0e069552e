"""Open log files, plain or compressed, and read them line by line in bytes.

Compression is recognised by the first bytes of the file rather than its
name, because logrotate's ``compressext`` and hand-made copies do not always
say what they hold. Lines stay bytes so that their offsets are exact and a
badly encoded line costs only itself.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import stat
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import BinaryIO, cast

from lmod_usage.errors import InputError

STDIN = "-"
READ_BUFFER = 1 << 20
# Decompressed data comes in small reads: a damaged stream fails in the read
# that reaches the damage, and whatever that read had decoded is lost with it.
DECOMPRESSED_BUFFER = 16 << 10

# Leading bytes of each compressed format, and how to open it.
COMPRESSED = (
    (b"\x1f\x8b", "gzip", lambda raw: gzip.GzipFile(fileobj=raw, mode="rb")),
    (b"BZh", "bzip2", bz2.BZ2File),
    (b"\xfd7zXZ\x00", "xz", lzma.LZMAFile),
)
# What a truncated or corrupt stream raises while it is read.
READ_ERRORS = (EOFError, OSError, lzma.LZMAError, zlib.error)


@dataclass(frozen=True)
class LogInput:
    """An opened log: its decompressed stream and what is known of the file.

    ``size``, ``device`` and ``inode`` are those of a regular file when it
    was opened (None for a pipe); ``raw`` is the file as stored, compressed
    or not.
    """

    name: str
    stream: BinaryIO
    raw: BinaryIO
    compression: str | None
    modified: datetime
    size: int | None
    device: int | None
    inode: int | None
    closed: bool = False

    @property
    def seekable(self) -> bool:
        """Whether this is a regular file, which can be resumed and re-read."""
        return self.size is not None

    @property
    def live(self) -> bool:
        """Whether a writer may still be appending: an uncompressed regular file.

        The last line of a live file is only read once its newline is there.
        ``closed`` marks a file known to be finished, such as one rotated away.
        """
        return self.seekable and self.compression is None and not self.closed

    def current_size(self) -> int | None:
        """The size of the file now, which grows while it is live."""
        if not self.seekable:
            return None
        return os.fstat(self.raw.fileno()).st_size


@contextmanager
def open_log(name: str) -> Iterator[LogInput]:
    """Open a log file, or standard input for ``-``, decompressing as needed."""
    raw = open_raw(name)
    try:
        yield describe(name, raw)
    finally:
        if name != STDIN:
            raw.close()


def open_raw(name: str) -> io.BufferedReader:
    """Open the bytes of a file, turning OS errors into one clear InputError."""
    if name == STDIN:
        return cast(io.BufferedReader, sys.stdin.buffer)
    try:
        return cast(io.BufferedReader, open(name, "rb", buffering=READ_BUFFER))
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, not a log file") from None
    except PermissionError:
        raise InputError(f"{name}: permission denied") from None
    except OSError as error:
        raise InputError(f"{name}: cannot open: {error.strerror}") from None


def describe(name: str, raw: io.BufferedReader) -> LogInput:
    """Identify the file behind ``raw`` and wrap it in its decompressor."""
    status = None if name == STDIN else os.fstat(raw.fileno())
    regular = status is not None and stat.S_ISREG(status.st_mode)
    modified = datetime.now(timezone.utc)
    if status is not None:
        modified = datetime.fromtimestamp(status.st_mtime, timezone.utc)

    compression, stream = detect_compression(raw)
    return LogInput(
        name=name,
        stream=stream,
        raw=raw,
        compression=compression,
        modified=modified,
        size=status.st_size if regular and status is not None else None,
        device=status.st_dev if regular and status is not None else None,
        inode=status.st_ino if regular and status is not None else None,
    )


def detect_compression(raw: io.BufferedReader) -> tuple[str | None, BinaryIO]:
    """Recognise gzip, bzip2 or xz by their magic bytes."""
    try:
        head = raw.peek(8)[:8]
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror}") from None

    for magic, compression, opener in COMPRESSED:
        if head.startswith(magic):
            decompressed = opener(raw)  # type: ignore[operator]
            return compression, io.BufferedReader(decompressed, DECOMPRESSED_BUFFER)
    return None, raw


def read_error(log: LogInput, number: int, error: BaseException) -> InputError:
    """Describe a failure to read a log after its line ``number``."""
    kind = f"{log.compression} data" if log.compression else "read"
    return InputError(
        f"{log.name}: {kind} failed after line {number}: {error}; "
        "the lines before it were ingested"
    )
