"""Parse in a second process while the first one writes to the database.

Parsing and storing each take about one core for a large file, so a forked
child parses and sends compact batches through a short queue while the
parent stores them. The queue's depth bounds memory whatever the file size.
Small files and standard input are parsed in the parent, where starting a
process would cost more than it saves.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import signal
from collections.abc import Iterator
from multiprocessing.context import ForkContext
from typing import Any

from lmod_usage.batches import Batch, parse_batches
from lmod_usage.errors import InputError, LmodUsageError
from lmod_usage.readers import LogInput

log = logging.getLogger(__name__)

PARALLEL_MIN_BYTES = 4 << 20
QUEUE_DEPTH = 3
POLL_SECONDS = 1.0


def batches(
    log_input: LogInput,
    batch_size: int,
    start: tuple[int, int] = (0, 0),
    parallel: bool | None = None,
) -> Iterator[Batch]:
    """The batches of a log from ``start`` (byte offset, line number).

    They are parsed in a child process when that pays off: by default for
    large regular files; ``parallel`` forces the choice.
    """
    if parallel is None:
        parallel = worth_a_process(log_input, start[0])
    context = fork_context()
    if not parallel or context is None:
        yield from parse_batches(log_input, batch_size, *start)
        return
    yield from background_batches(context, log_input, batch_size, start)


def worth_a_process(log_input: LogInput, offset: int) -> bool:
    """Whether enough of a log is left for parsing in a second process."""
    if log_input.size is None:
        return False
    if log_input.compression is not None:
        return log_input.size * 8 >= PARALLEL_MIN_BYTES
    return log_input.size - offset >= PARALLEL_MIN_BYTES


def fork_context() -> ForkContext | None:
    """A multiprocessing context that forks, where the platform has one.

    Forking lets the child read the file the parent already opened, without
    opening it again under a name that may have been rotated meanwhile.
    """
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    return multiprocessing.get_context("fork")


def background_batches(
    context: ForkContext, log_input: LogInput, batch_size: int, start: tuple[int, int]
) -> Iterator[Batch]:
    """Run `parse_batches` in a forked child and yield what it sends."""
    channel: Any = context.Queue(QUEUE_DEPTH)
    child: Any = context.Process(
        target=produce,
        args=(log_input, batch_size, start, channel, os.getpid()),
        name="lmod-usage-parser",
        daemon=True,
    )
    child.start()
    try:
        while True:
            item = receive(channel, child, log_input.name)
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            item.unpack()
            yield item
    finally:
        end_child(child)
        channel.close()


def end_child(child: Any) -> None:
    """Stop the parsing process if it still runs, killing it if it lingers."""
    if child.is_alive():
        child.terminate()
    child.join(POLL_SECONDS * 5)
    if child.is_alive():
        child.kill()
        child.join()


def receive(channel: Any, child: Any, name: str) -> Batch | BaseException | None:
    """The next item from the child, noticing when it died without a word."""
    while True:
        try:
            item: Batch | BaseException | None = channel.get(timeout=POLL_SECONDS)
            return item
        except queue.Empty:
            if not child.is_alive():
                raise InputError(
                    f"{name}: the parsing process ended unexpectedly "
                    f"(exit status {child.exitcode})"
                ) from None


def produce(
    log_input: LogInput,
    batch_size: int,
    start: tuple[int, int],
    channel: Any,
    parent: int,
) -> None:
    """The child: parse the log and send each batch, then None or an error.

    Interrupts are left to the parent, which decides how to stop; SIGTERM,
    which the parent sends to end it early, ends it at once.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        for batch in parse_batches(log_input, batch_size, *start):
            batch.pack()
            send(channel, batch, parent)
        send(channel, None, parent)
    except LmodUsageError as error:
        send(channel, error, parent)
    except Exception as error:
        send(channel, InputError(f"{log_input.name}: cannot parse: {error}"), parent)


def send(channel: Any, item: object, parent: int) -> None:
    """Put an item on the queue, giving up if the parent has gone away."""
    while True:
        try:
            channel.put(item, timeout=POLL_SECONDS)
            return
        except queue.Full:
            if os.getppid() != parent:
                os._exit(1)
