"""Neuroscience tasks: seeded, vectorised batches ``(inputs, targets, mask)``."""

from __future__ import annotations

from ._base import Batch, Task
from .context import ContextIntegration
from .flipflop import FlipFlop
from .neurogym import NeurogymTask
from .sine import SineWave
from .text.task import Sentiment

#: task name -> class, as used in configs (``sentiment`` is a corpus, not a trial
#: generator: it trains through ``rnnscope.train.train_text_population``)
TASKS: dict[str, type] = {
    FlipFlop.name: FlipFlop,
    SineWave.name: SineWave,
    ContextIntegration.name: ContextIntegration,
    NeurogymTask.name: NeurogymTask,  # needs the optional neurogym install
    Sentiment.name: Sentiment,
}


def make_task(task: str, **options) -> Task | Sentiment:
    """Build a task by name (``"flipflop"``, ``"sine"``, ``"context"``, ``"neurogym"``,
    ``"sentiment"``)."""
    try:
        cls = TASKS[task]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown task {task!r}; choose one of {', '.join(map(repr, TASKS))}."
        ) from None
    return cls(**options)


__all__ = [
    "TASKS",
    "Batch",
    "ContextIntegration",
    "FlipFlop",
    "NeurogymTask",
    "Sentiment",
    "SineWave",
    "Task",
    "make_task",
]
