"""Validation and per-network preparation shared by the geometry metrics.

Everything runs in float64 on ``[samples, units]`` matrices, centred per unit.

Degenerate inputs are refused, never scored:

- a matrix constant across samples (spread around its mean at most ``CONSTANT_TOL`` of
  its size: a dead or saturated network) has no geometry to compare -> ``ValueError``;
- every metric needs more than twice as many samples as units (``n > 2p``): at ``n − 1 ≤
  p + q`` the centred samples span too few dimensions and canonical correlations are 1
  whatever the data (random 3 × 2 or 11 × 10 matrices gave CCA 1.000) -> ``ValueError``;
- the CCA family (cca, svcca, pwcca) warns (``FewSamplesWarning``) below
  ``MIN_SAMPLES_PER_UNIT = 10`` samples per unit: unrelated Gaussian data score a mean
  CCA of 0.63 at 2 samples per unit, 0.39 at 5, 0.26 at 10, 0.12 at 50 (p = q = 10).
"""

from __future__ import annotations

import numpy as np
import torch

#: relative ridge on singular values: a zero singular value gets weight 0, not NaN
DEFAULT_EPS = 1e-12
#: a matrix whose spread around its mean is below this share of its size is constant
CONSTANT_TOL = 1e-6
#: the CCA family warns below this many samples per unit
MIN_SAMPLES_PER_UNIT = 10


class FewSamplesWarning(UserWarning):
    """Too few samples per unit for an unbiased similarity (see ``MIN_SAMPLES_PER_UNIT``)."""


def check_matrix(name: str, x, *, min_samples_over_units: bool = True) -> torch.Tensor:
    """``x`` as a float64 tensor ``[n, p]``; clear errors for bad input."""
    if x is None:
        raise TypeError(f"{name} is None; pass a [samples, units] array.")
    t = x.detach() if torch.is_tensor(x) else torch.as_tensor(np.asarray(x))
    if not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64)):
        raise TypeError(f"{name} must hold numbers, got dtype {t.dtype}.")
    t = t.to(torch.float64)
    if t.dim() != 2:
        raise ValueError(f"{name} must be a [samples, units] matrix, got shape {list(t.shape)}.")
    n, p = t.shape
    if p == 0 or n == 0:
        raise ValueError(f"{name} is empty (shape {list(t.shape)}).")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or inf; drop or impute those samples first.")
    if min_samples_over_units and n <= 2 * p:
        raise ValueError(
            f"{name} has {n} samples for {p} units; these metrics need more than twice as many "
            "samples as units (with fewer, canonical correlations reach 1 whatever the data): "
            "collect more probe trials, or reduce the units first (e.g. PCA)."
        )
    spread = (t - t.mean(0, keepdim=True)).norm()
    if spread == 0 or spread <= CONSTANT_TOL * t.norm():
        raise ValueError(
            f"{name} is constant across samples (a dead or saturated network?): it has no "
            "geometry to compare; drop it from the comparison."
        )
    return t


def warn_few_samples(name: str, x: torch.Tensor, metric: str) -> None:
    """The CCA family's samples-per-unit rule (a ``FewSamplesWarning``)."""
    n, p = x.shape
    if n < MIN_SAMPLES_PER_UNIT * p:
        import warnings

        warnings.warn(
            f"{metric}: {name} has {n} samples for {p} units ({n / p:.1f} per unit, fewer than "
            f"{MIN_SAMPLES_PER_UNIT}); CCA-family similarities are biased upward there (unrelated "
            "data score 0.26 at 10 per unit, 0.63 at 2). Collect more probe trials.",
            FewSamplesWarning,
            stacklevel=3,
        )


def check_same_samples(names: tuple[str, str], x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{names[0]} has {x.shape[0]} samples but {names[1]} has {y.shape[0]}; compare "
            "state matrices collected on the same probe inputs (rows must correspond)."
        )


def centered(x: torch.Tensor) -> torch.Tensor:
    return x - x.mean(dim=0, keepdim=True)


def whitened_basis(xc: torch.Tensor, eps: float = DEFAULT_EPS) -> torch.Tensor:
    """Orthonormal basis of the column space of centred ``xc`` ``[n, p]``, each column
    weighted ``s / sqrt(s² + eps·s_max²)``: 1 for the informative directions, 0 (not NaN)
    for directions the data does not span."""
    u, s, _ = torch.linalg.svd(xc, full_matrices=False)
    smax = s.max() if s.numel() else torch.tensor(0.0, dtype=xc.dtype)
    if smax <= 0:
        return torch.zeros_like(u)
    return u * (s / torch.sqrt(s * s + eps * smax * smax))


def svd_reduced(
    xc: torch.Tensor, variance: float | None = 0.99, keep: int | None = None
) -> torch.Tensor:
    """The top singular directions of ``xc``: the fewest explaining ``variance`` of it,
    or exactly ``keep``. Returns the orthonormal basis ``U_k [n, k]``."""
    u, s, _ = torch.linalg.svd(xc, full_matrices=False)
    if keep is not None:
        if isinstance(keep, bool) or not isinstance(keep, int) or keep <= 0:
            raise ValueError(f"keep must be a positive integer, got {keep!r}.")
        k = min(keep, int((s > s.max() * 1e-12).sum()))
    else:
        if variance is None or not 0 < variance <= 1:
            raise ValueError(f"variance must lie in (0, 1], got {variance!r}.")
        share = torch.cumsum(s * s, 0) / (s * s).sum()
        k = (
            int(torch.searchsorted(share, torch.tensor(variance - 1e-12, dtype=share.dtype)).item())
            + 1
        )
        k = min(k, len(s))
    return u[:, : max(1, k)]
