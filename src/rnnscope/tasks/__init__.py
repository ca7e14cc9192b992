"""Neuroscience tasks: seeded, vectorised batches ``(inputs, targets, mask)``."""

from __future__ import annotations

from ._base import Batch, Task
from .context import ContextIntegration
from .flipflop import FlipFlop
from .neurogym import NeurogymTask
from .sine import SineWave

#: task name -> class, as used in configs
TASKS: dict[str, type[Task]] = {
    FlipFlop.name: FlipFlop,
    SineWave.name: SineWave,
    ContextIntegration.name: ContextIntegration,
    NeurogymTask.name: NeurogymTask,  # needs the optional neurogym install
}


def make_task(task: str, **options) -> Task:
    """Build a task by name (``"flipflop"``, ``"sine"``, ``"context"``)."""
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
    "SineWave",
    "Task",
    "make_task",
]
