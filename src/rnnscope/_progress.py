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
    """Yield from ``iterable``, showing progress over ``total`` items (each counts once
    the loop body is done with it).

    Args:
        total: how many items to expect (the bar's length).
        label: what is running, e.g. ``"analyze"``.
        unit: what the items are (``"networks"``, ``"blocks"``, ``"pages"``).
        stream: where to write (default ``sys.stderr``).
        interval: seconds between plain lines when ``stream`` is not a terminal.
        clock: the time source of the plain lines (seconds).
    """
    meter = Meter(total, label, unit=unit, stream=stream, interval=interval, clock=clock)
    try:
        for item in iterable:
            yield item
            meter.advance()
    finally:
        meter.close()  # at the end, and where the loop stopped if it stopped early


class Meter:
    """Progress over ``total`` items, advanced by hand (``advance(n)`` as work commits).

    A rich bar when ``stream`` (default stderr) is a terminal; otherwise a plain line
    every ``interval`` seconds and one at the end, e.g. ``analyze: 120/1024 networks,
    35 s``, so a log shows how far a long stage got. ``enabled=False``: silent.
    """

    def __init__(
        self,
        total: int,
        label: str,
        *,
        unit: str = "networks",
        enabled: bool = True,
        stream: TextIO | None = None,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.label, self.unit = total, label, unit
        self.stream = sys.stderr if stream is None else stream
        self.enabled, self.interval, self.clock = enabled, interval, clock
        self.done = 0
        self._start = self._last = clock()
        self._bar = None
        if enabled and _is_terminal(self.stream):
            self._bar = progress_bar(self.stream)
            self._bar.start()
            self._task = self._bar.add_task(f"{label} ({unit})", total=total)

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.advance(self._task, n)
        elif self.enabled:
            now = self.clock()
            if now - self._last >= self.interval and self.done < self.total:
                self._line()
                self._last = now

    def _line(self) -> None:
        print(f"{self.label}: {self.done}/{self.total} {self.unit}, {self.clock() - self._start:.0f} s",
              file=self.stream, flush=True)  # fmt: skip

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self.enabled:
            self._line()


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or file-like without isatty
        return False
