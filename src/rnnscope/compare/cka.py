"""Centred kernel alignment (Kornblith et al. 2019)."""

from __future__ import annotations

import torch

from ._prepare import centered, check_matrix, check_same_samples


def linear_cka_representation(x: torch.Tensor) -> torch.Tensor:
    """Centred ``X`` scaled so that ``‖XᵀX‖_F = 1``: linear CKA is then ``‖XᵀY‖_F²``."""
    xc = centered(x)
    scale = torch.linalg.matrix_norm(xc.T @ xc).sqrt()
    return xc / scale if scale > 0 else xc


def cka(x, y, *, kernel: str = "linear", sigma: float | None = None) -> float:
    """CKA similarity in [0, 1] between ``X [n, p]`` and ``Y [n, q]``.

    ``kernel="linear"`` (default): invariant to orthogonal maps, translation and uniform
    scaling, not to other linear maps. ``kernel="rbf"``: Gaussian kernels with bandwidth
    ``sigma`` times the median pairwise distance of each matrix (default 1.0, so the
    score keeps those invariances).
    """
    x, y = check_matrix("X", x), check_matrix("Y", y)
    check_same_samples(("X", "Y"), x, y)
    if kernel == "linear":
        rx, ry = linear_cka_representation(x), linear_cka_representation(y)
        return float(torch.linalg.matrix_norm(rx.T @ ry) ** 2)
    if kernel == "rbf":
        kx, ky = _centred_rbf(x, sigma), _centred_rbf(y, sigma)
        return float((kx * ky).sum() / (kx.norm() * ky.norm()).clamp_min(1e-300))
    raise ValueError(f"unknown kernel {kernel!r}; choose 'linear' or 'rbf'.")


def _centred_rbf(x: torch.Tensor, sigma: float | None) -> torch.Tensor:
    # exact differences: the matmul shortcut loses digits that rotations then reshuffle
    d2 = torch.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist").pow(2)
    median = (
        d2[d2 > 0].median().sqrt() if bool((d2 > 0).any()) else torch.tensor(1.0, dtype=x.dtype)
    )
    width = (1.0 if sigma is None else sigma) * median
    k = torch.exp(-d2 / (2 * width * width))
    n = k.shape[0]
    h = torch.eye(n, dtype=k.dtype) - 1.0 / n
    return h @ k @ h
