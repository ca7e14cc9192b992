"""Comparing networks: representational geometry, dynamical topology, embeddings.

Geometry metrics take state matrices ``[samples, units]`` collected on the same probe
inputs. Similarities (``cca``, ``svcca``, ``pwcca``, ``cka``) lie in [0, 1], 1 = same up
to the metric's invariances; ``procrustes`` and ``shape_metric`` are angular distances
(0 = same). ``pairwise`` and ``cross`` give distance matrices for whole populations.

``dsa`` (Dynamical Similarity Analysis) compares trajectories ``[trials, time, units]``
by their fitted linear dynamics; ``pairwise("dsa", ...)`` fits each network once.
"""

from __future__ import annotations

from ._prepare import MIN_SAMPLES_PER_UNIT, FewSamplesWarning
from .cca import canonical_correlations, cca, pwcca, svcca
from .cka import cka
from .dsa import Alignment, cross_dsa, dsa, dsa_block, pairwise_dsa, prepare_dsa
from .embedding import mds, silhouette
from .pairwise import METRICS, cross, pairwise
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
    "MIN_SAMPLES_PER_UNIT",
    "Alignment",
    "FewSamplesWarning",
    "TopologySignature",
    "canonical_correlations",
    "cca",
    "cka",
    "cross",
    "cross_dsa",
    "dsa",
    "dsa_block",
    "graph_distance",
    "mds",
    "pairwise",
    "pairwise_dsa",
    "pairwise_topology",
    "prepare_dsa",
    "procrustes",
    "pwcca",
    "shape_metric",
    "silhouette",
    "svcca",
    "topology_distance",
    "topology_signature",
]
