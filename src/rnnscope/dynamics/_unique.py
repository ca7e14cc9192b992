"""Greedy deduplication of points by distance, lowest cost first."""

from __future__ import annotations

import numpy as np
import torch


def greedy_unique(points: torch.Tensor, cost: torch.Tensor, tol: float) -> torch.Tensor:
    """Indices of points kept when each point absorbs every later one within ``tol``.

    Points are visited in order of increasing ``cost``; a point is kept unless a
    kept point lies within Euclidean distance ``tol``.

    Args:
        points: ``[M, S]``; cost: ``[M]``; tol: distance threshold.

    Returns:
        Kept indices (into ``points``), in order of increasing cost.
    """
    if points.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=points.device)
    order = torch.argsort(cost)
    sorted_points = points[order]
    close = (torch.cdist(sorted_points, sorted_points) <= tol).cpu().numpy()
    covered = np.zeros(len(order), dtype=bool)
    kept = []
    for i in range(len(order)):
        if covered[i]:
            continue
        kept.append(i)
        covered |= close[i]
    return order[torch.tensor(kept, dtype=torch.long, device=order.device)]
