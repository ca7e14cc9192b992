"""Fixed points, linearization and dynamical objects of step functions ``h' = F(h, x)``.

Works on any callable batched over leading axes, and on whole populations at once;
knows nothing about tasks or training.
"""

from __future__ import annotations

from ._steps import jacobians
from .candidates import sample_candidates
from .fixed_points import FixedPoints, find_fixed_points
from .linearize import Linearization, linearize

__all__ = [
    "FixedPoints",
    "Linearization",
    "find_fixed_points",
    "jacobians",
    "linearize",
    "sample_candidates",
]
