"""The ``lmod-usage`` command: parse options, call the library, print results.

Errors from the library arrive as LmodUsageError and leave through ``main``
as one line on standard error and an exit status; ``--debug`` adds the
traceback. Data goes to standard output, messages to standard error.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from contextlib import closing, nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from lmod_usage import __version__, database, revisions
from lmod_usage.batches import Rejection
from lmod_usage.config import Settings, load_settings
from lmod_usage.console import (
    ProgressDisplay,
    print_status,
    progress_display,
    stop_on_signals,
)
from lmod_usage.errors import ExitCode, InputError, LmodUsageError
from lmod_usage.follow import follow as follow_log
from lmod_usage.ingest import BATCH_SIZE, FileSummary, Ingester, Listeners
from lmod_usage.status import collect_status

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class RunState:
    """What the error funnel needs to know about the current run."""

    debug: bool = False


def common_options(function: F) -> F:
    """Options every command takes: the database, verbosity and debugging."""

    @click.option(
        "--db",
        "db_url",
        metavar="URL",
        help="SQLAlchemy database URL; overrides DB_URL and the DB_* settings.",
    )
    @click.option("-v", "--verbose", is_flag=True, help="Say more about each step.")
    @click.option("-q", "--quiet", is_flag=True, help="Print only results and errors.")
    @click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
    @click.pass_obj
    @functools.wraps(function)
    def wrapper(state: RunState, *args: Any, **kwargs: Any) -> Any:
        state.debug = kwargs["debug"]
        configure_logging(kwargs["verbose"], kwargs["debug"])
        return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def configure_logging(verbose: bool, debug: bool) -> None:
    """Send lmod-usage's log to standard error at the chosen level.

    Other libraries stay at warnings: SQLAlchemy's debug log would print
    every row of every batch.
    """
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(
        level=logging.WARNING,
        format="lmod-usage: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    logging.getLogger("lmod_usage").setLevel(level)


def settings_for(db_url: str | None, quiet: bool) -> Settings:
    """Load the settings and say which database is in use."""
    settings = load_settings(db_url)
    if not quiet:
        click.echo(f"database: {settings.describe()}", err=True)
    return settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lmod-usage")
def cli() -> None:
    """Store Lmod module loads from syslog in SQL, and report on them.

    The database is chosen by --db, DB_URL, the DB_USER/DB_PASSWORD/DB_HOST/
    DB_PORT/DB_NAME settings (MySQL/MariaDB), or else SQLite at ./lmod.db.
    Settings may also come from a .env file in the working directory.
    """


@cli.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file.")
@click.option(
    "--full",
    is_flag=True,
    help="Read files from the start, not where the last run ended.",
)
@click.option(
    "--follow",
    is_flag=True,
    help="Keep reading one live FILE as it grows and is rotated, until stopped.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 1_000_000),
    default=BATCH_SIZE,
    show_default=True,
    help="Loads stored per transaction.",
)
@common_options
def ingest(
    files: Sequence[str],
    as_json: bool,
    full: bool,
    follow: bool,
    batch_size: int,
    db_url: str | None,
    verbose: bool,
    quiet: bool,
    debug: bool,
) -> int:
    """Store the module loads found in log FILEs (plain, .gz, .bz2, .xz, or -).

    Each file is read from where the last run left it, also after logrotate
    renamed or compressed it. Loads already stored are never stored again.
    Example, from cron:

        lmod-usage ingest --quiet /var/log/lmod/lmod.log*

    With --follow it keeps storing loads as they are logged, until SIGTERM
    or Ctrl-C, and then prints what it stored.
    """
    if follow and (len(files) != 1 or full or files[0] == "-"):
        raise click.UsageError("--follow takes one log file, and not --full")
    settings = settings_for(db_url, quiet)
    ingester = Ingester(settings, batch_size)
    display = None if quiet or as_json or follow else progress_display()
    listeners = Listeners(
        on_reject=print_rejection if verbose or debug else None,
        on_progress=display.update if display is not None else None,
    )

    def read(name: str) -> FileSummary:
        if follow:
            return follow_log(ingester, name, listeners)
        return ingester.ingest(name, full, listeners)

    status = ExitCode.OK
    stopping = stop_on_signals(ingester, display)
    with closing(ingester), stopping, display or nullcontext():
        for name in files:
            outcome = ingest_one(read, name, display)
            if isinstance(outcome, InputError):
                click.echo(f"lmod-usage: {outcome}", err=True)
                status = ExitCode.INPUT
            else:
                print_summary(outcome, as_json)
    return status


def ingest_one(
    read: Callable[[str], FileSummary], name: str, display: ProgressDisplay | None
) -> FileSummary | InputError:
    """Ingest one file under its progress bar, or return why it cannot be read.

    Returning the error lets the other files be ingested all the same.
    """
    if display is not None:
        display.start_file(name)
    try:
        return read(name)
    except InputError as error:
        return error
    finally:
        if display is not None:
            display.finish_file()


def print_rejection(item: Rejection) -> None:
    """Show one rejected line with its place and reason."""
    click.echo(f"{item.path}:{item.line_number}: {item.reason}: {item.text}", err=True)


def print_summary(summary: FileSummary, as_json: bool) -> None:
    """Print the figures of one ingested file."""
    if as_json:
        click.echo(json.dumps(summary.as_dict()))
        return
    click.echo(
        f"{summary.path}: {summary.lines:,} lines, {summary.inserted:,} stored, "
        f"{summary.duplicates:,} duplicates, {summary.skipped:,} skipped, "
        f"{summary.rejected:,} rejected in {summary.seconds:.2f} s"
    )


@cli.command()
@click.argument("revision", default="head")
@click.option("--sql", is_flag=True, help="Print the SQL instead of running it.")
@click.option(
    "--downgrade", is_flag=True, help="Go back to an older REVISION (may drop data)."
)
@common_options
def migrate(
    revision: str,
    sql: bool,
    downgrade: bool,
    db_url: str | None,
    verbose: bool,
    quiet: bool,
    debug: bool,
) -> int:
    """Upgrade the database schema to REVISION (default: the newest).

    With --sql, print the SQL for a database administrator to run instead.
    Example: lmod-usage migrate --sql > upgrade.sql
    """
    settings = settings_for(db_url, quiet or sql)
    if sql:
        revisions.print_migration_sql(settings, revision, downgrade)
        return ExitCode.OK

    with database.database_errors(settings):
        engine = database.create_database_engine(settings)
        before, after = revisions.migrate(engine, revision, downgrade)
        engine.dispose()
    if not quiet:
        verb = "downgraded" if downgrade else "upgraded"
        if before == after:
            click.echo(f"schema already at revision {after}", err=True)
        else:
            click.echo(f"schema {verb} from {before or 'empty'} to {after}", err=True)
    return ExitCode.OK


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@common_options
def status(
    as_json: bool, db_url: str | None, verbose: bool, quiet: bool, debug: bool
) -> int:
    """Show the database in use, its schema, its rows and the log files read.

    Example: lmod-usage status --db postgresql://lmod@dbhost/lmod
    """
    settings = load_settings(db_url)
    result = collect_status(settings)
    if as_json:
        click.echo(json.dumps(result.as_dict()))
    else:
        print_status(result)
    return ExitCode.OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and turn every expected failure into one line."""
    state = RunState()
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="lmod-usage",
            standalone_mode=False,
            obj=state,
        )
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.exceptions.Abort:
        click.echo("lmod-usage: interrupted", err=True)
        return ExitCode.INTERRUPTED
    except LmodUsageError as error:
        if state.debug:
            traceback.print_exc()
        click.echo(f"lmod-usage: {error}", err=True)
        return error.exit_code
    except BrokenPipeError:
        sys.stderr.close()
        return ExitCode.OK
    except Exception as error:
        if state.debug:
            raise
        click.echo(
            f"lmod-usage: unexpected {type(error).__name__}: {error} "
            "(run again with --debug for the traceback)",
            err=True,
        )
        return ExitCode.ERROR
    return int(result or 0)
