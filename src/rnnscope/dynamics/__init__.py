"""Fixed points, linearization and dynamical objects of step functions ``h' = F(h, x)``.

Works on any callable batched over leading axes, and on whole populations at once;
knows nothing about tasks or training.
"""

from __future__ import annotations

from ._steps import jacobians
from .candidates import sample_candidates
from .fixed_points import (
    Adam,
    BetweenAttractors,
    Certify,
    FixedPoints,
    Newton,
    Outliers,
    Polish,
    find_fixed_points,
)
from .graphs import input_transition_graph, unstable_manifold_graph
from .integration import (
    IntegrationAnalysis,
    LinearizedReadout,
    analyze_integration,
    linearized_readout,
    principal_variance,
)
from .limit_cycle import LimitCycle, find_limit_cycle
from .line_attractor import LineAttractor, fit_line_attractor, readout_subspace_share
from .linearize import Linearization, linearize
from .modifiers import ModifierEffect, modifier_effects
from .periodic import PeriodicOrbits, find_periodic_orbits
from .scaffold import MemoryStructure, find_scaffold, memory_structure
from .surrogate import LinearizedModel

__all__ = [
    "Adam",
    "BetweenAttractors",
    "Certify",
    "FixedPoints",
    "IntegrationAnalysis",
    "LimitCycle",
    "LineAttractor",
    "Linearization",
    "LinearizedModel",
    "LinearizedReadout",
    "MemoryStructure",
    "ModifierEffect",
    "Newton",
    "Outliers",
    "PeriodicOrbits",
    "Polish",
    "analyze_integration",
    "find_fixed_points",
    "find_limit_cycle",
    "find_periodic_orbits",
    "find_scaffold",
    "fit_line_attractor",
    "input_transition_graph",
    "jacobians",
    "linearize",
    "linearized_readout",
    "memory_structure",
    "modifier_effects",
    "principal_variance",
    "readout_subspace_share",
    "sample_candidates",
    "unstable_manifold_graph",
]
