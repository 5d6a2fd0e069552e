"""Tests of reading log lines into load records, on the fast and general paths."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from lmod_usage.parsing import LineParser, LoadRecord, RejectedLine, _read_documented
from lmod_usage.syslog_header import SyslogHeader, split_header

MONTHS: tuple[str, ...] = ("Jan", "Feb", "Mar", "Apr", "May", "Jun")
MONTHS += ("Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
NEW_YORK = ZoneInfo("America/New_York")
REFERENCE_TIME = datetime(2023, 6, 1, 12, tzinfo=timezone.utc)
PARSER = LineParser(reference_time=REFERENCE_TIME, tz=NEW_YORK)

MESSAGE = (
    "user=usr123 module=gcc/5.4.0 path=/modules/gcc/5.4.0.lua"
    " host=node1.domain.com time=1682580177.622180"
)
DOCUMENTED_LINE = f"Apr 27 03:22:57 node1 ModuleUsageTracking: {MESSAGE}"
DOCUMENTED_RECORD = LoadRecord(
    "usr123",
    "node1.domain.com",
    "gcc",
    "5.4.0",
    "/modules/gcc/5.4.0.lua",
    "2023-04-27 07:22:57.622180",
    None,
)


def outcome(
    parse: Callable[[bytes], LoadRecord | None], line: bytes
) -> LoadRecord | str | None:
    """What one parse function makes of a line, a rejection as its reason."""
    try:
        return parse(line)
    except RejectedLine as error:
        return f"rejected: {error.reason}"


def read(
    line: str | bytes, parser: LineParser | None = None
) -> LoadRecord | str | None:
    """What a new parser makes of a line, checked to agree on both paths."""
    data = line.encode() if isinstance(line, str) else line
    parser = parser or LineParser(reference_time=REFERENCE_TIME, tz=NEW_YORK)
    result = outcome(parser.parse, data)

    assert outcome(parser.parse_general, data) == result
    return result


def record_with(**changes: str | None) -> LoadRecord:
    """The documented line's record with some fields changed."""
    return DOCUMENTED_RECORD._replace(**changes)


def message_with(pairs: str) -> str:
    """The documented message with the keys named in ``pairs`` set to its values."""
    replaced = {pair.split("=")[0] for pair in pairs.split() if "=" in pair}
    kept = [pair for pair in MESSAGE.split() if pair.split("=")[0] not in replaced]
    return " ".join([*kept, pairs])


def test_documented_line() -> None:
    assert read(DOCUMENTED_LINE + "\n") == DOCUMENTED_RECORD


def test_documented_line_takes_the_fast_path() -> None:
    assert _read_documented(DOCUMENTED_LINE) == DOCUMENTED_RECORD


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(f"<13>Apr 27 03:22:57 node1 lmod: {MESSAGE}", id="rfc3164-pri"),
        pytest.param(f"Apr  7 03:22:57 node1 lmod: {MESSAGE}", id="rfc3164-padded"),
        pytest.param(f"Apr 27 03:22:57 node1 lmod[1234]: {MESSAGE}", id="pid"),
        pytest.param(f"Apr 27 03:22:57 node1 my.tag-2[]: {MESSAGE}", id="empty-pid"),
        pytest.param(f"Apr 27 03:22:57 node1 {MESSAGE}", id="no-tag"),
        pytest.param(f"Apr 27 03:22:57 lmod[7]: {MESSAGE}", id="no-host"),
        pytest.param(f"2026-01-03T10:11:12.123456+01:00 n1 lmod: {MESSAGE}", id="iso"),
        pytest.param(f"2026-01-03T10:11:12Z n1 lmod[3]: {MESSAGE}", id="iso-z"),
        pytest.param(f"2026-01-03T10:11:12 n1 lmod: {MESSAGE}", id="iso-naive"),
        pytest.param(
            f"<13>1 2016-06-07T17:50:22+02:00 n1 app 12 ID - {MESSAGE}", id="5424"
        ),
        pytest.param(
            f'<13>1 - n1 app - - [a@1 k="v \\"]\\" x="y"][b@2] {MESSAGE}',
            id="5424-structured-data",
        ),
        pytest.param(f"<13>1 - - - - - - \ufeff{MESSAGE}", id="5424-bom"),
        pytest.param(MESSAGE, id="no-header"),
        pytest.param(f"  {DOCUMENTED_LINE}  \r\n", id="whitespace-crlf"),
    ],
)
def test_message_is_found_behind_any_header(line: str) -> None:
    assert read(line) == DOCUMENTED_RECORD


@pytest.mark.parametrize(
    ("line", "header"),
    [
        pytest.param(
            "<13>Apr  7 03:22:57 node1 lmod[12]: a b",
            SyslogHeader("node1", "Apr  7 03:22:57", "a b"),
            id="rfc3164",
        ),
        pytest.param(
            "Apr 27 03:22:57 lmod: a",
            SyslogHeader(None, "Apr 27 03:22:57", "a"),
            id="rfc3164-no-host",
        ),
        pytest.param(
            "Apr 27 03:22:57 node1 a=b c",
            SyslogHeader("node1", "Apr 27 03:22:57", "a=b c"),
            id="rfc3164-no-tag",
        ),
        pytest.param(
            "2026-01-03T10:11:12.5+01:00 n1 lmod: m",
            SyslogHeader("n1", "2026-01-03T10:11:12.5+01:00", "m"),
            id="iso",
        ),
        pytest.param(
            '<13>1 2016-06-07T17:50:22Z n1 app 1 ID [a@1 k="v \\"]\\""][b] m',
            SyslogHeader("n1", "2016-06-07T17:50:22Z", "m"),
            id="rfc5424",
        ),
        pytest.param(
            "<13>1 - - app - - - \ufeffm", SyslogHeader(None, None, "m"), id="nil-bom"
        ),
        pytest.param(
            "<13>1 - n1 a - - -", SyslogHeader("n1", None, ""), id="no-message"
        ),
        pytest.param("user=a", SyslogHeader(None, None, "user=a"), id="no-header"),
        pytest.param(
            "Apr 27 user=a", SyslogHeader(None, None, "Apr 27 user=a"), id="odd"
        ),
    ],
)
def test_header_is_split_from_the_message(line: str, header: SyslogHeader) -> None:
    assert split_header(line) == header


@pytest.mark.parametrize(
    ("line", "load_time"),
    [
        pytest.param("Apr 27 03:22:57 n1 t:", "2023-04-27 07:22:57.000000", id="3164"),
        pytest.param(
            "Dec  1 03:22:57.25 n1 t:", "2022-12-01 08:22:57.250000", id="3164-frac"
        ),
        pytest.param(
            "2026-01-03T10:11:12.123456+01:00 n1 t:",
            "2026-01-03 09:11:12.123456",
            id="iso-offset",
        ),
        pytest.param(
            "2026-01-03T10:11:12.5-0130 n1 t:",
            "2026-01-03 11:41:12.500000",
            id="iso-hhmm",
        ),
        pytest.param(
            "2026-01-03T10:11:12Z n1 t:", "2026-01-03 10:11:12.000000", id="iso-z"
        ),
        pytest.param(
            "2026-01-03T10:11:12.1234567 n1 t:",
            "2026-01-03 15:11:12.123456",
            id="iso-naive-in-tz",
        ),
        pytest.param(
            "<13>1 2016-06-07T17:50:22.658452+02:00 n1 app - - -",
            "2016-06-07 15:50:22.658452",
            id="5424",
        ),
    ],
)
def test_header_time_is_used_without_time_key(line: str, load_time: str) -> None:
    record = read(f"{line} user=alice module=gcc/12.1")

    assert record == LoadRecord("alice", "n1", "gcc", "12.1", None, load_time, None)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        pytest.param("user=alice module=gcc host=n1", "no time", id="no-header"),
        pytest.param(
            "<13>1 - n1 app - - - user=a module=gcc", "no time", id="5424-nil"
        ),
        pytest.param(
            "Feb 30 10:00:00 n1 t: user=a module=gcc",
            "header time is not a valid time: 'Feb 30 10:00:00'",
            id="3164-no-such-day",
        ),
        pytest.param(
            "2026-13-01T10:00:00Z n1 t: user=a module=gcc",
            "header time is not a valid time: '2026-13-01T10:00:00Z'",
            id="iso-no-such-month",
        ),
        pytest.param(
            "2026-01-01T24:00:00Z n1 t: user=a module=gcc",
            "header time is not a valid time: '2026-01-01T24:00:00Z'",
            id="iso-no-such-hour",
        ),
        pytest.param(
            "1970-01-01T00:00:05Z n1 t: user=a module=gcc",
            "header time is before 2000: '1970-01-01T00:00:05Z'",
            id="unset-clock",
        ),
    ],
)
def test_header_time_problems_are_rejected(line: str, reason: str) -> None:
    assert read(line) == f"rejected: {reason}"


@pytest.mark.parametrize(
    ("reference_time", "stamp", "load_time"),
    [
        pytest.param(
            datetime(2024, 1, 1, 0, 30, tzinfo=timezone.utc),
            "Dec 31 23:59:00",
            "2023-12-31 23:59:00.000000",
            id="december-line-read-in-january",
        ),
        pytest.param(
            datetime(2024, 1, 1, 0, 30, tzinfo=timezone.utc),
            "Jan  1 00:10:00",
            "2024-01-01 00:10:00.000000",
            id="same-year",
        ),
        pytest.param(
            datetime(2024, 1, 1, 0, 30, tzinfo=timezone.utc),
            "Jan  2 00:29:00",
            "2024-01-02 00:29:00.000000",
            id="under-a-day-ahead",
        ),
        pytest.param(
            datetime(2024, 1, 1, 0, 30, tzinfo=timezone.utc),
            "Jan  2 00:31:00",
            "2023-01-02 00:31:00.000000",
            id="over-a-day-ahead",
        ),
        pytest.param(
            datetime(2023, 12, 31, 23, 0, tzinfo=timezone.utc),
            "Jan  1 00:10:00",
            "2024-01-01 00:10:00.000000",
            id="january-line-read-on-new-years-eve",
        ),
        pytest.param(
            datetime(2023, 6, 1, tzinfo=timezone.utc),
            "Feb 29 12:00:00",
            "2020-02-29 12:00:00.000000",
            id="leap-day",
        ),
    ],
)
def test_rfc3164_year_is_inferred(
    reference_time: datetime, stamp: str, load_time: str
) -> None:
    parser = LineParser(reference_time=reference_time, tz=timezone.utc)

    record = read(f"{stamp} n1 t: user=a module=gcc", parser)

    assert record == LoadRecord("a", "n1", "gcc", None, None, load_time, None)


@pytest.fixture
def new_york_is_local(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make New York the machine's local zone for one test."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("new_york_is_local")
def test_header_time_defaults_to_the_local_zone() -> None:
    parser = LineParser(reference_time=datetime(2023, 6, 1, tzinfo=timezone.utc))

    record = read("Apr 27 03:22:57 n1 t: user=a module=gcc", parser)

    assert isinstance(record, LoadRecord)
    assert record.load_time == "2023-04-27 07:22:57.000000"


def test_reference_time_defaults_to_now() -> None:
    parser = LineParser(tz=timezone.utc)
    moment = datetime.now(timezone.utc) - timedelta(days=2)
    stamp = f"{MONTHS[moment.month - 1]} {moment.day:2d} {moment:%H:%M:%S}"

    record = read(f"{stamp} n1 t: user=a module=gcc", parser)

    assert isinstance(record, LoadRecord)
    assert record.load_time == f"{moment:%Y-%m-%d %H:%M:%S}.000000"


def test_reference_time_needs_a_zone() -> None:
    with pytest.raises(ValueError, match="reference_time must carry a time zone"):
        LineParser(reference_time=datetime(2023, 6, 1))


@pytest.mark.parametrize(
    ("time", "load_time"),
    [
        pytest.param("1682580177", "2023-04-27 07:22:57.000000", id="whole"),
        pytest.param("1682580177.5", "2023-04-27 07:22:57.500000", id="padded"),
        pytest.param("1682580177.000001", "2023-04-27 07:22:57.000001", id="micro"),
        pytest.param(
            "1682580177.1234567", "2023-04-27 07:22:57.123456", id="truncated"
        ),
        pytest.param(
            "1682580177.9999999", "2023-04-27 07:22:57.999999", id="no-rounding"
        ),
        pytest.param("0001682580177.25", "2023-04-27 07:22:57.250000", id="zeros"),
        pytest.param("946684800", "2000-01-01 00:00:00.000000", id="earliest"),
        pytest.param("253402300799.9", "9999-12-31 23:59:59.900000", id="latest"),
        pytest.param("1709251199", "2024-02-29 23:59:59.000000", id="leap-day"),
    ],
)
def test_time_key_is_read_to_the_microsecond(time: str, load_time: str) -> None:
    record = read(f"user=a module=gcc host=n1 time={time}")

    assert record == LoadRecord("a", "n1", "gcc", None, None, load_time, None)


@pytest.mark.parametrize(
    ("time", "reason"),
    [
        pytest.param("abc", "time is not a number: 'abc'", id="word"),
        pytest.param("", "time is not a number: ''", id="empty"),
        pytest.param("-1682580177", "time is not a number: '-1682580177'", id="minus"),
        pytest.param("1.6e9", "time is not a number: '1.6e9'", id="exponent"),
        pytest.param("1682580177.", "time is not a number: '1682580177.'", id="dot"),
        pytest.param(".5", "time is not a number: '.5'", id="no-whole"),
        pytest.param("16825", "time is before 2000: '16825'", id="truncated"),
        pytest.param("0", "time is before 2000: '0'", id="zero"),
        pytest.param("946684799.9", "time is before 2000: '946684799.9'", id="1999"),
        pytest.param(
            "253402300800", "time is out of range: '253402300800'", id="10000"
        ),
        pytest.param("9" * 5000, f"time is out of range: '{'9' * 60}'...", id="huge"),
    ],
)
def test_time_key_problems_are_rejected(time: str, reason: str) -> None:
    line = f"Apr 27 03:22:57 n1 t: user=a module=gcc time={time}"

    assert read(line) == f"rejected: {reason}"


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(
            "time=1682580177.622180 host=node1.domain.com user=usr123"
            " path=/modules/gcc/5.4.0.lua module=gcc/5.4.0",
            id="any-order",
        ),
        pytest.param(
            "user=usr123, module=gcc/5.4.0, path=/modules/gcc/5.4.0.lua,"
            " host=node1.domain.com, time=1682580177.622180",
            id="comma-separated",
        ),
        pytest.param(
            "USER=usr123 Module=gcc/5.4.0 PATH=/modules/gcc/5.4.0.lua"
            " Host=node1.domain.com TIME=1682580177.622180",
            id="case-insensitive",
        ),
        pytest.param(
            "username=usr123 module=gcc/5.4.0 fn=/modules/gcc/5.4.0.lua"
            " host=node1.domain.com time=1682580177.622180",
            id="aliases-username-fn",
        ),
        pytest.param(
            "user='usr123' module=\"gcc/5.4.0\" fullpath='/modules/gcc/5.4.0.lua'"
            ' host="node1.domain.com" time="1682580177.622180"',
            id="quoted-alias-fullpath",
        ),
        pytest.param(
            f"loaded: {MESSAGE} shell=bash pid=42 note='a b, c'",
            id="extra-text-and-keys",
        ),
        pytest.param(f"{MESSAGE} user=usr123", id="same-key-same-value"),
        pytest.param(f'{MESSAGE} user="usr123"', id="same-value-quoted"),
    ],
)
def test_pairs_are_read_in_any_form(message: str) -> None:
    assert read(f"Apr 27 03:22:57 node1 lmod: {message}") == DOCUMENTED_RECORD


@pytest.mark.parametrize(
    ("pairs", "changes"),
    [
        pytest.param(
            "path='/my apps/gcc, new.lua'",
            {"path": "/my apps/gcc, new.lua"},
            id="quoted-path",
        ),
        pytest.param('user="o\'brien"', {"user": "o'brien"}, id="quote-in-quotes"),
        pytest.param("path=/a b", {"path": "/a"}, id="bare-ends-at-space"),
        pytest.param("path=/a,", {"path": "/a"}, id="trailing-comma"),
        pytest.param(
            "module=foo,bar/1",
            {"package": "foo,bar", "version": "1"},
            id="comma-inside",
        ),
        pytest.param(
            "module=gcc", {"package": "gcc", "version": None}, id="no-version"
        ),
        pytest.param(
            "module=gcc/", {"package": "gcc", "version": None}, id="empty-version"
        ),
        pytest.param(
            "module=intel/compilers/2023.1",
            {"package": "intel", "version": "compilers/2023.1"},
            id="first-slash",
        ),
        pytest.param("path=", {"path": None}, id="empty-path"),
        pytest.param("user=é", {"user": "é"}, id="non-ascii"),
        pytest.param("jobid=434.master16", {"job_id": "434.master16"}, id="jobid"),
        pytest.param("job_id=interactive", {"job_id": "interactive"}, id="job_id"),
        pytest.param("JobID=none", {"job_id": "none"}, id="none-is-kept"),
        pytest.param("jobid=nil", {"job_id": None}, id="nil"),
        pytest.param("jobid=NIL", {"job_id": None}, id="nil-upper"),
        pytest.param("jobid=na", {"job_id": None}, id="na"),
        pytest.param("jobid=NA", {"job_id": None}, id="na-upper"),
        pytest.param("jobid=", {"job_id": None}, id="empty-jobid"),
    ],
)
def test_values(pairs: str, changes: dict[str, str | None]) -> None:
    record = read(f"Apr 27 03:22:57 node1 lmod: {message_with(pairs)}")

    assert record == record_with(**changes)


def test_path_may_be_missing() -> None:
    record = read("user=a module=gcc/9 host=n1 time=1682580177")

    assert record == LoadRecord(
        "a", "n1", "gcc", "9", None, "2023-04-27 07:22:57.000000", None
    )


@pytest.mark.parametrize(
    ("line", "host"),
    [
        pytest.param("Apr 27 03:22:57 n7 t: user=a module=gcc", "n7", id="header"),
        pytest.param("Apr 27 03:22:57 n7 t: user=a module=gcc host=", "n7", id="empty"),
        pytest.param("Apr 27 03:22:57 n7 t: user=a module=gcc host=x", "x", id="key"),
    ],
)
def test_host_comes_from_the_key_or_the_header(line: str, host: str) -> None:
    record = read(line)

    assert isinstance(record, LoadRecord)
    assert record.host == host


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"  \t \r\n", id="whitespace"),
        pytest.param(b"Apr 27 03:22:57 n1 sshd[99]: Accepted key for bob", id="daemon"),
        pytest.param(
            b"Apr 27 03:22:57 n1 ModuleUsageTracking: starting", id="free-text"
        ),
        pytest.param(
            b"Apr 27 03:22:57 n1 sudo: bob : TTY=pts/0 ; PWD=/home/bob ;"
            b" USER=root ; COMMAND=/bin/ls",
            id="sudo",
        ),
        pytest.param(b"user=alice", id="one-key"),
        pytest.param(b"user=a user=b", id="one-key-twice"),
        pytest.param(b"xuser=a xmodule=b", id="keys-inside-words"),
        pytest.param(b"Apr 27 03:22:57 n1 t: \xff\xfe user=a", id="bad-bytes"),
    ],
)
def test_lines_that_are_not_load_records_are_skipped(line: bytes) -> None:
    assert read(line) is None


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        pytest.param("module=gcc time=1682580177", "no user", id="no-user"),
        pytest.param("user= module=gcc time=1682580177", "empty user", id="empty-user"),
        pytest.param("user=a host=n1", "no module", id="two-keys-no-module"),
        pytest.param("user=a module= time=1682580177", "empty module", id="empty"),
        pytest.param(
            "user=a module=/ time=1", "no package name in module '/'", id="slash"
        ),
        pytest.param(
            "user=a module=/1.0 time=1",
            "no package name in module '/1.0'",
            id="no-name",
        ),
        pytest.param("user=a user=b module=gcc", "repeated key user", id="repeated"),
        pytest.param("user=a username=b module=gcc", "repeated key user", id="alias"),
        pytest.param(
            "user=a module=gcc jobid=1 job_id=2", "repeated key jobid", id="job"
        ),
        pytest.param(
            "user=a module=gcc path='/a b", "unterminated quote in path", id="quote"
        ),
        pytest.param(
            "user=a module=gcc\x00 time=1", "control character in module", id="nul"
        ),
        pytest.param("user='a\tb' module=gcc", "control character in user", id="tab"),
        pytest.param(
            "user=a module=gcc jobid=\x1b[0m", "control character in jobid", id="esc"
        ),
    ],
)
def test_incomplete_load_records_are_rejected(message: str, reason: str) -> None:
    assert read(f"Apr 27 03:22:57 n1 t: {message}") == f"rejected: {reason}"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        pytest.param(
            b"user=a\xff module=gcc host=n time=1682580177",
            "invalid UTF-8 in user",
            id="user",
        ),
        pytest.param(
            b"user=a module=gcc/\xe9 host=n time=1682580177",
            "invalid UTF-8 in module",
            id="module",
        ),
        pytest.param(
            b"Apr 27 03:22:57 n\xff t: user=a module=gcc",
            "invalid UTF-8 in host",
            id="header-host",
        ),
        pytest.param(b"user=a module=gcc host=n", "no time", id="no-time"),
        pytest.param(b"user=a module=gcc time=1682580177", "no host", id="no-host"),
    ],
)
def test_undecodable_or_missing_values_are_rejected(line: bytes, reason: str) -> None:
    assert read(line) == f"rejected: {reason}"


def test_invalid_bytes_outside_key_fields_are_fine() -> None:
    line = f"Apr 27 03:22:57 node1 lm\xffod: note=\xfe {MESSAGE}".encode("latin-1")

    assert read(line) == DOCUMENTED_RECORD


@pytest.mark.parametrize(
    ("pairs", "reason"),
    [
        pytest.param(f"user={'u' * 256}", "user longer than 255 characters", id="user"),
        pytest.param(f"host={'h' * 256}", "host longer than 255 characters", id="host"),
        pytest.param(
            f"module={'p' * 256}/1",
            "package name longer than 255 characters",
            id="package",
        ),
        pytest.param(
            f"module=gcc/{'v' * 256}",
            "version longer than 255 characters",
            id="version",
        ),
        pytest.param(
            f"path=/{'p' * 4096}", "path longer than 4096 characters", id="path"
        ),
        pytest.param(
            f"jobid={'j' * 256}", "job id longer than 255 characters", id="job-id"
        ),
    ],
)
def test_values_longer_than_their_column_are_rejected(pairs: str, reason: str) -> None:
    assert read(message_with(pairs)) == f"rejected: {reason}"


def test_values_as_long_as_their_column_are_kept() -> None:
    user, host, package, version = "u" * 255, "h" * 255, "p" * 255, "v" * 255
    path, job_id = "/" + "a" * 4095, "j" * 255
    line = (
        f"user={user} module={package}/{version} path={path} host={host}"
        f" time=1682580177 jobid={job_id}"
    )

    record = read(line)

    assert record == LoadRecord(
        user, host, package, version, path, "2023-04-27 07:22:57.000000", job_id
    )


def test_rejected_line_is_a_value_error_with_a_reason() -> None:
    with pytest.raises(ValueError, match=r"^empty user$") as caught:
        PARSER.parse(b"user= module=gcc")

    assert isinstance(caught.value, RejectedLine)
    assert caught.value.reason == "empty user"


HEADERS = (
    b"Apr 27 03:22:57 node1 ModuleUsageTracking: ",
    b"<13>Apr  7 03:22:57 n t[1]: ",
    b"2026-01-03T10:11:12Z n1 lmod: ",
    b"Apr 27 03:22:57 n\xff t: ",
    b"x=y: ",
    b"",
)
ODD_VALUES = {
    "user": ("usr1", "a=b", "'q a'", "", "u" * 256, "x,", "\udcff"),
    "module": ("gcc/5.4", "gcc", "/1", "a/b/c", "gcc/", "'g c/1'", "g\x00/1"),
    "path": ("/m/gcc.lua", "/m\x7f", "'/my m'", "/" + "p" * 4096, '"/m'),
    "host": ("n1.example", "", "h" * 256, "\u00e9", "n,1"),
    "time": ("1682580177", "1682580177.62218", "16825", "abc", "9" * 14, "1.2"),
}
ENDINGS = (b"", b"\n", b"\r\n", b" jobid=7", b" user=other", b" fn=/m/gcc.lua")
JOB_IDS = ("434.master16", "nil", "NA", "", "j" * 256, "'a b'", "x,", "\x01")


def varied_line(chooser: random.Random) -> bytes:
    """A line near the documented shape, some of its values swapped for odd ones."""
    values = {
        key: chooser.choice(choices) if chooser.random() < 0.4 else choices[0]
        for key, choices in ODD_VALUES.items()
    }
    pairs = [f"{key}={value}" for key, value in values.items()]
    if chooser.random() < 0.5:
        pairs.insert(4, f"jobid={chooser.choice(JOB_IDS)}")
    message = " ".join(pairs)
    return (
        chooser.choice(HEADERS)
        + message.encode("utf-8", "surrogateescape")
        + chooser.choice(ENDINGS)
    )


def takes_fast_path(line: bytes) -> bool:
    """Whether a line is read by the fast path rather than the general one."""
    try:
        text = line.strip().decode()
    except UnicodeDecodeError:
        return False
    return _read_documented(text) is not None


def test_fast_and_general_paths_agree() -> None:
    chooser = random.Random(20230427)
    lines = [varied_line(chooser) for _ in range(3000)]

    results = [read(line) for line in lines]

    assert sum(takes_fast_path(line) for line in lines) > 100
    assert sum(takes_fast_path(line) and b"jobid" in line for line in lines) > 20
    assert sum(isinstance(result, LoadRecord) for result in results) > 500
    assert sum(isinstance(result, str) for result in results) > 500


def documented(second: int, **changes: str) -> bytes:
    """A documented line at another second, some of its pairs changed."""
    pairs = {
        "user": "usr123",
        "module": "gcc/5.4.0",
        "path": "/modules/gcc/5.4.0.lua",
        "host": "node1.domain.com",
        "time": f"{1682580177 + second}.622180",
    }
    pairs.update(changes)
    message = " ".join(f"{key}={value}" for key, value in pairs.items() if value)
    return f"Apr 27 03:22:57 node1 ModuleUsageTracking: {message}".encode()


@pytest.mark.parametrize(
    ("cut", "reason"),
    [
        pytest.param(
            {"path": "", "host": "", "time": "", "module": "py-scikit-"},
            "no path=, host=, time= unlike the records before it: "
            "the line looks cut short",
            id="cut-in-module",
        ),
        pytest.param(
            {"time": ""},
            "no time= unlike the records before it: the line looks cut short",
            id="cut-before-time",
        ),
    ],
)
def test_cut_record_after_complete_ones_is_rejected(
    cut: dict[str, str], reason: str
) -> None:
    parser = LineParser(reference_time=REFERENCE_TIME, tz=NEW_YORK)
    for second in range(60):
        assert isinstance(read(documented(second), parser), LoadRecord)

    assert read(documented(99, **cut), parser) == f"rejected: {reason}"


def test_records_without_path_are_fine_where_they_are_common() -> None:
    parser = LineParser(reference_time=REFERENCE_TIME, tz=NEW_YORK)
    lines = [
        documented(second, path="" if second % 10 else "/m/a.lua")
        for second in range(100)
    ]

    results = [read(line, parser) for line in lines]

    assert all(isinstance(result, LoadRecord) for result in results)


def test_a_cut_record_early_in_a_file_is_still_stored() -> None:
    parser = LineParser(reference_time=REFERENCE_TIME, tz=NEW_YORK)
    for second in range(10):
        read(documented(second), parser)

    assert isinstance(read(documented(99, time=""), parser), LoadRecord)
