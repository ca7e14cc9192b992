"""Context-dependent integration (Mante, Sussillo, Shenoy & Newsome 2013)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from .._validation import check_positive_int
from ._base import Batch, Task, check_outputs

DEFAULT_COHERENCES = (-0.5, -0.25, -0.1, -0.05, 0.05, 0.1, 0.25, 0.5)


class ContextIntegration(Task):
    """Integrate the cued one of two noisy evidence streams, ignore the other.

    Inputs (``I = 4``): two evidence streams ``u_k,t = c_k + noise_std · ε`` (each
    trial draws its coherences ``c_1``, ``c_2`` independently from ``coherences``),
    then a one-hot context (channels 3 and 4) held for the whole trial. Target
    (``O = 1``): the running integral of the cued stream,
    ``y*_t = (1 / T) Σ_{τ ≤ t} u_cued,τ`` — the noisy input itself, so a perfect
    integrator (a line attractor per context) reaches it exactly.

    Args:
        steps: trial length ``T`` (default 100).
        coherences: signed mean evidence values (default ±0.05, ±0.1, ±0.25, ±0.5).
        noise_std: standard deviation of the per-step evidence noise (default 0.5).

    Accuracy: the fraction of trials whose final output has the sign of the final
    target (the choice). Success threshold 0.9.
    """

    name: ClassVar[str] = "context"
    success_threshold = 0.9

    def __init__(
        self,
        steps: int = 100,
        coherences: tuple[float, ...] = DEFAULT_COHERENCES,
        noise_std: float = 0.5,
    ) -> None:
        self.steps = check_positive_int("steps", steps)
        coh = tuple(float(c) for c in coherences)
        if not coh:
            raise ValueError("coherences must not be empty.")
        if noise_std < 0:
            raise ValueError(f"noise_std must be >= 0, got {noise_std}.")
        self.coherences = coh
        self.noise_std = float(noise_std)
        self.input_size, self.output_size = 4, 1

    def config(self):
        return {
            "task": self.name,
            "steps": self.steps,
            "coherences": list(self.coherences),
            "noise_std": self.noise_std,
        }

    def _generate(self, rng: np.random.Generator, batch_size: int):
        coh = rng.choice(np.asarray(self.coherences), size=(batch_size, 2))
        streams = coh[:, None, :] + self.noise_std * rng.standard_normal(
            (batch_size, self.steps, 2)
        )
        context = rng.integers(0, 2, size=batch_size)
        onehot = np.eye(2)[context]
        inputs = np.concatenate(
            [streams, np.broadcast_to(onehot[:, None, :], (batch_size, self.steps, 2))], axis=-1
        )
        cued = streams[np.arange(batch_size), :, context]  # [B, T]
        targets = (np.cumsum(cued, axis=1) / self.steps)[..., None]
        return inputs, targets, np.ones((batch_size, self.steps))

    def accuracy(self, outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
        outputs = check_outputs(self, outputs, batch)
        final = outputs[:, :, -1, 0]
        return (
            (torch.sign(final) == torch.sign(batch.targets[:, -1, 0])).to(outputs.dtype).mean(dim=1)
        )
