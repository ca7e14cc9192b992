"""Dynamical topology: per-network signatures of the computational scaffold, and
distances between them.

A signature is built from a network's dynamics results and holds whatever the task
makes meaningful:

| part | from | tasks |
|---|---|---|
| counts of stable points and of saddles by number of unstable directions | ``FixedPoints`` | all |
| node labels: the readout each fixed point produces, discretised (sign of each output channel, 0 where ``|y| < label_threshold``) | ``FixedPoints`` + readout | tasks with labelled outputs (flip-flop: the 2^bits corners) |
| unstable-manifold and input-transition graphs | ``unstable_manifold_graph``, ``input_transition_graph`` | flip-flop (memories and switching); any task with discrete states |
| sorted Jacobian spectrum (top ``|λ|`` averaged over stable points) | ``FixedPoints`` | all |
| limit-cycle periods | ``find_limit_cycle`` | sine wave (one cycle per input level) |
| line-attractor structure (dimension, eigenvalues near 1) | ``fit_line_attractor`` | context integration, sentiment |

:func:`topology_distance` compares the parts two signatures share: the counts (L1 over
the type histogram, normalised), graphs (Jaccard distance between edge sets keyed by node
labels when both carry labels; otherwise distance between Laplacian spectra), spectra
(RMS difference of the top ``|λ|``), cycle periods (relative difference) and line
structure; the total is their mean. Every part is invariant to a change of coordinates
of the state space, so two networks that differ by one are at distance 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import torch


@dataclass
class TopologySignature:
    """The computational scaffold of one network (see module docs)."""

    counts: np.ndarray  # [n_stable, n_index1, n_index2, ...]
    spectrum: np.ndarray  # mean top-|λ| profile over stable points (descending)
    labels: list[tuple] | None = None  # per fixed point
    graphs: dict[str, nx.DiGraph] = field(default_factory=dict)
    cycle_periods: np.ndarray | None = None
    line: tuple[int, float] | None = None  # (dimension, mean eigenvalues near one)


def topology_signature(
    fixed_points,
    *,
    readout: tuple | None = None,
    graphs: dict[str, nx.DiGraph] | None = None,
    cycles=None,
    line=None,
    spectrum_size: int = 10,
    label_threshold: float = 0.5,
) -> TopologySignature:
    """Build a network's signature.

    Args:
        fixed_points: ``FixedPoints`` of one network, with Jacobians.
        readout: ``(W_out [S_h, O], b_out [O])`` to label points by the output they
            produce (the first ``S_h`` state components feed it); ``None``: no labels.
        graphs: named graphs over the rows of ``fixed_points`` (e.g.
            ``{"unstable": unstable_manifold_graph(...), "inputs": input_transition_graph(...)}``).
        cycles: list of ``LimitCycle`` (or ``None`` entries) from ``find_limit_cycle``.
        line: a ``LineAttractor`` from ``fit_line_attractor``.
        spectrum_size: how many leading ``|λ|`` form the spectrum.
        label_threshold: outputs with ``|y|`` below it count as 0 in a label.
    """
    stable = fixed_points.is_stable.numpy()
    index = fixed_points.n_unstable.numpy()
    top = int(index.max()) if len(index) else 0
    counts = np.array([int(stable.sum())] + [int((index == k).sum()) for k in range(1, top + 1)])
    mags = fixed_points.eigenvalues.abs().numpy() if len(fixed_points) else np.zeros((0, 1))
    chosen = mags[stable] if stable.any() else mags
    width = min(spectrum_size, mags.shape[1])
    spectrum = chosen[:, :width].mean(axis=0) if len(chosen) else np.zeros(width)
    labels = None
    if readout is not None:
        w, b = (torch.as_tensor(t, dtype=torch.float64) for t in readout)
        outputs = fixed_points.points[:, : w.shape[0]].double() @ w + b
        labels = [
            tuple(int(v) for v in np.where(np.abs(row) < label_threshold, 0, np.sign(row)))
            for row in outputs.numpy()
        ]
    periods = None
    if cycles is not None:
        periods = np.array(sorted(c.period for c in cycles if c is not None))
    line_part = None
    if line is not None:
        near = float(np.mean(line.n_near_one)) if line.n_near_one is not None else float("nan")
        line_part = (int(line.dimension), near)
    return TopologySignature(counts, spectrum, labels, dict(graphs or {}), periods, line_part)


def topology_distance(a: TopologySignature, b: TopologySignature, *, parts: bool = False):
    """Distance between two signatures (mean of the parts both have; 0 = same scaffold).

    With ``parts=True`` returns ``(total, {part: distance})``.
    """
    out = {
        "counts": _counts_distance(a.counts, b.counts),
        "spectrum": _spectrum_distance(a.spectrum, b.spectrum),
    }
    for name in sorted(set(a.graphs) & set(b.graphs)):
        out[f"graph:{name}"] = graph_distance(a.graphs[name], b.graphs[name], a.labels, b.labels)
    if a.cycle_periods is not None and b.cycle_periods is not None:
        out["cycles"] = _periods_distance(a.cycle_periods, b.cycle_periods)
    if a.line is not None and b.line is not None:
        out["line"] = float(a.line[0] != b.line[0]) * 0.5 + 0.5 * min(
            1.0, abs(a.line[1] - b.line[1])
        )
    total = float(np.mean(list(out.values())))
    return (total, out) if parts else total


def graph_distance(g: nx.DiGraph, h: nx.DiGraph, labels_g=None, labels_h=None) -> float:
    """Distance in [0, 1] between two transition graphs.

    With node labels (the readout each fixed point produces) for both: the Jaccard
    distance between their labelled edge sets and node label sets, averaged — nodes
    match by what they mean for the task. Without: the distance between the sorted
    spectra of the graphs' normalised Laplacians (undirected), padded to equal length —
    a structural comparison.
    """
    if labels_g is not None and labels_h is not None:
        nodes_g = {labels_g[n] for n in g.nodes}
        nodes_h = {labels_h[n] for n in h.nodes}
        edges_g = {(labels_g[u], labels_g[v]) for u, v in g.edges}
        edges_h = {(labels_h[u], labels_h[v]) for u, v in h.edges}
        return 0.5 * (_jaccard_distance(nodes_g, nodes_h) + _jaccard_distance(edges_g, edges_h))
    sg, sh = _laplacian_spectrum(g), _laplacian_spectrum(h)
    size = max(len(sg), len(sh), 1)
    sg, sh = np.pad(sg, (0, size - len(sg))), np.pad(sh, (0, size - len(sh)))
    return float(np.abs(sg - sh).mean() / 2)  # normalised Laplacian eigenvalues lie in [0, 2]


def _laplacian_spectrum(g: nx.DiGraph) -> np.ndarray:
    if g.number_of_nodes() == 0:
        return np.zeros(0)
    lap = nx.normalized_laplacian_matrix(g.to_undirected()).toarray()
    return np.sort(np.linalg.eigvalsh(lap))


def _jaccard_distance(a: set, b: set) -> float:
    union = a | b
    return 0.0 if not union else 1 - len(a & b) / len(union)


def _counts_distance(a: np.ndarray, b: np.ndarray) -> float:
    size = max(len(a), len(b))
    a, b = np.pad(a, (0, size - len(a))), np.pad(b, (0, size - len(b)))
    total = a.sum() + b.sum()
    return 0.0 if total == 0 else float(np.abs(a - b).sum() / total)


def _spectrum_distance(a: np.ndarray, b: np.ndarray) -> float:
    size = min(len(a), len(b))
    return float(np.sqrt(np.mean((a[:size] - b[:size]) ** 2))) if size else 0.0


def _periods_distance(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) != len(b):
        return 1.0
    if len(a) == 0:
        return 0.0
    return float(np.mean(np.abs(a - b) / np.maximum(np.abs(a), np.abs(b))))


def pairwise_topology(signatures: list[TopologySignature]) -> np.ndarray:
    """``[N, N]`` topology distances between signatures (symmetric, zero diagonal)."""
    if not signatures:
        raise ValueError("signatures is an empty list.")
    n = len(signatures)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            out[i, j] = out[j, i] = topology_distance(signatures[i], signatures[j])
    return out
