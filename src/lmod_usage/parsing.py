"""Turn one line of an Lmod usage log into a load record.

Lmod sites log each module load through syslog, as a message of key=value
pairs such as::

    Apr 27 03:22:57 node1 ModuleUsageTracking: user=usr123 module=gcc/5.4.0
    path=/modules/gcc/5.4.0.lua host=node1.domain.com time=1682580177.622180

The rules, in the order a line meets them:

* Header. An RFC 3164, ISO 8601 or RFC 5424 syslog header is recognised and
  set aside (see `lmod_usage.syslog_header`); a line without one is all
  message.
* Pairs. Keys are matched case-insensitively, with aliases: ``user`` or
  ``username``; ``module``; ``path``, ``fn`` or ``fullpath``; ``host``;
  ``time``; ``jobid`` or ``job_id``. Values are bare (up to whitespace, minus
  a trailing comma) or quoted with ``'`` or ``"``. Other keys and text are
  ignored.
* Candidates. A line is a load record when its message has a ``module`` key
  or at least two of the other keys. Any other line is skipped; a record that
  cannot be stored whole is rejected with a reason.
* Load time. ``time=`` is epoch seconds in UTC, read digit by digit so the
  microseconds are exactly those written. Without it, the header stamp is
  used: a stamp without an offset is in the zone given to `LineParser` (the
  machine's zone by default), and a year-less RFC 3164 stamp gets the latest
  year that puts it at most one day after the file's modification time.
  Times before 2000 are rejected as the mark of a truncated value or an unset
  clock.
* Host. ``host=`` when present and not empty, else the header's host.
* Module. Split at the first ``/`` into package and version; no version when
  there is no ``/`` or nothing after it. Job ids ``nil``, ``na`` and empty
  mean none; so does an empty ``path=``.
* Rejections. A missing or empty user or module, a bad time, a key given
  twice with different values (two records garbled into one line), a quote
  left open, invalid UTF-8 or control characters in a value that is kept, and
  a value longer than its database column.

Lines whose message is exactly the documented five bare keys take a fast
path; it reads them as the general path would, which the tests check.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import NamedTuple

from lmod_usage.schema import (
    HOST_NAME_LENGTH,
    JOB_ID_LENGTH,
    PACKAGE_NAME_LENGTH,
    PATH_LENGTH,
    USER_NAME_LENGTH,
    VERSION_LENGTH,
)
from lmod_usage.syslog_header import HeaderClock, SyslogHeader, split_header

_KEY_ALIASES = {
    "user": "user",
    "username": "user",
    "module": "module",
    "path": "path",
    "fn": "path",
    "fullpath": "path",
    "host": "host",
    "time": "time",
    "jobid": "jobid",
    "job_id": "jobid",
}

# A key starts the message or follows whitespace or a comma.
_PAIR = re.compile(
    r"(?<![^\s,])(?P<key>[A-Za-z_][A-Za-z0-9_]*)="
    r"""(?:"(?P<double>[^"]*)"|'(?P<single>[^']*)'|(?P<bare>\S*?),?(?=\s|\Z))""",
    re.ASCII,
)
_EPOCH = re.compile(r"(?P<seconds>[0-9]+)(?:\.(?P<fraction>[0-9]+))?", re.ASCII)
_BAD_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f\udc80-\udcff]")

_EARLIEST_SECOND = 946_684_800  # 2000-01-01 00:00:00 UTC
_LATEST_SECOND = 253_402_300_799  # 9999-12-31 23:59:59 UTC, the last datetime
_EARLIEST_MOMENT = datetime(2000, 1, 1, tzinfo=timezone.utc)
_NO_JOB_IDS = frozenset({"", "nil", "na"})
# Records that nearly all carry these keys make one without them look cut.
_EXPECTED_KEYS = ("path", "host", "time")
_CUT_WARM_UP = 50

# The documented message, with the job id many sites add before the time, and
# bare printable ASCII values free of quotes and commas, each short enough for
# its column: the only message the fast path reads.
_VALUE = r"[!#-&(-+\--~]"
_PACKAGE_VALUE = r"[!#-&(-+\--.0-~]"  # the same, without '/'
_DOCUMENTED_MESSAGE = re.compile(
    rf"user=({_VALUE}{{1,{USER_NAME_LENGTH}}})"
    rf" module=({_PACKAGE_VALUE}{{1,{PACKAGE_NAME_LENGTH}}})"
    rf"/({_VALUE}{{1,{VERSION_LENGTH}}})"
    rf" path=({_VALUE}{{1,{PATH_LENGTH}}})"
    rf" host=({_VALUE}{{1,{HOST_NAME_LENGTH}}})"
    rf"(?: jobid=({_VALUE}{{1,{JOB_ID_LENGTH}}}))?"
    r" time=([0-9]{1,12})(?:\.([0-9]+))?"
)
_TWO_DIGITS = tuple(f"{number:02d}" for number in range(60))
_MINUTE_TEXTS: dict[int, str] = {}


class LoadRecord(NamedTuple):
    """One module load, as it will be stored."""

    user: str
    host: str
    package: str
    version: str | None
    path: str | None
    load_time: str
    job_id: str | None


_FIELD_LIMITS = (
    ("user", "user", USER_NAME_LENGTH),
    ("host", "host", HOST_NAME_LENGTH),
    ("package", "package name", PACKAGE_NAME_LENGTH),
    ("version", "version", VERSION_LENGTH),
    ("path", "path", PATH_LENGTH),
    ("job_id", "job id", JOB_ID_LENGTH),
)


class RejectedLine(ValueError):
    """A line that looks like a load record but cannot be stored whole."""

    reason: str

    def __init__(self, reason: str) -> None:
        """Keep the short human reason, e.g. ``empty user``."""
        super().__init__(reason)
        self.reason = reason


class LineParser:
    """Reads lines of one log file into load records.

    ``reference_time`` is the file's modification time (an aware datetime,
    now by default), from which the year of RFC 3164 stamps is inferred.
    ``tz`` is the zone of header stamps without an offset, the machine's local
    zone by default.
    """

    def __init__(
        self, reference_time: datetime | None = None, tz: tzinfo | None = None
    ) -> None:
        """Prepare to read lines of a file written last at ``reference_time``."""
        if reference_time is None:
            reference_time = datetime.now(timezone.utc)
        if reference_time.utcoffset() is None:
            raise ValueError("reference_time must carry a time zone")

        self._clock = HeaderClock(reference_time, tz)
        self._records = 0
        self._complete = 0

    def parse(self, line: bytes) -> LoadRecord | None:
        """The load record of a line, or None when the line is not one.

        Raises RejectedLine when the line looks like a load record but cannot
        be stored whole. Lines whose message has the documented shape take a
        fast path; every line gives the same result as with `parse_general`.
        """
        try:
            text = line.strip().decode()
        except UnicodeDecodeError:
            return self.parse_general(line)

        record = _read_documented(text)
        if record is not None:
            self._records += 1
            self._complete += 1
            return record
        return self._parse_text(text)

    def parse_general(self, line: bytes) -> LoadRecord | None:
        """Like `parse`, without the fast path for the documented shape."""
        text = line.strip().decode("utf-8", "surrogateescape")
        return self._parse_text(text)

    def _parse_text(self, text: str) -> LoadRecord | None:
        """The load record of a decoded, stripped line, or None."""
        header = split_header(text)
        values, repeated = _read_pairs(header.message)
        if "module" not in values and len(values) < 2:
            return None

        if repeated is not None:
            raise RejectedLine(f"repeated key {repeated}")
        for key, value in values.items():
            _check_text(key, value)

        user = _user(values.get("user"))
        package, version = _split_module(values.get("module"))
        missing = [key for key in _EXPECTED_KEYS if not values.get(key)]
        if missing and self._expects_complete_records():
            raise RejectedLine(
                f"no {'=, '.join(missing)}= unlike the records before it: "
                "the line looks cut short"
            )
        load_time = self._load_time(values.get("time"), header)
        host = _host(values.get("host"), header.host)
        path = values.get("path") or None
        job_id = _job_id(values.get("jobid"))

        record = LoadRecord(user, host, package, version, path, load_time, job_id)
        _check_lengths(record)
        self._records += 1
        self._complete += not missing
        return record

    def _expects_complete_records(self) -> bool:
        """Whether nearly all records so far carried path, host and time.

        Lmod writes them in a fixed order, time last, so in a file where
        they are the rule a record without them was cut short on its way to
        the log (by a syslog size limit or a crash); its cut values would be
        stored as a bogus package or host.
        """
        records = self._records
        return records >= _CUT_WARM_UP and self._complete * 100 >= records * 99

    def _load_time(self, time: str | None, header: SyslogHeader) -> str:
        """The load time from ``time=``, or else from the header stamp."""
        if time is not None:
            return _epoch_load_time(time)
        if header.stamp is None:
            raise RejectedLine("no time")

        try:
            moment = self._clock.to_utc(header.stamp)
        except ValueError as error:
            raise RejectedLine(str(error)) from None

        if moment < _EARLIEST_MOMENT:
            raise RejectedLine(f"header time is before 2000: {_show(header.stamp)}")
        return moment.replace(tzinfo=None).isoformat(" ", "microseconds")


def _read_documented(text: str) -> LoadRecord | None:
    """The record of a line with the documented message, or None for other lines.

    The message must start at the line's first ``=``, so that whatever header
    precedes it cannot hold a pair that the general path would read. Only
    lines that will be stored are read here, leaving every rejection to the
    general path.
    """
    start = text.find("=") - len("user")
    if start < 0 or (start > 0 and text[start - 1] != " "):
        return None

    match = _DOCUMENTED_MESSAGE.fullmatch(text, start)
    if match is None:
        return None

    user, package, version, path, host, job_id, seconds, fraction = match.groups()
    second = int(seconds)
    if not _EARLIEST_SECOND <= second <= _LATEST_SECOND:
        return None

    load_time = _format_load_time(second, fraction)
    if job_id is not None and job_id.lower() in _NO_JOB_IDS:
        job_id = None
    return LoadRecord(user, host, package, version, path, load_time, job_id)


def _read_pairs(message: str) -> tuple[dict[str, str | None], str | None]:
    """The recognised keys of a message with their first values, and a repeated key.

    A value is None when its quote is never closed. The repeated key is the
    first one given twice with different values, or None.
    """
    values: dict[str, str | None] = {}
    repeated = None

    for pair in _PAIR.finditer(message):
        key = _KEY_ALIASES.get(pair["key"].lower())
        if key is None:
            continue

        value = _pair_value(pair)
        if key not in values:
            values[key] = value
        elif values[key] != value and repeated is None:
            repeated = key

    return values, repeated


def _pair_value(pair: re.Match[str]) -> str | None:
    """The unquoted value of a key=value match; None for an unclosed quote."""
    if pair["double"] is not None:
        return pair["double"]
    if pair["single"] is not None:
        return pair["single"]

    bare: str = pair["bare"]
    return None if bare.startswith(("'", '"')) else bare


def _check_text(key: str, value: str | None) -> None:
    """Reject a key's value that is cut short or holds what no column should."""
    if value is None:
        raise RejectedLine(f"unterminated quote in {key}")

    bad = _BAD_CHARACTER.search(value)
    if bad is None:
        return
    if bad.group() >= "\udc80":
        raise RejectedLine(f"invalid UTF-8 in {key}")
    raise RejectedLine(f"control character in {key}")


def _user(user: str | None) -> str:
    """The user of a record, which every record needs."""
    if user is None:
        raise RejectedLine("no user")
    if not user:
        raise RejectedLine("empty user")
    return user


def _host(host: str | None, header_host: str | None) -> str:
    """The host from ``host=``, else from the header."""
    if host:
        return host
    if header_host is None:
        raise RejectedLine("no host")

    _check_text("host", header_host)
    return header_host


def _split_module(module: str | None) -> tuple[str, str | None]:
    """Split a module name at its first ``/`` into package and version.

    The version is None when there is no ``/`` or nothing after it.
    """
    if module is None:
        raise RejectedLine("no module")
    if not module:
        raise RejectedLine("empty module")

    package, _, version = module.partition("/")
    if not package:
        raise RejectedLine(f"no package name in module {_show(module)}")
    return package, version or None


def _job_id(job_id: str | None) -> str | None:
    """The job id, or None for the values that say there is no job."""
    if job_id is None or job_id.lower() in _NO_JOB_IDS:
        return None
    return job_id


def _epoch_load_time(time: str) -> str:
    """The load time of a ``time=`` value: decimal epoch seconds in UTC."""
    number = _EPOCH.fullmatch(time)
    if number is None:
        raise RejectedLine(f"time is not a number: {_show(time)}")

    # Counting digits first keeps int() away from absurdly long numbers.
    digits = number["seconds"].lstrip("0") or "0"
    second = int(digits) if len(digits) <= len(str(_LATEST_SECOND)) else None
    if second is None or second > _LATEST_SECOND:
        raise RejectedLine(f"time is out of range: {_show(time)}")
    if second < _EARLIEST_SECOND:
        raise RejectedLine(f"time is before 2000: {_show(time)}")

    return _format_load_time(second, number["fraction"])


def _format_load_time(second: int, fraction: str | None) -> str:
    """Format an epoch second and its fraction's digits as a UTC load time."""
    minute, second_of_minute = divmod(second, 60)
    minute_text = _MINUTE_TEXTS.get(minute)
    if minute_text is None:
        minute_text = _remember_minute(minute)

    if fraction is None or len(fraction) != 6:
        fraction = (fraction or "")[:6].ljust(6, "0")
    return f"{minute_text}{_TWO_DIGITS[second_of_minute]}.{fraction}"


def _remember_minute(minute: int) -> str:
    """Format ``YYYY-MM-DD HH:MM:`` of an epoch minute, and keep it for reuse.

    Log lines come in time order, so the minutes just formatted are the ones
    needed next; the cache is emptied when it grows past a day of minutes.
    """
    if len(_MINUTE_TEXTS) >= 1_440:
        _MINUTE_TEXTS.clear()

    day, minute_of_day = divmod(minute, 1_440)
    hour, minute_of_hour = divmod(minute_of_day, 60)
    day_text = (date(1970, 1, 1) + timedelta(days=day)).isoformat()
    text = f"{day_text} {hour:02d}:{minute_of_hour:02d}:"

    _MINUTE_TEXTS[minute] = text
    return text


def _check_lengths(record: LoadRecord) -> None:
    """Reject a record with a value longer than its database column."""
    for field, name, limit in _FIELD_LIMITS:
        value = getattr(record, field)
        if value is not None and len(value) > limit:
            raise RejectedLine(f"{name} longer than {limit} characters")


def _show(value: str) -> str:
    """A value quoted for a rejection reason, cut short when long."""
    if len(value) > 60:
        return repr(value[:60]) + "..."
    return repr(value)
