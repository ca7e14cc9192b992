"""High-level entries: a network's scaffold from its visited states, and what holds its
memories (stable fixed points, stable period-``k`` orbits, or neither)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ._steps import Step
from .candidates import sample_candidates
from .fixed_points import FixedPoints, find_fixed_points
from .periodic import PeriodicOrbits, find_periodic_orbits


def find_scaffold(
    step: Step,
    states,
    inputs=None,
    *,
    n_candidates: int = 1024,
    noise: float = 0.5,
    seed: int = 0,
    mask=None,
    progress: bool = False,
    **options,
) -> FixedPoints:
    """The default scaffold search: attractors and the saddles that join them.

    Candidates are ``n_candidates`` visited states plus Gaussian noise of standard
    deviation ``noise`` × the states' RMS spread per coordinate; the trust region is
    taken from the visited states (where no state bound is known); the search adds seeds
    on the basin boundaries between neighbouring attractors
    (:class:`~rnnscope.dynamics.BetweenAttractors`), so the index-1 saddles between
    them are found whether or not trajectories pass near them.

    Args:
        step: ``F(h, x)`` (or ``F(h)``), batched; ``cell.bind(params)`` for rnnscope.
        states: visited states ``[B, T, S]`` (one network) or ``[N, B, T, S]``.
        inputs: the constant input ``x*`` (``[I]``; default zeros).
        n_candidates, noise, seed, mask: the candidate draw (``sample_candidates``).
        progress: show progress.
        **options: passed to :func:`find_fixed_points` (``tol_q``, ``tol_unique``, ...).

    Returns:
        :class:`FixedPoints` with certificates.
    """
    states = torch.as_tensor(states).detach()
    if states.dim() not in (3, 4):
        raise ValueError(
            f"states must be [B, T, S] or [N, B, T, S], got shape {list(states.shape)}."
        )
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}.")
    flat = states.reshape(*states.shape[:-3], -1, states.shape[-1])
    spread = flat.double().var(dim=-2).mean(-1).sqrt()  # [N] or []
    # one draw per network with its own noise scale
    candidates = sample_candidates(states, n_candidates, seed=seed, mask=mask)
    if noise > 0:
        gen = torch.Generator().manual_seed(seed + 1)
        bump = torch.randn(candidates.shape, generator=gen, dtype=torch.float64)
        sd = (noise * spread).reshape(*spread.shape, 1, 1)
        candidates = candidates + (bump * sd).to(candidates)
    options.setdefault("trust_region", flat)
    return find_fixed_points(step, candidates, inputs, progress=progress, **options)


@dataclass(frozen=True)
class MemoryStructure:
    """What holds a network's memories.

    Attributes:
        holder: ``"fixed_points"``, ``"periodic_orbits"`` or ``"neither"``.
        period: 1 for fixed points, ``k`` for period-``k`` orbits, 0 for neither.
        n_stable_fixed: certified stable fixed points.
        n_stable_orbits: certified stable orbits of the chosen period (0 for fixed
            points or neither).
        n_patterns: distinct readout patterns (sign of each output, 0 below the
            threshold) the holder stores; without a readout, the number of stable
            objects.
        orbits_by_period: ``{k: stable orbits}`` for ``k = 2 … max_period``.
    """

    holder: str
    period: int
    n_stable_fixed: int
    n_stable_orbits: int
    n_patterns: int
    orbits_by_period: dict[int, int]

    def as_dict(self) -> dict[str, object]:
        """Plain values for a table (``orbits_by_period`` as ``orbits_period_k`` keys)."""
        out = asdict(self)
        by = out.pop("orbits_by_period")
        out.update({f"orbits_period_{k}": v for k, v in by.items()})
        return out


def memory_structure(
    step: Step,
    states,
    inputs=None,
    *,
    readout: Callable[[torch.Tensor], torch.Tensor] | torch.Tensor | None = None,
    fixed_points: FixedPoints | None = None,
    orbits: dict[int, PeriodicOrbits] | None = None,
    max_period: int = 3,
    n_candidates: int = 256,
    threshold: float = 0.0,
    seed: int = 0,
) -> MemoryStructure:
    """Does one network hold its memories on stable fixed points, on stable period-``k``
    orbits (``2 ≤ k ≤ max_period``), or neither?

    The holder is the kind of stable object that stores the most distinct readout
    patterns (fixed points win ties); without a readout, the most stable objects.

    Args:
        step: one network's ``F(h, x)``.
        states: its visited states ``[B, T, S]`` (orbit candidates are drawn from them).
        inputs: the constant input (default zeros).
        readout: ``y = readout(h [M, S]) -> [M, O]``, or a matrix ``[S, O]``.
        fixed_points: the network's fixed points if already found (else a search from
            ``states`` without saddle seeds).
        orbits: already found ``{k: PeriodicOrbits}`` (else searched here).
        max_period: the largest period tried (default 3).
        n_candidates: orbit (and fixed-point) candidates drawn from ``states``.
        threshold: outputs with ``|y| ≤ threshold`` count as 0 in a pattern.

    Returns:
        :class:`MemoryStructure` (``.as_dict()`` for plain values).
    """
    states = torch.as_tensor(states).detach()
    if states.dim() != 3:
        raise ValueError(
            f"states must be [B, T, S] for one network, got shape {list(states.shape)}."
        )
    if isinstance(max_period, bool) or not isinstance(max_period, int) or max_period < 1:
        raise ValueError(f"max_period must be a positive integer, got {max_period!r}.")
    candidates = sample_candidates(states, n_candidates, seed=seed)
    flat = states.reshape(-1, states.shape[-1])
    if fixed_points is None:
        fixed_points = find_fixed_points(step, candidates, inputs, saddles=None, trust_region=flat)
    patterns = _patterns(readout, threshold)
    fixed = _stable_fixed(fixed_points)
    n_fixed = len(fixed)
    score_fixed = len(patterns(fixed)) if patterns else n_fixed
    orbits = dict(orbits or {})
    by_period, scores = {}, {}
    for k in range(2, max_period + 1):
        if k not in orbits:
            orbits[k] = find_periodic_orbits(step, candidates, inputs, period=k, trust_region=flat)
        found = orbits[k]
        good = found.is_stable.cpu().numpy() & (found.kind == "fixed") if len(found) else []
        stable = found.orbits[torch.as_tensor(np.asarray(good, dtype=bool))]
        by_period[k] = len(stable)
        scores[k] = len(patterns(stable.mean(dim=1))) if patterns and len(stable) else len(stable)
    best = max(scores, key=lambda k: (scores[k], -k)) if scores else None
    if score_fixed > 0 and (best is None or score_fixed >= scores[best]):
        return MemoryStructure("fixed_points", 1, n_fixed, 0, score_fixed, by_period)
    if best is not None and scores[best] > 0:
        return MemoryStructure(
            "periodic_orbits", best, n_fixed, by_period[best], scores[best], by_period
        )
    return MemoryStructure("neither", 0, n_fixed, 0, 0, by_period)


def _stable_fixed(fps: FixedPoints) -> torch.Tensor:
    if len(fps) == 0 or fps.linearization is None:
        return fps.points[:0]
    keep = fps.is_stable.cpu().numpy() & (fps.kind == "fixed")
    return fps.points[torch.as_tensor(keep)]


def _patterns(readout, threshold: float):
    """``points [M, S] -> set of sign patterns`` of the readout, or ``None``."""
    if readout is None:
        return None

    def apply(points: torch.Tensor) -> set:
        if len(points) == 0:
            return set()
        if callable(readout):
            y = readout(points)
        else:
            w = torch.as_tensor(readout)
            y = points.to(w.dtype) @ (w[:, None] if w.dim() == 1 else w)
        y = torch.as_tensor(y).detach().double().cpu()
        signs = torch.where(y.abs() <= threshold, torch.zeros_like(y), torch.sign(y))
        return {tuple(row) for row in signs.int().tolist()}

    return apply


__all__ = ["MemoryStructure", "find_scaffold", "memory_structure"]
