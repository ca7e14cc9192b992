"""Optimisers for stacked populations, composed from small transforms (as in optax).

Every tensor carries a leading population axis ``[N, ...]`` and each network's update
depends only on its own gradient, so the transforms work per network: a learning rate
is a vector ``[N]``, a gradient clip acts on each network's own norm.

A :class:`Transform` is a pair of pure functions::

    state = t.init(params)                                  # dict of tensors [N, ...]
    updates, state = t.update(grads, state, params, step)   # step counts from 1

``updates`` are added to the parameters. :func:`chain` runs transforms in sequence;
:func:`adam` is ``chain(clip_by_network_norm, scale_by_adam, scale_by_learning_rate)``.
Because every state tensor has the population axis first, a caller can select,
write back or mask networks in any state without knowing the transforms
(:class:`rnnscope.train._population.Population` does this).

Example::

    opt = chain(clip_by_network_norm(1.0), scale_by_adam(), scale_by_learning_rate(lr))
    state = opt.init(params)
    updates, state = opt.update(grads, state, params, step=1)
    params = {k: params[k] + updates[k] for k in params}
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch

Tensors = dict[str, torch.Tensor]

__all__ = [
    "Transform",
    "adam",
    "chain",
    "clip_by_network_norm",
    "network_norm",
    "scale_by_adam",
    "scale_by_learning_rate",
    "scale_by_schedule",
    "schedule",
]


class Transform(NamedTuple):
    """``init(params) -> state`` and ``update(grads, state, params, step) -> (updates, state)``;
    states are flat dicts of tensors with the population axis first."""

    init: Callable[[Tensors], Tensors]
    update: Callable[[Tensors, Tensors, Tensors, int], tuple[Tensors, Tensors]]


def _per_network(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``[N]`` viewed to broadcast against ``like [N, ...]``."""
    return v.view((-1,) + (1,) * (like.dim() - 1))


def network_norm(tensors: Tensors) -> torch.Tensor:
    """Each network's Euclidean norm over all tensors: ``[N]``."""
    return torch.sqrt(sum(t.pow(2).flatten(1).sum(1) for t in tensors.values()))


def clip_by_network_norm(max_norm: float | torch.Tensor) -> Transform:
    """Scale each network's gradient so its norm is at most ``max_norm`` (0: no clip).

    ``max_norm`` is one number for all networks or a vector ``[N]``, one per network
    (kept in the state, so it follows selections of networks; 0 entries: no clip)."""
    if not torch.is_tensor(max_norm):
        if max_norm <= 0:
            return Transform(lambda params: {}, lambda grads, state, params, step: (grads, state))

        def update(grads, state, params, step):
            scale = torch.clamp(max_norm / (network_norm(grads) + 1e-12), max=1.0)
            return {k: g * _per_network(scale, g) for k, g in grads.items()}, state

        return Transform(lambda params: {}, update)

    def init(params):
        like = next(iter(params.values()))
        return {"max_norm": max_norm.to(like.device, like.dtype)}

    def update_each(grads, state, params, step):
        limit = state["max_norm"]
        scale = torch.clamp(limit / (network_norm(grads) + 1e-12), max=1.0)
        scale = torch.where(limit > 0, scale, torch.ones_like(scale))
        return {k: g * _per_network(scale, g) for k, g in grads.items()}, state

    return Transform(init, update_each)


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Transform:
    """Adam's direction ``m̂ / (sqrt(v̂) + eps)`` with bias-corrected moments."""

    def init(params):
        state = {}
        for k, p in params.items():
            state[f"m/{k}"] = torch.zeros_like(p)
            state[f"v/{k}"] = torch.zeros_like(p)
        return state

    def update(grads, state, params, step):
        bias1, bias2 = 1 - b1**step, 1 - b2**step
        updates, new = {}, {}
        for k, g in grads.items():
            m = b1 * state[f"m/{k}"] + (1 - b1) * g
            v = b2 * state[f"v/{k}"] + (1 - b2) * g * g
            new[f"m/{k}"], new[f"v/{k}"] = m, v
            updates[k] = (m / bias1) / (torch.sqrt(v / bias2) + eps)
        return updates, new

    return Transform(init, update)


def scale_by_learning_rate(learning_rate: torch.Tensor) -> Transform:
    """Multiply each network's update by ``-learning_rate[n]`` (descent).

    ``learning_rate`` is ``[N]``; the caller's population axis indexes it, so it is
    kept in the state (and follows selections of networks like the moments)."""

    def init(params):
        like = next(iter(params.values()))
        return {"learning_rate": learning_rate.to(like.device, like.dtype)}

    def update(grads, state, params, step):
        lr = state["learning_rate"]
        return {k: -_per_network(lr, g) * g for k, g in grads.items()}, state

    return Transform(init, update)


def scale_by_schedule(schedule: Callable[[int], float]) -> Transform:
    """Multiply every update by ``schedule(step)`` (the same factor for all networks:
    a learning-rate schedule on top of each network's own rate)."""

    def update(grads, state, params, step):
        factor = float(schedule(step))
        return {k: g * factor for k, g in grads.items()}, state

    return Transform(lambda params: {}, update)


#: the learning-rate schedules trainers accept by name
SCHEDULES = ("constant", "cosine")


def schedule(name: str, total_steps: int) -> Callable[[int], float]:
    """A named schedule over ``total_steps``: ``"constant"`` (1) or ``"cosine"``
    (``½(1 + cos(π t / total_steps))``, from 1 at the start to 0 at the end)."""
    if name == "constant":
        return lambda step: 1.0
    if name == "cosine":
        return lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))
    raise ValueError(f"unknown schedule {name!r}; choose from {', '.join(map(repr, SCHEDULES))}.")


def chain(*transforms: Transform) -> Transform:
    """Apply ``transforms`` in order; their states are kept apart by position."""

    def init(params):
        state = {}
        for i, t in enumerate(transforms):
            state.update({f"{i}:{k}": v for k, v in t.init(params).items()})
        return state

    def update(grads, state, params, step):
        new_state = {}
        for i, t in enumerate(transforms):
            prefix = f"{i}:"
            own = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            grads, own = t.update(grads, own, params, step)
            new_state.update({prefix + k: v for k, v in own.items()})
        return grads, new_state

    return Transform(init, update)


def adam(
    learning_rate: torch.Tensor,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    grad_clip: float | torch.Tensor = 0.0,
) -> Transform:
    """Per-network Adam with an optional per-network gradient-norm clip (one number,
    or ``[N]``: one per network)."""
    return chain(
        clip_by_network_norm(grad_clip),
        scale_by_adam(b1, b2, eps),
        scale_by_learning_rate(learning_rate),
    )
