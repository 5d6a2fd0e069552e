"""Split a syslog line into its header (time stamp, host) and its message.

Three header shapes are recognised, each with an optional ``<PRI>`` in front:

* RFC 3164, as classic syslog daemons write it:
  ``Apr  7 03:22:57 node1 lmod[1234]: message``. The stamp has no year and
  no zone.
* ISO 8601 / RFC 3339, as rsyslog writes high-precision stamps:
  ``2026-01-03T10:11:12.123456+01:00 node1 lmod: message``, with ``Z`` or
  without an offset too.
* RFC 5424: ``<13>1 2016-06-07T17:50:22.658452+02:00 node1 app procid msgid
  SD message``, where the structured data ``SD`` is ``-`` or ``[...]`` blocks
  and the message may start with a byte order mark.

In the first two shapes the host and the tag (any name, with or without a
``[pid]``) may each be missing. A line with none of these headers is all
message.

Stamps are turned into UTC only on demand, by `HeaderClock`, because a load
record usually carries its own ``time=`` and then the header stamp is unused.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from typing import NamedTuple

_MONTHS: tuple[str, ...] = ("Jan", "Feb", "Mar", "Apr", "May", "Jun")
_MONTHS += ("Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_PRIORITY = r"(?:<[0-9]{1,3}>)?"
_CLOCK = (
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]+))?"
)
_RFC3164_STAMP = (
    rf"(?P<month_name>{'|'.join(_MONTHS)}) {{1,2}}(?P<day>[0-9]{{1,2}}) {_CLOCK}"
)
_ISO_STAMP = (
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt ]"
    + _CLOCK
    + r"(?P<offset>[Zz]|(?P<sign>[+-])(?P<hours>[0-9]{2}):?(?P<minutes>[0-9]{2}))?"
)

# A host never holds '=' (so a bare message is not taken for a host) and never
# ends with ':' (so a tag is not taken for a host when the host is missing).
_SOURCE = (
    r"(?:(?P<host>[^\s=]*[^\s:=]) )?"
    r"(?:[^\s:\[\]=]+(?:\[[^\]\s]*\])?: ?)?"
    r"(?P<message>.*)"
)
_SD_ELEMENT = r'\[[^\s=\]"]+(?: [^\s=\]"]+="(?:[^"\\]|\\.)*")*\]'

_FLAGS = re.ASCII | re.DOTALL
_RFC3164_LINE = re.compile(rf"{_PRIORITY}(?P<stamp>{_RFC3164_STAMP}) {_SOURCE}", _FLAGS)
_ISO_LINE = re.compile(rf"{_PRIORITY}(?P<stamp>{_ISO_STAMP}) {_SOURCE}", _FLAGS)
_RFC5424_LINE = re.compile(
    rf"{_PRIORITY}[0-9]{{1,2}} (?P<stamp>-|{_ISO_STAMP}) (?P<host>\S+) \S+ \S+ \S+"
    rf" (?:-|(?:{_SD_ELEMENT})+)(?: \ufeff?(?P<message>.*))?",
    _FLAGS,
)
_RFC3164_STAMP_PARTS = re.compile(_RFC3164_STAMP, re.ASCII)
_ISO_STAMP_PARTS = re.compile(_ISO_STAMP, re.ASCII)


class SyslogHeader(NamedTuple):
    """What a syslog header says about a line, and the message that follows it."""

    host: str | None
    stamp: str | None
    message: str


def split_header(text: str) -> SyslogHeader:
    """Split a line into header host, header stamp and message."""
    for pattern in (_RFC3164_LINE, _ISO_LINE):
        match = pattern.fullmatch(text)
        if match is not None:
            return SyslogHeader(match["host"], match["stamp"], match["message"])

    match = _RFC5424_LINE.fullmatch(text)
    if match is None:
        return SyslogHeader(None, None, text)

    host = None if match["host"] == "-" else match["host"]
    stamp = None if match["stamp"] == "-" else match["stamp"]
    return SyslogHeader(host, stamp, match["message"] or "")


class HeaderClock:
    """Turns header stamps into UTC moments.

    Stamps without an offset are read in ``tz``, or in the machine's local
    zone when ``tz`` is None. RFC 3164 stamps carry no year; it is inferred as
    syslog tools do: the latest year that puts the stamp at most one day after
    ``reference_time`` (the modification time of the file being read).
    """

    def __init__(self, reference_time: datetime, tz: tzinfo | None) -> None:
        """Remember when the file was last written and the zone of its stamps."""
        self._latest = reference_time + timedelta(days=1)
        self._tz = tz

    def to_utc(self, stamp: str) -> datetime:
        """The UTC moment of a header stamp; ValueError when it names none."""
        try:
            parts = _RFC3164_STAMP_PARTS.fullmatch(stamp)
            if parts is not None:
                return self._rfc3164_to_utc(parts)
            return self._iso_to_utc(stamp)
        except (ValueError, OverflowError):
            raise ValueError(f"header time is not a valid time: {stamp!r}") from None

    def _iso_to_utc(self, stamp: str) -> datetime:
        """The UTC moment of an ISO 8601 stamp, with or without an offset."""
        parts = _ISO_STAMP_PARTS.fullmatch(stamp)
        if parts is None:
            raise ValueError("not a header stamp")

        moment = datetime(
            int(parts["year"]), int(parts["month"]), int(parts["day"])
        ) + _time_of_day(parts)

        if parts["offset"] is None:
            return self._local_to_utc(moment)
        if parts["sign"] is None:
            return moment.replace(tzinfo=timezone.utc)

        offset = timedelta(hours=int(parts["hours"]), minutes=int(parts["minutes"]))
        zone = timezone(-offset if parts["sign"] == "-" else offset)
        return moment.replace(tzinfo=zone).astimezone(timezone.utc)

    def _rfc3164_to_utc(self, parts: re.Match[str]) -> datetime:
        """The UTC moment of a year-less RFC 3164 stamp, its year inferred."""
        month = _MONTHS.index(parts["month_name"]) + 1
        day = int(parts["day"])
        time_of_day = _time_of_day(parts)

        # Eight years back always reach a leap year, for stamps of 29 February.
        for year in range(self._latest.year + 1, self._latest.year - 8, -1):
            try:
                moment = self._local_to_utc(datetime(year, month, day) + time_of_day)
            except (ValueError, OverflowError):
                continue
            if moment <= self._latest:
                return moment

        raise ValueError("no year fits")

    def _local_to_utc(self, moment: datetime) -> datetime:
        """Read a naive moment in the configured zone and express it in UTC."""
        if self._tz is None:
            return moment.astimezone(timezone.utc)
        return moment.replace(tzinfo=self._tz).astimezone(timezone.utc)


def _time_of_day(parts: re.Match[str]) -> timedelta:
    """The time of day of a stamp's clock, to the microsecond.

    Raises ValueError for a clock past 23:59:59, which names no moment.
    """
    hour, minute, second = (int(parts[name]) for name in ("hour", "minute", "second"))
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError("no such time of day")

    fraction = (parts["fraction"] or "")[:6].ljust(6, "0")
    return timedelta(
        hours=hour, minutes=minute, seconds=second, microseconds=int(fraction)
    )
