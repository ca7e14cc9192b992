"""Candidate states for the fixed-point search, drawn from visited trajectories."""

from __future__ import annotations

import numpy as np
import torch


def sample_candidates(
    states: torch.Tensor,
    n: int,
    *,
    noise: float = 0.0,
    seed: int = 0,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Draw ``n`` states visited on trajectories, plus optional Gaussian noise.

    Args:
        states: ``[B, T, S]`` for one network or ``[N, B, T, S]`` for a population
            (as returned by ``RNN.run``).
        n: candidates per network.
        noise: standard deviation of isotropic Gaussian noise added to each draw
            (FixedPointFinder's examples use 0.5 on a flip-flop GRU).
        seed: seeds the draw and the noise.
        mask: optional ``[B, T]`` bool, which time points may be drawn.

    Returns:
        ``[n, S]`` or ``[N, n, S]``.
    """
    states = torch.as_tensor(states)
    if states.dim() not in (3, 4):
        raise ValueError(
            f"states must be [B, T, S] or [N, B, T, S], got shape {list(states.shape)}."
        )
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"n must be a positive integer, got {n!r}.")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}.")
    single = states.dim() == 3
    pop = states.unsqueeze(0) if single else states
    n_net, batch, steps, size = pop.shape
    allowed = (
        torch.ones(batch, steps, dtype=torch.bool)
        if mask is None
        else torch.as_tensor(mask, dtype=torch.bool).cpu()
    )
    if allowed.shape != (batch, steps):
        raise ValueError(f"mask must be [B, T] = {[batch, steps]}, got {list(allowed.shape)}.")
    flat = allowed.flatten().nonzero().flatten()
    if len(flat) == 0:
        raise ValueError("mask selects no time points.")
    rng = np.random.default_rng(seed)
    picks = torch.from_numpy(rng.integers(0, len(flat), size=(n_net, n)))
    where = flat[picks].to(pop.device)  # [N, n] into B*T
    out = (
        pop.reshape(n_net, batch * steps, size)
        .gather(1, where.unsqueeze(-1).expand(-1, -1, size))
        .clone()
    )
    if noise > 0:
        gen = torch.Generator().manual_seed(seed)
        out += noise * torch.randn(out.shape, generator=gen, dtype=out.dtype).to(out.device)
    return out[0] if single else out
