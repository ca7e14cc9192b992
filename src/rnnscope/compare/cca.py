"""Canonical correlation analysis and its relatives (SVCCA, PWCCA).

Inputs are state matrices ``[samples, units]`` with the same samples (rows) and any
numbers of units, more than twice as many samples as units (an error otherwise) and
ideally at least 10 per unit (a ``FewSamplesWarning`` otherwise); constant matrices are
refused (see ``_prepare``). All three are **similarities in [0, 1]**: 1 means the two
representations are the same up to an invertible linear map (CCA, PWCCA) or up to one
on their top principal subspaces (SVCCA); ``1 − similarity`` is the distance
``pairwise`` reports, as in the universality paper.
"""

from __future__ import annotations

import numpy as np
import torch

from ._prepare import (
    DEFAULT_EPS,
    centered,
    check_matrix,
    check_same_samples,
    svd_reduced,
    warn_few_samples,
    whitened_basis,
)


def _pair(x, y, metric: str) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = check_matrix("X", x), check_matrix("Y", y)
    check_same_samples(("X", "Y"), x, y)
    warn_few_samples("X", x, metric)
    warn_few_samples("Y", y, metric)
    return centered(x), centered(y)


def correlations_between(qx: torch.Tensor, qy: torch.Tensor) -> torch.Tensor:
    """Canonical correlations of two orthonormal (weighted) bases: the singular values of
    ``Qxᵀ Qy``, clipped to [0, 1], the top ``min(kx, ky)``, largest first."""
    k = min(qx.shape[-1], qy.shape[-1])
    return torch.linalg.svdvals(qx.transpose(-1, -2) @ qy)[..., :k].clamp(0, 1)


def canonical_correlations(x, y, *, eps: float = DEFAULT_EPS) -> np.ndarray:
    """All ``min(p, q)`` canonical correlations between ``X [n, p]`` and ``Y [n, q]``,
    largest first. Directions a matrix does not span (rank deficiency) contribute 0."""
    xc, yc = _pair(x, y, "cca")
    return correlations_between(whitened_basis(xc, eps), whitened_basis(yc, eps)).numpy()


def cca(x, y, *, eps: float = DEFAULT_EPS) -> float:
    """Mean canonical correlation, a similarity in [0, 1]; invariant to any invertible
    linear map of either matrix, translation, and unit permutation."""
    return float(canonical_correlations(x, y, eps=eps).mean())


def svcca(x, y, *, variance: float = 0.99, keep: int | None = None) -> float:
    """SVCCA (Raghu et al. 2017): reduce each matrix to its top singular directions (the
    fewest explaining ``variance``, default 99%, or exactly ``keep``), then CCA; the mean
    canonical correlation, a similarity in [0, 1]."""
    xc, yc = _pair(x, y, "svcca")
    return float(
        correlations_between(
            svd_reduced(xc, variance, keep), svd_reduced(yc, variance, keep)
        ).mean()
    )


def pwcca(x, y, *, eps: float = DEFAULT_EPS) -> float:
    """Projection-weighted CCA (Morcos et al. 2018): canonical correlations averaged with
    weights ``α_i = Σ_j |⟨h_i, x_j⟩|``, how much of ``X``'s units each canonical variate
    ``h_i`` accounts for. A similarity in [0, 1]; not symmetric (the weights come from
    ``X``), ``pairwise`` averages both directions."""
    xc, yc = _pair(x, y, "pwcca")
    qx, qy = whitened_basis(xc, eps), whitened_basis(yc, eps)
    return float(_pwcca_from_bases(qx, qy, qx.transpose(-1, -2) @ xc))


def _pwcca_from_bases(qx, qy, projections) -> torch.Tensor:
    """PWCCA from bases and ``Qxᵀ X`` (batched over leading axes)."""
    k = min(qx.shape[-1], qy.shape[-1])
    u, rho, _ = torch.linalg.svd(qx.transpose(-1, -2) @ qy)
    u, rho = u[..., :k], rho[..., :k].clamp(0, 1)
    weights = (u.transpose(-1, -2) @ projections).abs().sum(-1)  # [..., k]
    return (weights * rho).sum(-1) / weights.sum(-1).clamp_min(1e-300)
