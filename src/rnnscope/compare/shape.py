"""Shape metrics (Williams et al. 2021): Procrustes and the α family up to CCA.

Each matrix is centred, scaled and partially whitened,
``X̃ = X ((1 − α) C + α·(tr C / p) I)^{-1/2}`` with ``C = XᵀX / n``, padded with zero
columns to a common width, and scaled to unit norm; the distance is the angle between
the two after the best orthogonal alignment,
``θ = arccos( ‖X̃ᵀỸ‖_* )`` (nuclear norm), in radians, 0 = same shape.

``α = 1``: Procrustes (invariant to rotations, reflections, unit permutations,
translation and uniform scaling; *not* to other linear maps). ``α = 0``: full whitening,
invariant to every invertible linear map, like CCA.
"""

from __future__ import annotations

import math

import torch

from ._prepare import DEFAULT_EPS, centered, check_matrix, check_same_samples


def shape_representation(x: torch.Tensor, alpha: float, eps: float = DEFAULT_EPS) -> torch.Tensor:
    """``X̃`` for one (already validated) matrix, unit Frobenius norm ``[n, p]``."""
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}.")
    xc = centered(x)
    n, p = xc.shape
    cov = xc.T @ xc / n
    level = torch.trace(cov) / p
    matrix = (1 - alpha) * cov + (alpha + eps) * level * torch.eye(p, dtype=xc.dtype)
    values, vectors = torch.linalg.eigh(matrix)
    inv_sqrt = vectors @ torch.diag(values.clamp_min(1e-300).rsqrt()) @ vectors.T
    out = xc @ inv_sqrt
    norm = out.norm()
    return out / norm if norm > 0 else out


def angle_between(rx: torch.Tensor, ry: torch.Tensor) -> torch.Tensor:
    """Angle after the best orthogonal alignment of two unit-norm representations."""
    nuclear = torch.linalg.svdvals(rx.transpose(-1, -2) @ ry).sum(-1)
    return torch.arccos(nuclear.clamp(-1, 1))


def shape_metric(
    x, y, *, alpha: float = 1.0, kind: str = "angular", eps: float = DEFAULT_EPS
) -> float:
    """Shape distance between ``X [n, p]`` and ``Y [n, q]``.

    Args:
        alpha: 1 for Procrustes, 0 for the CCA end, anything between.
        kind: ``"angular"`` (radians, in [0, π/2]) or ``"euclidean"`` (the chord
            ``2 sin(θ/2)`` between the unit-norm shapes, in [0, √2]).
    """
    if kind not in ("angular", "euclidean"):
        raise ValueError(f"unknown kind {kind!r}; choose 'angular' or 'euclidean'.")
    x, y = check_matrix("X", x), check_matrix("Y", y)
    check_same_samples(("X", "Y"), x, y)
    theta = float(
        angle_between(shape_representation(x, alpha, eps), shape_representation(y, alpha, eps))
    )
    return theta if kind == "angular" else 2 * math.sin(theta / 2)


def procrustes(x, y) -> float:
    """Procrustes angular distance (radians; 0 = same up to rotation, reflection,
    translation and uniform scaling)."""
    return shape_metric(x, y, alpha=1.0)
