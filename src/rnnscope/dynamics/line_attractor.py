"""Line and ring attractors: fixed points lying on a low-dimensional curve."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class LineAttractor:
    """The geometry of a set of fixed points.

    Attributes:
        dimension: principal components needed to explain ``explained`` of the
            points' variance (1 for a line, 2 for a ring or plane).
        explained_variance_ratio: ``[S]`` per principal component.
        center: ``[S]`` mean of the points.
        direction: ``[S]`` first principal axis (unit vector): the line's direction.
        axes: ``[S, S]`` all principal axes (rows).
        coordinate: ``[M]`` position of each point along the line (projection on
            ``direction``), or for a ring its angle in radians around the ring's centre
            in the top-2 plane.
        is_ring: the points lie on a circle in their top-2 plane (dimension 2 and the
            radii from the least-squares circle centre vary by less than 10%).
        n_near_one: per point, how many eigenvalues satisfy ``| |λ| − 1 | < unit_tol``
            (``[M]``; ``None`` without eigenvalues). A line attractor has one.
        readout_alignment: ``|cos|`` between ``direction`` and each readout vector
            (``[O]``; ``None`` without a readout).
        null_alignment: the same for random unit directions: mean and 95th
            percentile of ``|cos|`` over ``null_samples`` draws.
        p_value: fraction of random directions at least as aligned as the readout.
    """

    dimension: int
    explained_variance_ratio: np.ndarray
    center: np.ndarray
    direction: np.ndarray
    axes: np.ndarray
    coordinate: np.ndarray
    is_ring: bool
    n_near_one: np.ndarray | None
    readout_alignment: np.ndarray | None
    null_alignment: tuple[float, float] | None
    p_value: np.ndarray | None

    @property
    def participation_ratio(self) -> float:
        """``(Σ v)² / Σ v²`` of the points' principal variances ``v``: a dimension that
        does not hang on a threshold (1 for a line; ``k`` for ``k`` equal axes)."""
        v = self.explained_variance_ratio
        return float(v.sum() ** 2 / (v**2).sum()) if (v**2).sum() > 0 else float("nan")


def fit_line_attractor(
    points,
    *,
    eigenvalues=None,
    readout=None,
    explained: float = 0.95,
    unit_tol: float = 0.05,
    null_samples: int = 10_000,
    seed: int = 0,
) -> LineAttractor:
    """Describe fixed points as a line (or ring) attractor.

    Args:
        points: ``[M, S]`` fixed points of one network under one input (M ≥ 2).
        eigenvalues: ``[M, S]`` their Jacobian eigenvalues (complex), optional.
        readout: ``[S]`` or ``[S, O]`` readout vectors (e.g. ``W_out``), optional.
        explained: variance share that defines the dimension (default 0.95).
        unit_tol: an eigenvalue counts as "near one" when ``| |λ| − 1 | < unit_tol``.
        null_samples, seed: the random-direction null for the readout alignment.
    """
    pts = _numpy(points).astype(np.float64)
    if pts.ndim != 2 or pts.shape[0] < 2:
        raise ValueError(f"points must be [M, S] with M ≥ 2, got shape {list(pts.shape)}.")
    if not 0 < explained <= 1:
        raise ValueError(f"explained must lie in (0, 1], got {explained}.")
    center = pts.mean(axis=0)
    centred = pts - center
    _, sing, axes = np.linalg.svd(centred, full_matrices=True)
    var = np.zeros(pts.shape[1])
    var[: len(sing)] = sing**2
    ratio = var / var.sum() if var.sum() > 0 else var
    dimension = int(np.searchsorted(np.cumsum(ratio), explained - 1e-12) + 1)
    direction = axes[0]
    plane = centred @ axes[:2].T
    # a ring is judged around its fitted circle's centre, not the points' centroid, which
    # moves off-centre when the points cover the ring unevenly
    ring_center = _circle_center(plane)
    radius = np.linalg.norm(plane - ring_center, axis=1)
    is_ring = dimension == 2 and radius.mean() > 0 and radius.std() / radius.mean() < 0.1
    if is_ring:
        offset = plane - ring_center
        coordinate = np.arctan2(offset[:, 1], offset[:, 0])
    else:
        coordinate = centred @ direction

    near_one = None
    if eigenvalues is not None:
        mags = np.abs(_numpy(eigenvalues))
        if mags.shape[0] != pts.shape[0]:
            raise ValueError(
                f"eigenvalues have {mags.shape[0]} rows but there are {pts.shape[0]} points."
            )
        near_one = (np.abs(mags - 1) < unit_tol).sum(axis=1)

    alignment = null = p_value = None
    if readout is not None:
        w = _numpy(readout).astype(np.float64)
        w = w[:, None] if w.ndim == 1 else w
        if w.shape[0] != pts.shape[1]:
            raise ValueError(
                f"readout has {w.shape[0]} rows but the states have {pts.shape[1]} units."
            )
        w = w / np.linalg.norm(w, axis=0, keepdims=True)
        alignment = np.abs(direction @ w)
        rng = np.random.default_rng(seed)
        random = rng.standard_normal((null_samples, pts.shape[1]))
        random /= np.linalg.norm(random, axis=1, keepdims=True)
        null_cos = np.abs(random @ w)  # [samples, O]
        null = (float(null_cos.mean()), float(np.quantile(null_cos, 0.95)))
        p_value = (null_cos >= alignment[None, :]).mean(axis=0)

    return LineAttractor(
        dimension=dimension,
        explained_variance_ratio=ratio,
        center=center,
        direction=direction,
        axes=axes,
        coordinate=coordinate,
        is_ring=bool(is_ring),
        n_near_one=near_one,
        readout_alignment=alignment,
        null_alignment=null,
        p_value=p_value,
    )


def readout_subspace_share(points, readout) -> float:
    """Share of the points' variance (about their mean) inside the span of what the
    readout distinguishes: the readout vector for one output (a logit), the class
    contrasts (columns minus their mean, ``C − 1`` directions) for ``C ≥ 2`` softmax
    outputs.

    Args:
        points: ``[M, S]`` fixed points (M ≥ 2).
        readout: ``[S]`` or ``[S, O]``.

    A ``C``-class integrator's attractor spans the ``C − 1`` contrasts (Aitken et al.
    2020): its points give a share near 1; random points in ``S`` dimensions about
    ``(C − 1) / S``.
    """
    pts = _numpy(points).astype(np.float64)
    w = _numpy(readout).astype(np.float64)
    w = w[:, None] if w.ndim == 1 else w
    if pts.ndim != 2 or pts.shape[0] < 2 or w.shape[0] != pts.shape[1]:
        raise ValueError(
            f"points must be [M, S] with M ≥ 2 and readout [S, O]; got {list(pts.shape)} and {list(w.shape)}."
        )
    contrasts = w if w.shape[1] == 1 else w - w.mean(axis=1, keepdims=True)
    basis, sing, _ = np.linalg.svd(contrasts, full_matrices=False)
    basis = basis[:, sing > 1e-10 * max(sing.max(), 1e-300)]
    centred = pts - pts.mean(axis=0)
    total = float((centred**2).sum())
    return float(((centred @ basis) ** 2).sum() / total) if total > 0 else float("nan")


def _circle_center(xy: np.ndarray) -> np.ndarray:
    """Least-squares circle centre of 2-D points (algebraic fit:
    ``x² + y² = 2 c_x x + 2 c_y y + k``); exact for points on a circle."""
    design = np.column_stack([2 * xy, np.ones(len(xy))])
    solution, *_ = np.linalg.lstsq(design, (xy**2).sum(axis=1), rcond=None)
    return solution[:2]


def _numpy(a) -> np.ndarray:
    return a.detach().cpu().numpy() if torch.is_tensor(a) else np.asarray(a)
