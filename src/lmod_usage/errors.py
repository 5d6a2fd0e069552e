"""The one exception hierarchy of the library and the exit codes it maps to.

Library code raises these; only the command-line front end turns them into a
one-line message and an exit status, so a traceback is never the way an
expected failure reaches an admin.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit statuses of the ``lmod-usage`` command."""

    OK = 0
    ERROR = 1
    USAGE = 2
    INPUT = 3
    DATABASE = 4
    SCHEMA = 5
    INTERRUPTED = 130


class LmodUsageError(Exception):
    """Base of every error the library expects and explains."""

    exit_code = ExitCode.ERROR


class ConfigError(LmodUsageError):
    """A setting is missing or malformed."""

    exit_code = ExitCode.USAGE


class InputError(LmodUsageError):
    """A log file cannot be opened or read."""

    exit_code = ExitCode.INPUT


class DatabaseError(LmodUsageError):
    """The database cannot be reached, or refused a read or a write."""

    exit_code = ExitCode.DATABASE


class SchemaError(LmodUsageError):
    """The database schema is not at the revision this version works with."""

    exit_code = ExitCode.SCHEMA


class Interrupted(LmodUsageError):
    """The run was stopped by a signal after committing what was complete."""

    exit_code = ExitCode.INTERRUPTED
