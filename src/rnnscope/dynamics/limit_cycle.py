"""Limit cycles of the autonomous dynamics under a constant input."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ._steps import Step, autonomous_if_needed, call_step, default_inputs, jacobians


@dataclass
class LimitCycle:
    """A periodic (or quasi-periodic: an invariant circle of a map) attractor.

    Attributes:
        period: steps per revolution, ``2π / mean rotation per step`` in the orbit's
            top-2 principal plane (need not be an integer for a map).
        amplitude: mean distance of the orbit from its centre.
        center: ``[S]`` the orbit's centroid.
        orbit: ``[T, S]`` the recorded states after the transient.
        floquet_multipliers: ``exp(period · μ_a)`` from the Lyapunov exponents
            ``μ_a`` of the orbit, largest first: one is ≈ 1 (along the orbit); the
            cycle is stable when all others are below 1.
        is_stable: all multipliers but the one closest to 1 are below 1.
    """

    period: float
    amplitude: float
    center: np.ndarray
    orbit: np.ndarray
    floquet_multipliers: np.ndarray
    is_stable: bool


def find_limit_cycle(
    step: Step,
    initial_state: torch.Tensor,
    inputs: torch.Tensor | None = None,
    *,
    transient: int = 2000,
    steps: int = 2000,
    min_amplitude: float = 1e-4,
) -> list[LimitCycle | None]:
    """Run the dynamics from ``initial_state`` and describe the attractor it reaches.

    Args:
        step: ``F(h, x)`` batched over leading axes.
        initial_state: ``[S]`` for one trajectory, or ``[N, S]`` (e.g. one per network
            of a population step): each row is analysed on its own.
        inputs: the constant input, broadcastable to ``[..., I]`` (default zeros).
        transient: steps discarded before recording.
        steps: steps recorded and analysed.
        min_amplitude: an orbit whose spread is below this converged to a fixed point.

    Returns:
        One :class:`LimitCycle` per row, or ``None`` where the trajectory came to rest.
        Raises if a trajectory diverges.
    """
    h = torch.as_tensor(initial_state)
    single = h.dim() == 1
    h = h.unsqueeze(0) if single else h
    step = autonomous_if_needed(step, None if inputs is None else torch.as_tensor(inputs).shape[-1])
    if inputs is None:
        inputs = default_inputs(step, h)
    x = torch.as_tensor(inputs, dtype=h.dtype).expand(*h.shape[:-1], -1)
    orbit = []
    with torch.no_grad():
        for t in range(transient + steps):
            h = call_step(step, h, x)
            if t >= transient:
                orbit.append(h)
        if not bool(torch.isfinite(h).all()):
            raise ValueError("the trajectory diverged (NaN/inf); no limit cycle to describe.")
    states = torch.stack(orbit, dim=1)  # [N, T, S]
    j_rec, _ = jacobians(step, states.transpose(0, 1), x.unsqueeze(0).expand(steps, *x.shape))
    j_rec = j_rec.transpose(0, 1)  # [N, T, S, S]
    return [_describe(states[n], j_rec[n], min_amplitude) for n in range(states.shape[0])]


def _describe(orbit: torch.Tensor, jac: torch.Tensor, min_amplitude: float) -> LimitCycle | None:
    pts = orbit.double().numpy()
    centred = pts - pts.mean(axis=0)
    if np.sqrt((centred**2).sum(axis=1).mean()) < min_amplitude:
        return None  # came to rest: a fixed point, not a cycle
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    plane = centred @ axes[:2].T
    phase = np.unwrap(np.arctan2(plane[:, 1], plane[:, 0]))
    rotation = (phase[-1] - phase[0]) / (len(phase) - 1)
    period = 2 * math.pi / abs(rotation) if rotation != 0 else math.inf
    # centre and amplitude over whole revolutions, so a partial turn does not bias them
    turns = np.floor(np.abs(phase - phase[0]) / (2 * math.pi))
    whole = turns < turns[-1] if turns[-1] >= 1 else np.ones(len(pts), dtype=bool)
    center = pts[whole].mean(axis=0)
    amplitude = float(np.linalg.norm(pts[whole] - center, axis=1).mean())
    exponents = _lyapunov_exponents(jac.double())
    multipliers = np.exp(exponents * period)
    closest = int(np.argmin(np.abs(multipliers - 1)))
    others = np.delete(multipliers, closest)
    return LimitCycle(
        period=float(period),
        amplitude=amplitude,
        center=center,
        orbit=pts,
        floquet_multipliers=multipliers,
        is_stable=bool((others < 1).all()),
    )


def _lyapunov_exponents(jac: torch.Tensor, warmup: float = 0.25) -> np.ndarray:
    """Per-step Lyapunov exponents along an orbit by QR iteration, largest first.

    The first ``warmup`` share of the steps only aligns the frame (their growth is not
    counted), which removes most of the finite-time bias of the exponents."""
    size = jac.shape[-1]
    q = torch.eye(size, dtype=jac.dtype)
    total = torch.zeros(size, dtype=jac.dtype)
    start = int(warmup * len(jac))
    for t, j in enumerate(jac):
        q, r = torch.linalg.qr(j @ q)
        if t >= start:
            total += torch.log(torch.abs(torch.diagonal(r)).clamp_min(1e-300))
    return np.sort((total / (len(jac) - start)).numpy())[::-1]
