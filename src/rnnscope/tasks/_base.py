"""The task protocol: seeded, vectorised batches of inputs, targets and masks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from .._validation import check_positive_int


@dataclass(frozen=True)
class Batch:
    """One batch of trials.

    Attributes:
        inputs: ``[B, T, I]`` float32.
        targets: ``[B, T, O]`` float32.
        mask: ``[B, T]`` float32; 1 where the output is scored, 0 where it is free.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor

    @property
    def batch_size(self) -> int:
        return self.inputs.shape[0]

    @property
    def steps(self) -> int:
        return self.inputs.shape[1]


class Task:
    """Base class: subclasses implement :meth:`_generate` and :meth:`accuracy`.

    Attributes:
        input_size, output_size: channel counts ``I`` and ``O``.
        steps: trial length ``T`` in time steps.
        success_threshold: accuracy at or above which a network solves the task.
    """

    name: ClassVar[str] = "task"
    input_size: int
    output_size: int
    steps: int
    success_threshold: float

    def sample(self, batch_size: int, seed: int) -> Batch:
        """Draw ``batch_size`` trials; the same ``seed`` always gives the same batch."""
        check_positive_int("batch_size", batch_size)
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
        inputs, targets, mask = self._generate(np.random.default_rng(int(seed)), batch_size)
        return Batch(
            torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32)),
            torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float32)),
            torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32)),
        )

    def _generate(self, rng: np.random.Generator, batch_size: int):
        raise NotImplementedError

    def accuracy(self, outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Task-specific score in [0, 1] per network: ``outputs [N, B, T, O] -> [N]``."""
        raise NotImplementedError

    def config(self) -> dict[str, object]:
        """The task's parameters: ``tasks.make_task(**task.config())`` rebuilds it."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "task")
        return f"{type(self).__name__}({args})"


def check_outputs(task: Task, outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Accept ``[B, T, O]`` or ``[N, B, T, O]``; return the 4-D form."""
    if outputs.dim() == 3:
        outputs = outputs.unsqueeze(0)
    expected = (batch.batch_size, batch.steps, task.output_size)
    if outputs.dim() != 4 or tuple(outputs.shape[1:]) != expected:
        raise ValueError(
            f"outputs must be [N, {', '.join(map(str, expected))}] for this batch, got {list(outputs.shape)}."
        )
    return outputs


def check_probability(name: str, value: float) -> float:
    if not (0.0 <= value <= 1.0):
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}.")
    return float(value)
