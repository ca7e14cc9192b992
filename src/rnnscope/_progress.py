"""Progress for every long loop in rnnscope, on stderr (stdout stays data).

:func:`track` shows a rich bar when stderr is a terminal, and otherwise (logs, CI, a
batch job's output file) writes a plain line every ``interval`` seconds and one at the
end, e.g. ``analyze: 120/1024 networks, 35 s``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TextIO, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

T = TypeVar("T")


def progress_bar(stream: TextIO | None = None) -> Progress:
    """A rich ``Progress`` with description, bar, count and elapsed time, on stderr."""
    console = Console(stderr=True) if stream is None else Console(file=stream)
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def track(
    iterable: Iterable[T],
    total: int,
    label: str,
    *,
    unit: str = "networks",
    stream: TextIO | None = None,
    interval: float = 10.0,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[T]:
    """Yield from ``iterable``, showing progress over ``total`` items.

    Args:
        total: how many items to expect (the bar's length).
        label: what is running, e.g. ``"analyze"``.
        unit: what the items are (``"networks"``, ``"blocks"``, ``"pages"``).
        stream: where to write (default ``sys.stderr``).
        interval: seconds between plain lines when ``stream`` is not a terminal.
        clock: the time source of the plain lines (seconds).
    """
    stream = sys.stderr if stream is None else stream
    if _is_terminal(stream):
        yield from _rich(iterable, total, label, unit, stream)
    else:
        yield from _plain(iterable, total, label, unit, stream, interval, clock)


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or file-like without isatty
        return False


def _rich(iterable, total, label, unit, stream) -> Iterator:
    with progress_bar(stream) as bar:
        task = bar.add_task(f"{label} ({unit})", total=total)
        for item in iterable:
            yield item
            bar.advance(task)


def _plain(iterable, total, label, unit, stream, interval, clock) -> Iterator:
    start = clock()
    last = start
    done = 0

    def line() -> None:
        print(f"{label}: {done}/{total} {unit}, {clock() - start:.0f} s", file=stream, flush=True)

    try:
        for item in iterable:
            yield item
            done += 1
            now = clock()
            if now - last >= interval and done < total:
                line()
                last = now
    finally:
        line()  # at the end, and where the loop stopped if it stopped early
