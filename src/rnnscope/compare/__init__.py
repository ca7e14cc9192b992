"""Comparing networks: representational geometry, dynamical topology, embeddings.

Geometry metrics take state matrices ``[samples, units]`` collected on the same probe
inputs. Similarities (``cca``, ``svcca``, ``pwcca``, ``cka``) lie in [0, 1], 1 = same up
to the metric's invariances; ``procrustes`` and ``shape_metric`` are angular distances
(0 = same). ``pairwise`` and ``cross`` give distance matrices for whole populations.
"""

from __future__ import annotations

from .cca import canonical_correlations, cca, pwcca, svcca
from .cka import cka
from .embedding import mds, silhouette
from .pairwise import METRICS, block, cross, pairwise, prepare
from .shape import procrustes, shape_metric
from .topology import (
    TopologySignature,
    graph_distance,
    pairwise_topology,
    topology_distance,
    topology_signature,
)

__all__ = [
    "METRICS",
    "TopologySignature",
    "block",
    "canonical_correlations",
    "cca",
    "cka",
    "cross",
    "graph_distance",
    "mds",
    "pairwise",
    "pairwise_topology",
    "prepare",
    "procrustes",
    "pwcca",
    "shape_metric",
    "silhouette",
    "svcca",
    "topology_distance",
    "topology_signature",
]
