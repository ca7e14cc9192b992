"""One look for every progress bar in rnnscope: rich, on stderr (stdout stays data)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn


def progress_bar() -> Progress:
    """A rich ``Progress`` with description, bar, count and elapsed time, on stderr."""
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )


class Meter:
    """Progress over a known number of items, advanced by hand.

    On a terminal (``enabled``): a rich bar on stderr. Otherwise, when ``log`` is given:
    a plain line every ``every`` seconds and at the end (``analyze: 120/1024 networks,
    35 s``), so a log file shows how far a long stage got.
    """

    def __init__(
        self,
        *,
        total: int,
        label: str,
        unit: str = "networks",
        enabled: bool = False,
        log=None,
        every: float = 10.0,
    ) -> None:
        import time

        self.total, self.label, self.unit, self.log, self.every = total, label, unit, log, every
        self.done = 0
        self._logged = 0
        self._clock = time.perf_counter
        self._start = self._last = self._clock()
        self._bar = None
        if enabled and total:
            self._bar = progress_bar()
            self._bar.start()
            self._task = self._bar.add_task(f"{label} ({unit})", total=total)

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.advance(self._task, n)
        elif self.log is not None and self._clock() - self._last >= self.every:
            self._last = self._clock()
            self._logged = self.done
            self.log(self._line())

    def _line(self) -> str:
        return f"{self.label}: {self.done}/{self.total} {self.unit}, {self._clock() - self._start:.0f} s"

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self.log is not None and self.total and self._logged != self.done:
            self.log(self._line())
