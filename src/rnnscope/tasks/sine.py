"""Input-cued sine-wave generation (Sussillo & Barak 2013)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from .._validation import check_positive_int
from ._base import Batch, Task, check_outputs


class SineWave(Task):
    """Generate ``sin(ω t)`` where a static input level selects ``ω``.

    Trial ``b`` draws one of ``n_frequencies`` angular frequencies ``ω_j`` spaced
    evenly in ``[min_frequency, max_frequency]`` (radians per time step); its single
    input channel holds the level ``j / n_frequencies + input_offset`` for the whole
    trial, and the target is ``sin(ω_j t)`` for ``t = 0 … T-1``.

    Args:
        n_frequencies: number of frequencies (default 51, as in Sussillo & Barak).
        min_frequency, max_frequency: range of ω in rad/step (default 0.1 to 0.6:
            periods of 63 to 10 steps).
        steps: trial length (default 100).
        input_offset: added to every input level (default 0.25).
        tolerance: an output within this distance of the target counts as correct
            (default 0.2).

    Accuracy: the fraction of time points within ``tolerance``; success threshold 0.9.
    """

    name: ClassVar[str] = "sine"
    success_threshold = 0.9

    def __init__(
        self,
        n_frequencies: int = 51,
        min_frequency: float = 0.1,
        max_frequency: float = 0.6,
        steps: int = 100,
        input_offset: float = 0.25,
        tolerance: float = 0.2,
    ) -> None:
        self.n_frequencies = check_positive_int("n_frequencies", n_frequencies)
        if not (0 < min_frequency <= max_frequency <= np.pi):
            raise ValueError(
                f"need 0 < min_frequency <= max_frequency <= π rad/step, got {min_frequency}, {max_frequency}."
            )
        if tolerance <= 0:
            raise ValueError(f"tolerance must be positive, got {tolerance}.")
        self.min_frequency, self.max_frequency = float(min_frequency), float(max_frequency)
        self.steps = check_positive_int("steps", steps)
        self.input_offset = float(input_offset)
        self.tolerance = float(tolerance)
        self.input_size = self.output_size = 1

    @property
    def frequencies(self) -> np.ndarray:
        """The angular frequencies ``ω_j`` in rad/step, ``[n_frequencies]``."""
        return np.linspace(self.min_frequency, self.max_frequency, self.n_frequencies)

    def input_level(self, j: int | np.ndarray) -> np.ndarray:
        """The static input that cues frequency index ``j``."""
        return np.asarray(j) / self.n_frequencies + self.input_offset

    def config(self):
        return {
            "task": self.name,
            "n_frequencies": self.n_frequencies,
            "min_frequency": self.min_frequency,
            "max_frequency": self.max_frequency,
            "steps": self.steps,
            "input_offset": self.input_offset,
            "tolerance": self.tolerance,
        }

    def _generate(self, rng: np.random.Generator, batch_size: int):
        j = rng.integers(0, self.n_frequencies, size=batch_size)
        omega = self.frequencies[j]
        t = np.arange(self.steps)
        inputs = np.broadcast_to(self.input_level(j)[:, None, None], (batch_size, self.steps, 1))
        targets = np.sin(omega[:, None] * t[None, :])[..., None]
        return inputs, targets, np.ones((batch_size, self.steps))

    def accuracy(self, outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
        outputs = check_outputs(self, outputs, batch)
        close = ((outputs - batch.targets).abs() < self.tolerance).to(outputs.dtype)[..., 0]
        weight = batch.mask.to(outputs.dtype)
        return (close * weight).sum(dim=(1, 2)) / weight.sum()
