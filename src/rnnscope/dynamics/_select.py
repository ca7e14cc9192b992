"""Selection steps of the fixed-point search, as small option objects: the certificate
that makes a point ``fixed``, and the outlier policy. (Merging and deduplication use
:func:`~rnnscope.dynamics._unique.greedy_unique` at ``tol_unique · scale``.)"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

OUTLIER_POLICIES = ("centroid", "nearest", None)
_DEFAULT_OUTLIER_DISTANCE = {"centroid": 10.0, "nearest": 1.0}

#: the certificate's columns, in ``FixedPoints.to_dataframe()`` order
CERTIFICATE_COLUMNS = (
    "residual",
    "residual_floor",
    "newton_step",
    "sigma_min",
    "sigma_max",
    "convergence_order",
    "certified",
)


@dataclass(frozen=True)
class Certify:
    """When a polished point is ``fixed``, and when it is rejected as ``flat``.

    A point is *certified* when (1) the polish brought its residual ``‖F(h) − h‖`` to
    round-off for the state's scale: ``≤ roundoff · ε · max(‖h‖, scale)`` with ``ε`` the
    polish dtype's machine epsilon and ``scale`` the network's candidate radius; (2) the
    Newton step there is well defined: ``J − I`` is not ≈ 0 in every direction
    (``σ_max(J − I) ≥ flat_tol``; a line attractor, singular in one direction, passes);
    and (3) one more least-squares Newton step moves it by no more than that round-off
    distance. Points with ``σ_max(J − I) < flat_tol`` lie where ``F ≈ identity`` in every
    direction (a saturated region: ``q`` shrinks without end there and means nothing):
    they are rejected as ``flat`` and never reported.

    Columns (``FixedPoints.to_dataframe()``): ``residual``, ``residual_floor``,
    ``newton_step`` (the least-squares Newton step's length: an estimate of the distance
    to the exact root), ``sigma_min`` / ``sigma_max`` (singular values of ``J − I``),
    ``convergence_order`` (estimated from the polish's last residuals above 100 ε:
    ≈ 2 for Newton's quadratic convergence; NaN when it reached round-off too fast to
    measure), ``certified``.
    """

    roundoff: float = 1e4
    flat_tol: float = 1e-5
    near: float = 1e-2

    def __post_init__(self) -> None:
        for name in ("roundoff", "flat_tol"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}.")

    def __call__(
        self, points, residual_vectors, jacobian, jacobian_near, scale, history
    ) -> dict[str, np.ndarray]:
        """Certificate of ``points [M, S]`` with ``G [M, S]``, ``J [M, S, S]`` at the
        points and ``near · scale`` away, ``scale [M]`` (the network's) and the polish's
        ``q`` history ``[M, L]``."""
        dtype = points.dtype
        eps = torch.finfo(dtype).eps
        eye = torch.eye(points.shape[-1], dtype=dtype, device=points.device)
        a = jacobian.to(dtype) - eye
        u, s, vh = torch.linalg.svd(a)
        sigma_max, sigma_min = s[:, 0], s[:, -1]
        keep = s > (s[:, :1] * points.shape[-1] * eps)
        inv = torch.where(keep, 1.0 / s.clamp_min(torch.finfo(dtype).tiny), torch.zeros_like(s))
        coeff = (u.transpose(-1, -2) @ residual_vectors.unsqueeze(-1)).squeeze(-1) * inv
        step = (vh.transpose(-1, -2) @ coeff.unsqueeze(-1)).squeeze(-1).norm(dim=-1)
        residual = residual_vectors.norm(dim=-1)
        floor = self.roundoff * eps * torch.maximum(points.norm(dim=-1), scale.to(dtype))
        near = torch.linalg.matrix_norm(jacobian_near.to(dtype) - eye, ord=2)
        flat = torch.maximum(sigma_max, near) < self.flat_tol
        certified = (residual <= floor) & ~flat & torch.isfinite(residual)
        return {
            "residual": residual.cpu().double().numpy(),
            "residual_floor": floor.cpu().double().numpy(),
            "newton_step": step.cpu().double().numpy(),
            "sigma_min": sigma_min.cpu().double().numpy(),
            "sigma_max": sigma_max.cpu().double().numpy(),
            "convergence_order": convergence_order(history, floor / self.roundoff * 100),
            "certified": certified.cpu().numpy(),
            "flat": flat.cpu().numpy(),
        }


def convergence_order(history: torch.Tensor, limit: torch.Tensor) -> np.ndarray:
    """Order ``p ≈ log(r₃/r₂) / log(r₂/r₁)`` from the last three residuals
    ``r = sqrt(2q)`` of the polish that lie above ``limit [M]`` (100 ε × the state's
    scale) and fall (NaN if fewer). ``history [M, L]`` (``q`` before the first and
    after every iteration)."""
    r = (2 * history.double()).clamp_min(0).sqrt().cpu().numpy()
    limit = limit.cpu().double().numpy()
    out = np.full(len(r), np.nan)
    for m, row in enumerate(r):
        above = [v for v in row if v > limit[m]]
        falling = [above[0]] if above else []
        for v in above[1:]:
            if v < falling[-1]:
                falling.append(v)
        if len(falling) >= 3:
            r1, r2, r3 = falling[-3:]
            with np.errstate(divide="ignore", invalid="ignore"):
                out[m] = np.log(r3 / r2) / np.log(r2 / r1)
    return out


@dataclass(frozen=True)
class Outliers:
    """Outlier policy: ``"centroid"`` (as FixedPointFinder): drop points farther than
    ``distance`` (default 10) × the candidates' mean distance from their centroid;
    ``"nearest"`` (as computation-thru-dynamics): drop points whose nearest other point
    is farther than ``distance`` (default 1) × ``scale``; ``None``: keep all."""

    policy: str | None = "centroid"
    distance: float | None = None

    def __post_init__(self) -> None:
        if self.policy not in OUTLIER_POLICIES:
            raise ValueError(
                f"unknown outlier policy {self.policy!r}; choose 'centroid', 'nearest' or None."
            )
        if self.distance is None and self.policy is not None:
            object.__setattr__(self, "distance", _DEFAULT_OUTLIER_DISTANCE[self.policy])

    def far(self, points, centroid, radius, scale) -> torch.Tensor:
        """``[M]`` bool: which of one network's ``points [M, S]`` are outliers."""
        none = torch.zeros(len(points), dtype=torch.bool, device=points.device)
        if self.policy is None or len(points) == 0:
            return none
        if self.policy == "centroid":
            return (points - centroid).norm(dim=-1) > self.distance * radius.mean()
        if len(points) < 2:
            return none
        d = torch.cdist(points, points)
        d.fill_diagonal_(float("inf"))
        return d.amin(dim=1) > self.distance * scale
