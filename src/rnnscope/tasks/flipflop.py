"""The N-bit flip-flop (Sussillo & Barak 2013)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from .._validation import check_positive_int
from ._base import Batch, Task, check_outputs, check_probability


class FlipFlop(Task):
    """Remember the sign of each channel's most recent pulse.

    Each of ``bits`` input channels carries a +1 or -1 pulse with probability
    ``pulse_prob`` per step (sign equally likely) and 0 otherwise. The target of
    output channel ``k`` holds the sign of the last pulse on input ``k``.

    Args:
        bits: number of channels (default 3: 2³ = 8 memories).
        steps: trial length ``T`` (default 100).
        pulse_prob: pulse probability per channel per step (default 0.05, a pulse
            every 20 steps on average).
        initial_pulse: if true (default), every channel gets a pulse at ``t = 0``, so the
            memory has exactly ``2**bits`` states. If false, the target is 0 until a
            channel's first pulse, and trained networks grow a third level per bit
            (``3**bits`` stable points).

    Accuracy: the fraction of scored outputs with the correct sign (an output counts
    as correct for a 0 target when ``|y| < 0.5``). Success threshold 0.99.
    """

    name: ClassVar[str] = "flipflop"
    success_threshold = 0.99

    def __init__(
        self, bits: int = 3, steps: int = 100, pulse_prob: float = 0.05, initial_pulse: bool = True
    ) -> None:
        self.bits = check_positive_int("bits", bits)
        self.steps = check_positive_int("steps", steps)
        self.pulse_prob = check_probability("pulse_prob", pulse_prob)
        self.initial_pulse = bool(initial_pulse)
        self.input_size = self.output_size = self.bits

    def config(self):
        return {
            "task": self.name,
            "bits": self.bits,
            "steps": self.steps,
            "pulse_prob": self.pulse_prob,
            "initial_pulse": self.initial_pulse,
        }

    def _generate(self, rng: np.random.Generator, batch_size: int):
        shape = (batch_size, self.steps, self.bits)
        pulses = (rng.random(shape) < self.pulse_prob).astype(np.float32)
        if self.initial_pulse:
            pulses[:, 0, :] = 1.0
        inputs = pulses * rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=shape)
        # target = sign of the most recent pulse: forward-fill the pulse values
        t_index = np.where(pulses > 0, np.arange(self.steps)[None, :, None], -1)
        last = np.maximum.accumulate(t_index, axis=1)
        targets = np.take_along_axis(inputs, np.maximum(last, 0), axis=1)
        targets[last < 0] = 0.0
        return inputs, targets, np.ones(shape[:2], dtype=np.float32)

    def accuracy(self, outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
        outputs = check_outputs(self, outputs, batch)
        t = batch.targets.to(outputs.dtype)
        correct = torch.where(t == 0, outputs.abs() < 0.5, torch.sign(outputs) == t).to(
            outputs.dtype
        )
        weight = batch.mask.to(outputs.dtype)[..., None].expand_as(t)
        return (correct * weight).sum(dim=(1, 2, 3)) / weight.sum()
