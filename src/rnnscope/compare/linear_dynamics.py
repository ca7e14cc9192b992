"""Linear dynamics: quantitative properties of the linearization at the attractors
(spectra, time constants), compared as their own signature — separate from topology,
which asks only which attractors, saddles and connections exist.

A :class:`LinearDynamicsSignature` holds, over a network's stable fixed points (all
points when none is stable), the mean of the ``size`` largest eigenvalue magnitudes
``|λ|`` and the mean ``log10 τ`` of the same modes (``τ = 1/|ln|λ||`` in steps, capped
at ``tau_cap``). Both are invariant to any change of coordinates of the state space.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(eq=False)
class LinearDynamicsSignature:
    """``spectrum [K]``: mean top ``|λ|`` (descending); ``log_tau [K]``: mean
    ``log10 τ`` of those modes (steps)."""

    spectrum: np.ndarray
    log_tau: np.ndarray

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"spectrum": np.asarray(self.spectrum), "log_tau": np.asarray(self.log_tau)}

    @classmethod
    def from_arrays(cls, arrays) -> LinearDynamicsSignature:
        missing = {"spectrum", "log_tau"} - set(arrays)
        if missing:
            raise ValueError(f"a linear-dynamics signature needs arrays {sorted(missing)}.")
        return cls(np.asarray(arrays["spectrum"]), np.asarray(arrays["log_tau"]))


def linear_dynamics_signature(
    fixed_points, *, size: int = 10, tau_cap: float = 1e4
) -> LinearDynamicsSignature:
    """The signature of one network's ``FixedPoints`` (linearized); see module docs."""
    if fixed_points.linearization is None:
        raise ValueError(
            "the fixed points carry no linearization; call find_fixed_points(..., linearize_points=True)."
        )
    if len(fixed_points) == 0:
        return LinearDynamicsSignature(np.zeros(0), np.zeros(0))
    from .topology import _cpu

    fixed_points = _cpu(fixed_points)
    mags = fixed_points.eigenvalues.abs().double().numpy()
    stable = fixed_points.is_stable.numpy()
    chosen = mags[stable] if stable.any() else mags
    chosen = chosen[:, : min(size, chosen.shape[1])]
    with np.errstate(divide="ignore"):
        tau = np.minimum(1.0 / np.abs(np.log(np.clip(chosen, 1e-300, None))), tau_cap)
    return LinearDynamicsSignature(chosen.mean(axis=0), np.log10(tau).mean(axis=0))


def linear_dynamics_block(
    sigs_a: Sequence[LinearDynamicsSignature],
    sigs_b: Sequence[LinearDynamicsSignature],
    *,
    part: str = "spectrum",
) -> np.ndarray:
    """``[len(a), len(b)]`` RMS difference of the ``part`` (``"spectrum"``: top ``|λ|``,
    or ``"log_tau"``: log10 time constants) over the modes both signatures have."""
    if part not in ("spectrum", "log_tau"):
        raise ValueError(f"unknown part {part!r}; choose 'spectrum' or 'log_tau'.")
    if not sigs_a or not sigs_b:
        return np.zeros((len(sigs_a), len(sigs_b)))
    width = max(len(getattr(s, part)) for s in list(sigs_a) + list(sigs_b))

    def stack(sigs):
        out = np.full((len(sigs), width), np.nan)
        for i, s in enumerate(sigs):
            v = np.asarray(getattr(s, part), dtype=np.float64)
            out[i, : len(v)] = v
        return out

    a, b = stack(sigs_a)[:, None], stack(sigs_b)[None, :]
    sq = (a - b) ** 2
    valid = ~np.isnan(sq)
    n = valid.sum(-1)
    return np.where(n > 0, np.sqrt(np.where(valid, sq, 0).sum(-1) / np.maximum(n, 1)), 0.0)


def pairwise_linear_dynamics(
    signatures: Sequence[LinearDynamicsSignature], *, part: str = "spectrum"
) -> np.ndarray:
    """``[N, N]`` symmetric, zero diagonal."""
    signatures = list(signatures)
    if not signatures:
        raise ValueError("signatures is an empty list.")
    d = linear_dynamics_block(signatures, signatures, part=part)
    d = 0.5 * (d + d.T)
    np.fill_diagonal(d, 0.0)
    return d
