"""Shared machinery of the search phases: a step on flattened ``[B, K, S]`` batches,
the region states may live in, and ragged-index helpers."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._steps import Step, call_step, recurrent_jacobian


class System:
    """A step and its recurrent Jacobian on ``[B, K, S]`` batches (``B`` = every network
    axis flattened), reshaped to the step's own ``[*net_shape, K, S]``."""

    def __init__(self, step: Step, net_shape, size: int, dtype: torch.dtype | None = None) -> None:
        self.step, self.net_shape, self.size, self.dtype = step, tuple(net_shape), size, dtype

    def _shape(self, t: torch.Tensor) -> torch.Tensor:
        return t.reshape(*self.net_shape, t.shape[1], t.shape[-1])

    def run(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        try:
            out = call_step(self.step, self._shape(h), self._shape(x))
        except RuntimeError as err:
            if self.dtype is None:
                raise
            raise ValueError(
                f"the step function failed on {self.dtype} states ({err}); pass "
                "polish=Polish(dtype=<the step's dtype>) to find_fixed_points, or give the "
                "step a .to(dtype) method."
            ) from None
        return out.reshape(h.shape)

    def residual(self, h: torch.Tensor, x: torch.Tensor):
        """``G = F(h) − h`` and ``q = ½‖G‖²`` (``inf`` where non-finite)."""
        g = self.run(h, x) - h
        q = 0.5 * g.pow(2).sum(-1)
        bad = ~(torch.isfinite(q) & torch.isfinite(h).all(-1))
        return g, torch.where(bad, torch.full_like(q, float("inf")), q)

    def jacobian(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        j_rec = recurrent_jacobian(self.step, self._shape(h), self._shape(x))
        return j_rec.reshape(*h.shape, self.size)


@dataclass
class Region:
    """Per-network boxes ``lo ≤ h ≤ hi`` (``[B, S]`` each; ``±inf`` where unbounded)
    where a model's states can be: its state bound, or a trust region around the
    visited states."""

    lo: torch.Tensor
    hi: torch.Tensor
    source: str

    def excess(self, h: torch.Tensor) -> torch.Tensor:
        """How far ``h [B, K, S]`` lies outside its network's box (max over coordinates;
        0 inside): ``[B, K]``."""
        lo, hi = self.lo.unsqueeze(1), self.hi.unsqueeze(1)
        return torch.maximum(lo - h, h - hi).clamp_min(0).amax(-1)

    def outside(self, h: torch.Tensor) -> torch.Tensor:
        return self.excess(h) > 0

    def take(self, index: torch.Tensor) -> Region:
        return Region(self.lo[index], self.hi[index], self.source)


def region_for(step, state_bound, trust_region, candidates: torch.Tensor, margin: float) -> Region:
    """The region of :func:`find_fixed_points` (see its ``state_bound`` and
    ``trust_region`` arguments); ``candidates`` ``[B, K, S]``."""
    n_net, _, size = candidates.shape
    like = candidates
    bound = getattr(step, "state_bound", None) if state_bound == "auto" else state_bound
    slack = 1e-6
    if bound is not None:
        b = torch.as_tensor(bound, dtype=like.dtype, device=like.device).expand(n_net, size)
        return Region(-b * (1 + slack), b * (1 + slack), "state_bound")
    if trust_region is None:
        inf = like.new_full((n_net, size), float("inf"))
        return Region(-inf, inf, "none")
    if isinstance(trust_region, str):
        if trust_region != "auto":
            raise ValueError(
                f"trust_region must be 'auto', None or visited states [..., T, S], got {trust_region!r}."
            )
        visited = candidates
    else:
        visited = torch.as_tensor(trust_region).to(like)
        if visited.shape[-1] != size:
            raise ValueError(
                f"trust_region states have width {visited.shape[-1]}, the candidates {size}."
            )
        visited = (
            visited.reshape(n_net, -1, size)
            if visited.dim() > 2
            else visited.expand(n_net, *visited.shape)
        )
    lo, hi = visited.amin(1), visited.amax(1)
    width = (hi - lo).amax(-1, keepdim=True).clamp_min(1e-12)  # one margin for all axes
    return Region(lo - margin * width, hi + margin * width, "trust_region")


def take(t: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows ``index [B, K']`` of ``t [B, K, ...]``."""
    shaped = index.reshape(*index.shape, *([1] * (t.dim() - 2)))
    return torch.gather(t, 1, shaped.expand(*index.shape, *t.shape[2:]))


def put(t: torch.Tensor, index: torch.Tensor, mask: torch.Tensor, values: torch.Tensor) -> None:
    """``t[b, index[b, k]] = values[b, k]`` where ``mask[b, k]``, in place."""
    b_idx, k_idx = mask.nonzero(as_tuple=True)
    t[b_idx, index[b_idx, k_idx]] = values[b_idx, k_idx]


def pad(rows: list[torch.Tensor], device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Ragged index lists -> ``index [B, K']`` (padded by repeating) and ``valid [B, K']``."""
    width = max(1, max((len(r) for r in rows), default=1))
    index = torch.zeros(len(rows), width, dtype=torch.long, device=device)
    valid = torch.zeros(len(rows), width, dtype=torch.bool, device=device)
    for b, r in enumerate(rows):
        if len(r):
            index[b, : len(r)] = r
            index[b, len(r) :] = r[0]
            valid[b, : len(r)] = True
    return index, valid


def pad_mask(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``pad`` of the true positions of each row of ``mask [B, K]`` (vectorised)."""
    counts = mask.sum(1)
    width = max(1, int(counts.max()) if mask.numel() else 1)
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)[:, :width]
    valid = torch.arange(width, device=mask.device) < counts.unsqueeze(1)
    return torch.where(valid, order, order[:, :1]), valid
