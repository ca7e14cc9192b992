"""Figures for notebooks and the report: each function takes rnnscope objects
(``FixedPoints``, ``Linearization``, ``TopologySignature``, distance matrices with their
network table, verdict tables), draws on the ``ax`` it is given or on a new figure, and
returns the figure::

    import rnnscope as rs
    rs.plot.state_space(fps, states, graph=graph)            # PC1–PC2; dims=3 for PC1–PC3
    rs.plot.eigenvalues(fps); rs.plot.time_constants(fps)
    rs.plot.transition_graph(signature)                      # flip-flop: the cube by corner
    rs.plot.mds_map(D, networks); rs.plot.distance_heatmap(D, networks)
    rs.plot.verdict_table(rs.compare.verdict_table({"svcca": D}, networks))
"""

from __future__ import annotations

from ._style import ARCHITECTURE_COLOURS, colours
from .dynamics import cube_layout, eigenvalues, state_space, time_constants, transition_graph
from .population import (
    ablation_curves,
    distance_heatmap,
    fixed_point_counts,
    mds_map,
    verdict_table,
)

__all__ = [
    "ARCHITECTURE_COLOURS",
    "ablation_curves",
    "colours",
    "cube_layout",
    "distance_heatmap",
    "eigenvalues",
    "fixed_point_counts",
    "mds_map",
    "state_space",
    "time_constants",
    "transition_graph",
    "verdict_table",
]
