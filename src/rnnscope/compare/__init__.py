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
from .components import keep_from_counts, principal_count, study_keep
from .dsa import Alignment, cross_dsa, dsa, dsa_block, pairwise_dsa, prepare_dsa
from .embedding import mds, silhouette
from .linear_dynamics import (
    LinearDynamicsSignature,
    linear_dynamics_block,
    linear_dynamics_signature,
    pairwise_linear_dynamics,
)
from .pairwise import METRICS, block, cross, pairwise, prepare
from .shape import procrustes, shape_metric
from .topology import (
    DEFAULT_PARTS,
    TopologySignature,
    ablation_curve,
    context_signature,
    flipflop_signature,
    graph_distance,
    pairwise_topology,
    sine_signature,
    structure_distance,
    topology_block,
    topology_distance,
    topology_signature,
)
from .verdict import Verdict, separation, verdict, verdict_sentence, verdict_table

__all__ = [
    "DEFAULT_PARTS",
    "METRICS",
    "MIN_SAMPLES_PER_UNIT",
    "Alignment",
    "FewSamplesWarning",
    "LinearDynamicsSignature",
    "TopologySignature",
    "Verdict",
    "ablation_curve",
    "block",
    "canonical_correlations",
    "cca",
    "cka",
    "context_signature",
    "cross",
    "cross_dsa",
    "dsa",
    "dsa_block",
    "flipflop_signature",
    "graph_distance",
    "keep_from_counts",
    "linear_dynamics_block",
    "linear_dynamics_signature",
    "mds",
    "pairwise",
    "pairwise_dsa",
    "pairwise_linear_dynamics",
    "pairwise_topology",
    "prepare",
    "prepare_dsa",
    "principal_count",
    "procrustes",
    "pwcca",
    "separation",
    "shape_metric",
    "silhouette",
    "sine_signature",
    "structure_distance",
    "study_keep",
    "svcca",
    "topology_block",
    "topology_distance",
    "topology_signature",
    "verdict",
    "verdict_sentence",
    "verdict_table",
]
