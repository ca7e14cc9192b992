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
