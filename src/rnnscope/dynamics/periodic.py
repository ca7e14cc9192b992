"""Periodic orbits of a map: fixed points of ``F^k`` under a constant input, each orbit
reported once, with its Floquet multipliers (the eigenvalues of the monodromy matrix
``∂F^k/∂h``, the product of the step's Jacobians around the orbit)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ._select import CERTIFICATE_COLUMNS
from ._steps import Iterated, Step, prepare
from .fixed_points import find_fixed_points


@dataclass
class PeriodicOrbits:
    """Period-``k`` orbits found by :func:`find_periodic_orbits`, one row per orbit.

    Attributes:
        period: ``k``.
        orbits: ``[M, k, S]`` the states of each orbit, ``h, F(h), …, F^{k−1}(h)``.
        q: ``[M]`` ``½‖F^k(h) − h‖²`` at the first state.
        inputs: ``[M, I]``; network: ``[M]`` source network (as in ``FixedPoints``).
        kind: ``[M]`` ``"fixed"`` (certified fixed point of ``F^k``) or ``"slow"``.
        multipliers: ``[M, S]`` complex Floquet multipliers, largest ``|μ|`` first.
        certificate: the certificate of the first state as a fixed point of ``F^k``.
        rejected: candidates dropped, by reason (``lower_period``: fixed points of
            ``F^d`` for a divisor ``d < k``; ``same_orbit``: another state of a kept
            orbit).
    """

    period: int
    orbits: torch.Tensor
    q: torch.Tensor
    inputs: torch.Tensor
    network: torch.Tensor
    kind: np.ndarray
    multipliers: torch.Tensor
    certificate: dict[str, np.ndarray] | None = None
    rejected: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.orbits.shape[0]

    def __repr__(self) -> str:
        return (
            f"PeriodicOrbits(period {self.period}: {len(self)} orbits, "
            f"stable: {int(self.is_stable.sum())}; rejected {self.rejected})"
        )

    @property
    def is_stable(self) -> torch.Tensor:
        """``[M]`` bool: every ``|μ| < 1``."""
        return self.multipliers.abs().amax(-1) < 1 if len(self) else torch.zeros(0, dtype=bool)

    @property
    def n_unstable(self) -> torch.Tensor:
        """``[M]`` number of multipliers with ``|μ| > 1``."""
        return (self.multipliers.abs() > 1).sum(-1)

    def for_network(self, network: int) -> PeriodicOrbits:
        keep = (self.network == network).cpu().numpy()
        index = torch.as_tensor(keep.nonzero()[0])
        cert = (
            None if self.certificate is None else {k: v[keep] for k, v in self.certificate.items()}
        )
        return PeriodicOrbits(
            self.period, self.orbits[index], self.q[index], self.inputs[index],
            self.network[index], self.kind[keep], self.multipliers[index], cert,
            dict(self.rejected),
        )  # fmt: skip

    def to_dataframe(self) -> pd.DataFrame:
        """One row per orbit: network, period, kind, q, stability, n_unstable,
        ``|μ|max``, then the certificate's columns."""
        frame = pd.DataFrame(
            {
                "network": self.network.cpu().numpy(),
                "period": self.period,
                "kind": self.kind,
                "q": self.q.detach().cpu().double().numpy(),
                "is_stable": self.is_stable.cpu().numpy(),
                "n_unstable": self.n_unstable.cpu().numpy(),
                "max_abs_multiplier": self.multipliers.abs()[:, 0].cpu().numpy()
                if len(self)
                else np.zeros(0),
            }
        )
        if self.certificate is not None:
            for name in CERTIFICATE_COLUMNS:
                frame[name] = self.certificate[name]
        return frame


def find_periodic_orbits(
    step: Step,
    candidates,
    inputs=None,
    *,
    period: int,
    tol_q: float = 1e-12,
    tol_unique: float = 1e-3,
    **options,
) -> PeriodicOrbits:
    """Orbits of minimal period ``k`` of ``h' = F(h, x*)``: the fixed points of ``F^k``
    (found and certified by :func:`find_fixed_points` on the iterated map), without
    those of lower period, each orbit once.

    Args:
        step: ``F(h, x)`` or ``F(h)``, batched over leading axes (population: first axis).
        candidates: ``[K, S]`` or ``[N, K, S]`` starts (e.g. visited states).
        inputs: the constant input (as in :func:`find_fixed_points`).
        period: ``k ≥ 1`` (1 gives the fixed points, as orbits of length 1).
        tol_q, tol_unique: as in :func:`find_fixed_points`; ``tol_unique · scale`` is
            also the distance at which two states count as the same.
        **options: passed to :func:`find_fixed_points` (default ``saddles=None``,
            ``outliers=None``).

    Returns:
        :class:`PeriodicOrbits`.
    """
    if isinstance(period, bool) or not isinstance(period, int) or period < 1:
        raise ValueError(f"period must be a positive integer, got {period!r}.")
    step, h, x = prepare(step, candidates, inputs)
    options.setdefault("saddles", None)
    options.setdefault("outliers", None)
    iterated = Iterated(step, period)
    fps = find_fixed_points(iterated, h, x, tol_q=tol_q, tol_unique=tol_unique, **options)
    rejected = dict(fps.rejected, lower_period=0, same_orbit=0)
    scales = fps.info["scale"]
    net_shape = fps.info["network_shape"]
    polish_step = iterated.to(fps.points.dtype) if hasattr(step, "to") else iterated
    orbits = _orbits(polish_step, fps, net_shape) if len(fps) else fps.points[:, None]
    keep = []
    for b in sorted(set(fps.network.tolist())):
        mine = (fps.network == b).nonzero().flatten()
        tol = tol_unique * scales[b]
        lower = torch.zeros(len(mine), dtype=torch.bool, device=mine.device)
        for d in range(1, period):
            if period % d == 0:
                lower |= (orbits[mine, d] - orbits[mine, 0]).norm(dim=-1) <= tol
        rejected["lower_period"] += int(lower.sum())
        mine = mine[~lower]
        order = mine[torch.argsort(fps.q[mine], stable=True)]
        taken: list[torch.Tensor] = []
        for i in order.tolist():
            if taken and bool((torch.cat(taken) - orbits[i, 0]).norm(dim=-1).min() <= tol):
                rejected["same_orbit"] += 1
                continue
            taken.append(orbits[i])
            keep.append(i)
    index = torch.tensor(sorted(keep), dtype=torch.long)
    lin_eig = (
        fps.eigenvalues[index]
        if len(index)
        else torch.zeros(0, h.shape[-1], dtype=torch.complex128)
    )
    cert = None
    if fps.certificate is not None:
        cert = {k: v[index.numpy()] for k, v in fps.certificate.items()}
    return PeriodicOrbits(
        period,
        orbits[index.to(orbits.device)],
        fps.q[index.to(fps.q.device)],
        fps.inputs[index.to(fps.inputs.device)],
        fps.network[index.to(fps.network.device)],
        fps.kind[index.numpy()],
        lin_eig,
        cert,
        rejected,
    )


def _orbits(step: Iterated, fps, net_shape) -> torch.Tensor:
    """``[M, k, S]`` orbit of every point, stepped with each point's own network."""
    if not net_shape:
        with torch.no_grad():
            return step.orbit(fps.points, fps.inputs)
    n_net = int(np.prod(net_shape))
    counts = torch.bincount(fps.network, minlength=n_net)
    width = int(counts.max())
    slot = torch.zeros_like(fps.network)
    for b in range(n_net):
        mine = (fps.network == b).nonzero().flatten()
        slot[mine] = torch.arange(len(mine), device=slot.device)
    size, inputs = fps.points.shape[-1], fps.inputs.shape[-1]
    grid_h = fps.points.new_zeros(n_net, width, size)
    grid_x = fps.inputs.new_zeros(n_net, width, inputs)
    grid_h[fps.network, slot], grid_x[fps.network, slot] = fps.points, fps.inputs
    with torch.no_grad():
        out = step.orbit(
            grid_h.reshape(*net_shape, width, size), grid_x.reshape(*net_shape, width, inputs)
        )
    return out.reshape(n_net, width, step.period, size)[fps.network, slot]


__all__ = ["PeriodicOrbits", "find_periodic_orbits"]
