"""Dynamical topology: the computational scaffold of a network, per task, and distances
between scaffolds (Maheswaranathan et al. 2019, "Universality and individuality").

A :class:`TopologySignature` holds the parts of the scaffold a task makes meaningful.
Every part is a property of the dynamics that survives any change of coordinates of the
state space (rotation, permutation of units) and any reordering of the fixed points:

| part | what | built by |
|---|---|---|
| ``counts`` | number of stable points and of index-1 saddles | flip-flop and sine builders |
| ``higher_index`` | saddles with 2, 3, … unstable directions — how many the finder recovers depends on its sampling, so this part is **not** in the default distance | flip-flop and sine builders |
| ``attractors`` | the output each attractor produces (sign of each readout channel, 0 where ``|y|`` < ``label_threshold``): the memories | :func:`flipflop_signature` |
| ``graph`` | the heteroclinic graph with nodes named by those labels: which attractors an index-1 saddle joins | :func:`flipflop_signature` |
| ``structure`` | the same graph without labels: 0 when the graphs are isomorphic, else the distance between their normalised-Laplacian spectra (:func:`structure_distance`; its `method="ged"` gives the edit distance, too slow for whole populations) | :func:`flipflop_signature` |
| ``sine_type``, ``sine_cycle``, ``sine_frequency`` | per input level: the type of the fixed point the dynamics organise around (stable node / stable focus / unstable focus / saddle), whether a limit cycle surrounds it, and its frequency (the cycle's, else the linearization's rotation) | :func:`sine_signature` |
| ``line_dimension``, ``readout_alignment``, ``ablation`` | per context: the dimension of the line attractor, ``|cos|`` of its direction with the readout, and the mode-ablation curve (the linearized output for a unit input as the slowest modes are removed one at a time, averaged over the points on the line) | :func:`context_signature` |

Quantitative properties of the linearization (spectra, time constants) are not topology:
they form their own comparison, :mod:`rnnscope.compare.linear_dynamics`.

:func:`topology_block` compares two lists of signatures in one vectorised pass: each
part is a distance in [0, 1], defined for a pair when both signatures carry it; the
total is the mean of the defined parts among ``parts`` (default :data:`DEFAULT_PARTS`).
Signatures round-trip through plain NumPy arrays (:meth:`TopologySignature.to_arrays`,
:meth:`TopologySignature.from_arrays`; storable with ``np.savez``, no pickle).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, is_dataclass, replace

import networkx as nx
import numpy as np
import torch

from ._topology_parts import _part_blocks, structure_distance

PARTS = (
    "counts",
    "attractors",
    "graph",
    "structure",
    "sine_type",
    "sine_cycle",
    "sine_frequency",
    "line_dimension",
    "readout_alignment",
    "ablation",
    "higher_index",
)
DEFAULT_PARTS = tuple(p for p in PARTS if p != "higher_index")
LABELLED_GRAPH_PARTS = ("attractors", "graph")

#: codes of :attr:`TopologySignature.point_type`
POINT_TYPES = {-1: "none", 0: "stable node", 1: "stable focus", 2: "unstable focus", 3: "saddle"}


@dataclass(eq=False)
class TopologySignature:
    """The computational scaffold of one network (module docs); ``None`` = part absent.

    Attributes:
        counts: ``int [1 + K]``: stable points, then saddles with 1, 2, …, K unstable
            directions (``None`` for context signatures: on a line attractor a point's
            stability hinges on whether ``|λ| ≈ 1`` rounds above or below 1).
        attractors: ``int8 [A, O]``: the output label of each attractor (values −1/0/1).
        edges: ``int [E, 2]``: the heteroclinic graph, rows of ``attractors`` joined by
            an index-1 saddle (``i ≤ j``; ``i == j``: both branches reach one attractor).
        levels: ``float [L]`` input levels (sine); ``point_type`` ``int [L]`` (codes in
            :data:`POINT_TYPES`); ``has_cycle`` ``bool [L]``; ``frequency`` ``float [L]``
            in rad/step.
        line_dimension: ``int [C]`` per context (0: fewer than two points);
            ``readout_alignment`` ``float [C]``; ``ablation`` ``float [C, 1 + modes]``,
            1 at 0 modes removed.
    """

    counts: np.ndarray | None = None
    attractors: np.ndarray | None = None
    edges: np.ndarray | None = None
    levels: np.ndarray | None = None
    point_type: np.ndarray | None = None
    has_cycle: np.ndarray | None = None
    frequency: np.ndarray | None = None
    line_dimension: np.ndarray | None = None
    readout_alignment: np.ndarray | None = None
    ablation: np.ndarray | None = None

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The present parts as plain arrays (numeric dtypes only; ``np.savez``-able)."""
        return {
            f.name: np.asarray(v) for f in fields(self) if (v := getattr(self, f.name)) is not None
        }

    @classmethod
    def from_arrays(cls, arrays) -> TopologySignature:
        """Inverse of :meth:`to_arrays` (also accepts an ``np.load`` result, or a dict
        whose keys carry a common prefix stripped by the caller)."""
        names = {f.name for f in fields(cls)}
        unknown = set(arrays) - names
        if unknown:
            raise ValueError(
                f"unknown signature arrays {sorted(unknown)}; expected some of {sorted(names)}."
            )
        return cls(**{k: np.asarray(arrays[k]) for k in arrays})

    @property
    def n_stable(self) -> int:
        return int(self.counts[0]) if self.counts is not None and len(self.counts) else 0

    @property
    def n_index1(self) -> int:
        return int(self.counts[1]) if self.counts is not None and len(self.counts) > 1 else 0

    def graph(self) -> nx.Graph:
        """The heteroclinic graph: nodes are attractor rows (attribute ``label``: the
        output corner as a string such as ``"+-+"``); an edge per pair joined by a saddle
        (self-loops where both branches reach one attractor)."""
        g = nx.Graph()
        if self.attractors is None:
            return g
        for i, row in enumerate(self.attractors):
            g.add_node(i, label=label_string(row))
        if self.edges is not None:
            g.add_edges_from((int(a), int(b)) for a, b in np.asarray(self.edges).reshape(-1, 2))
        return g

    def __repr__(self) -> str:
        parts = [] if self.counts is None else [f"counts={self.counts.tolist()}"]
        if self.attractors is not None:
            parts.append(f"attractors={len(self.attractors)}, edges={len(self.edges)}")
        if self.levels is not None:
            parts.append(f"levels={len(self.levels)}, cycles={int(self.has_cycle.sum())}")
        if self.line_dimension is not None:
            parts.append(f"line_dimension={self.line_dimension.tolist()}")
        return f"TopologySignature({', '.join(parts)})"


def label_string(label) -> str:
    """``(1, -1, 0)`` → ``"+-0"``."""
    return "".join("+" if v > 0 else ("-" if v < 0 else "0") for v in np.asarray(label).ravel())


# ---------------------------------------------------------------- builders


def _counts(fixed_points, fixed) -> np.ndarray:
    if fixed_points.linearization is None:
        raise ValueError(
            "the fixed points carry no linearization; call find_fixed_points(..., linearize_points=True)."
        )
    stable = fixed_points.is_stable.numpy() & fixed
    index = fixed_points.n_unstable.numpy()[fixed]
    top = max(1, int(index.max()) if len(index) else 1)
    return np.array(
        [int(stable.sum())] + [int((index == k).sum()) for k in range(1, top + 1)], dtype=np.int64
    )


def _fixed_mask(fixed_points, kinds) -> np.ndarray:
    if kinds is None:
        return np.ones(len(fixed_points), dtype=bool)
    return np.isin(np.asarray(fixed_points.kind), list(kinds))


def _cpu(obj):
    """A dataclass of results (``FixedPoints``, ``Linearization``) with its tensors on
    the CPU (results of a GPU search compare like any other); other values as they are."""
    if torch.is_tensor(obj):
        return obj.detach().cpu()
    if not is_dataclass(obj) or isinstance(obj, type):
        return obj
    moved = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if f.init and (
            torch.is_tensor(value) or (is_dataclass(value) and not isinstance(value, type))
        ):
            moved[f.name] = _cpu(value)
    return replace(obj, **moved) if moved else obj


def _array(x, dtype=np.float64) -> np.ndarray:
    return np.asarray(x.detach().cpu() if torch.is_tensor(x) else x, dtype=dtype)


def _readout_labels(points: torch.Tensor, readout, threshold: float) -> np.ndarray:
    w, b = readout if isinstance(readout, tuple | list) else (readout, None)
    w = torch.as_tensor(_array(w))
    w = w.reshape(-1, 1) if w.dim() == 1 else w
    if w.shape[0] > points.shape[-1]:
        raise ValueError(
            f"readout has {w.shape[0]} rows but the states have {points.shape[-1]} units."
        )
    out = points[:, : w.shape[0]].double() @ w
    if b is not None:
        out = out + torch.as_tensor(_array(b))
    out = out.numpy()
    return np.where(np.abs(out) < threshold, 0, np.sign(out)).astype(np.int8)


def flipflop_signature(
    fixed_points,
    graph: nx.DiGraph,
    readout,
    *,
    label_threshold: float = 0.5,
    kinds: Sequence[str] | None = ("fixed",),
) -> TopologySignature:
    """The flip-flop scaffold: attractors labelled by their output, index-1 saddles, and
    the heteroclinic graph of which attractors each saddle joins.

    Args:
        fixed_points: ``FixedPoints`` of one network, linearized.
        graph: ``unstable_manifold_graph(step, fixed_points)`` (edges saddle → stable
            point, over the rows of ``fixed_points``).
        readout: ``(W_out [S_h, O], b_out [O])`` or ``W_out``; the first ``S_h`` state
            components feed it.
        label_threshold: outputs with ``|y|`` below it count as 0 in a label.
        kinds: which kinds of point count (default only converged ``"fixed"`` ones;
            ``None``: all, slow points included).
    """
    fixed_points = _cpu(fixed_points)
    fixed = _fixed_mask(fixed_points, kinds)
    counts = _counts(fixed_points, fixed)
    stable = np.flatnonzero(fixed_points.is_stable.numpy() & fixed)
    row_of = {int(p): k for k, p in enumerate(stable)}
    labels = _readout_labels(
        fixed_points.points[torch.as_tensor(stable, dtype=torch.long)], readout, label_threshold
    )
    index = fixed_points.n_unstable.numpy()
    edges = set()
    for s in np.flatnonzero((index == 1) & fixed):
        ends = (
            sorted({row_of[t] for t in graph.successors(int(s)) if t in row_of})
            if s in graph
            else []
        )
        if len(ends) == 2:
            edges.add((ends[0], ends[1]))
        elif len(ends) == 1:
            edges.add((ends[0], ends[0]))
    edge_array = np.array(sorted(edges), dtype=np.int64).reshape(-1, 2)
    # no stable point (e.g. memories held on periodic orbits): labels are already [0, O]
    attractors = labels.reshape(len(stable), -1) if labels.size else labels
    return TopologySignature(counts, attractors=attractors, edges=edge_array)


def topology_signature(
    fixed_points,
    *,
    readout=None,
    graphs: dict[str, nx.DiGraph] | None = None,
    label_threshold: float = 0.5,
    kinds: Sequence[str] | None = ("fixed",),
) -> TopologySignature:
    """A network's signature from its fixed points: counts always; with a ``readout`` and
    ``graphs["unstable"]`` (an ``unstable_manifold_graph``) the flip-flop scaffold of
    :func:`flipflop_signature`. Sine and context tasks: :func:`sine_signature`,
    :func:`context_signature`."""
    graph = (graphs or {}).get("unstable")
    if readout is not None and graph is not None:
        return flipflop_signature(
            fixed_points, graph, readout, label_threshold=label_threshold, kinds=kinds
        )
    return TopologySignature(_counts(fixed_points, _fixed_mask(fixed_points, kinds)))


def point_type(eigenvalues) -> int:
    """Code (:data:`POINT_TYPES`) of a map's fixed point from its eigenvalues ``[S]``
    (sorted by ``|λ|``, largest first): stable node / focus by whether the leading
    eigenvalue is real; unstable focus when every unstable eigenvalue is complex;
    otherwise a saddle."""
    ev = np.asarray(eigenvalues)
    mags = np.abs(ev)
    complex_ = np.abs(ev.imag) > 1e-9
    if (mags < 1).all():
        return 1 if complex_[np.argmax(mags)] else 0
    return 2 if complex_[mags > 1].all() else 3


def sine_signature(
    levels,
    fixed_points: Sequence,
    cycles: Sequence | None = None,
    *,
    kinds: Sequence[str] | None = ("fixed",),
) -> TopologySignature:
    """The sine-wave scaffold: per input level, the fixed point the dynamics organise
    around, its type, whether a limit cycle surrounds it, and the frequency.

    Args:
        levels: ``[L]`` the input levels (e.g. the cue of each frequency).
        fixed_points: ``L`` ``FixedPoints``, those found under each level's input.
        cycles: ``L`` ``LimitCycle`` or ``None`` (``find_limit_cycle`` per level).

    The point chosen at a level is the one nearest the cycle's centre when there is a
    cycle (the point the trajectory orbits), else the stable point with the lowest
    ``q``, else the point with the lowest ``q``. The frequency is the cycle's
    (``2π / period``), else the rotation per step ``|arg λ|`` of the point's leading
    eigenvalue; both in rad/step. ``counts`` sums the levels' counts.
    """
    levels = np.asarray(levels, dtype=np.float64).reshape(-1)
    if len(fixed_points) != len(levels):
        raise ValueError(
            f"{len(fixed_points)} FixedPoints for {len(levels)} levels; give one per level."
        )
    cycles = list(cycles) if cycles is not None else [None] * len(levels)
    if len(cycles) != len(levels):
        raise ValueError(
            f"{len(cycles)} cycles for {len(levels)} levels; give one (or None) per level."
        )
    kind_code = np.full(len(levels), -1, dtype=np.int64)
    freq = np.full(len(levels), np.nan)
    has_cycle = np.array([c is not None for c in cycles])
    total = np.zeros(2, dtype=np.int64)
    for k, (fps, cycle) in enumerate(zip(map(_cpu, fixed_points), cycles, strict=True)):
        if cycle is not None:
            freq[k] = 2 * np.pi / float(cycle.period)
        if len(fps) == 0:
            continue
        mask = _fixed_mask(fps, kinds)
        c = _counts(fps, mask)
        if len(c) > len(total):
            total = np.pad(total, (0, len(c) - len(total)))
        total[: len(c)] += c
        rows = np.flatnonzero(mask) if mask.any() else np.arange(len(fps))
        q = fps.q.double().numpy()
        if cycle is not None:
            centre = torch.as_tensor(np.asarray(cycle.center), dtype=torch.float64)
            dist = (fps.points[rows].double() - centre).norm(dim=-1).numpy()
            pick = rows[int(np.argmin(dist))]
        else:
            stable = rows[fps.is_stable.numpy()[rows]]
            pool = stable if len(stable) else rows
            pick = pool[int(np.argmin(q[pool]))]
        ev = fps.eigenvalues[pick].numpy()
        kind_code[k] = point_type(ev)
        if cycle is None:
            freq[k] = float(np.abs(np.angle(ev[0])))
    return TopologySignature(
        total, levels=levels, point_type=kind_code, has_cycle=has_cycle, frequency=freq
    )


def ablation_curve(
    linearization, readout, input_vector, *, modes: int = 5, steps: int = 100
) -> np.ndarray:
    """The mode-ablation curve at each point of a linearization: ``[M, 1 + modes]``.

    Entry ``k`` is ``‖wᵀ Σ_{a ≥ k} g_a r_a ℓ_aᵀ J_inp u‖ / ‖wᵀ Σ_a g_a r_a ℓ_aᵀ J_inp u‖``:
    the readout of the linearized system after ``steps`` steps of the unit input ``u``
    (``g_a = Σ_{t<steps} λ_a^t``), with the ``k`` slowest modes (largest ``|λ|``)
    removed, relative to the full system. A network that integrates with one mode drops
    to ≈ 0 at ``k = 1``; one that spreads integration over several modes falls slowly.

    Args:
        linearization: ``Linearization`` at ``M`` points (one leading axis).
        readout: ``[S_h]`` or ``[S_h, O]``; state components beyond ``S_h`` do not feed it.
        input_vector: ``u [I]``, e.g. the evidence channel of a context.
    """
    linearization = _cpu(linearization)
    lam = linearization.eigenvalues.to(torch.complex128)  # [M, S]
    right = linearization.right_eigenvectors.to(torch.complex128)  # [M, S, S]
    left = linearization.left_eigenvectors.to(torch.complex128)
    j_inp = linearization.input_jacobian.to(torch.float64)
    u = torch.as_tensor(_array(input_vector))
    w = torch.as_tensor(_array(readout))
    w = w.reshape(-1, 1) if w.dim() == 1 else w
    size = lam.shape[-1]
    w_full = torch.zeros(size, w.shape[1], dtype=torch.float64)
    w_full[: w.shape[0]] = w
    drive = left @ (j_inp @ u).to(torch.complex128).unsqueeze(-1)  # [M, S, 1]: ℓ_aᵀ J_inp u
    near_one = (lam - 1).abs() < 1e-12
    gain = torch.where(
        near_one, torch.full_like(lam, steps), (1 - lam**steps) / torch.where(near_one, 1, 1 - lam)
    )
    per_mode = (w_full.to(torch.complex128).T @ right) * (gain * drive[..., 0]).unsqueeze(
        -2
    )  # [M, O, S]
    # removing the k slowest modes leaves the sum over a >= k: reversed cumulative sums
    tail = per_mode.flip(-1).cumsum(-1).flip(-1)  # [M, O, S]: sum over a >= k
    k = min(modes, size - 1)
    norms = tail[..., : k + 1].real.norm(dim=-2)  # [M, k+1]
    curve = (norms / norms[:, :1].clamp_min(1e-300)).numpy()
    if k < modes:
        curve = np.pad(curve, ((0, 0), (0, modes - k)))
    return curve


def context_signature(
    fixed_points: Sequence,
    readout,
    input_vectors,
    *,
    modes: int = 5,
    steps: int = 100,
    explained: float = 0.95,
    kinds: Sequence[str] | None = None,
) -> TopologySignature:
    """The context-integration scaffold: per context, the line attractor's dimension,
    its alignment with the readout, and the mode-ablation curve.

    Args:
        fixed_points: ``C`` ``FixedPoints``, those found under each context's input
            (the points on that context's line), linearized.
        readout: ``[S_h]`` or ``[S_h, O]`` readout vector(s) (``W_out``).
        input_vectors: ``[C, I]`` per context, the unit input whose integration is
            measured (that context's relevant evidence channel).
        modes: how many slow modes the ablation curve removes, one at a time.
        steps: the integration horizon of the curve (e.g. the trial length).
        explained: variance share that defines the line's dimension
            (``fit_line_attractor``).
        kinds: which kinds of point lie on the line (default all: slow points too).

    A context with fewer than two points has dimension 0, alignment and curve NaN. The
    signature carries no ``counts``: on a line attractor, whether a point is "stable"
    depends on whether its ``|λ| ≈ 1`` rounds below or above 1.
    """
    from ..dynamics.line_attractor import fit_line_attractor

    inputs = np.asarray(input_vectors, dtype=np.float64)
    inputs = inputs.reshape(len(fixed_points), -1)
    w = np.asarray(
        readout.detach().cpu() if torch.is_tensor(readout) else readout, dtype=np.float64
    )
    w2 = w.reshape(-1, 1) if w.ndim == 1 else w
    n = len(fixed_points)
    dims = np.zeros(n, dtype=np.int64)
    align = np.full(n, np.nan)
    curves = np.full((n, modes + 1), np.nan)
    for c, fps in enumerate(map(_cpu, fixed_points)):
        mask = _fixed_mask(fps, kinds)
        rows = np.flatnonzero(mask)
        if len(rows) < 2:
            continue
        pts = fps.points[torch.as_tensor(rows)].double().numpy()
        padded = np.zeros((pts.shape[1], w2.shape[1]))
        padded[: w2.shape[0]] = w2
        line = fit_line_attractor(pts, readout=padded, explained=explained, null_samples=16)
        dims[c] = line.dimension
        align[c] = float(np.max(line.readout_alignment))
        lin = fps.linearization.select(torch.as_tensor(rows))
        curves[c] = ablation_curve(lin, w2, inputs[c], modes=modes, steps=steps).mean(axis=0)
    return TopologySignature(line_dimension=dims, readout_alignment=align, ablation=curves)


# ---------------------------------------------------------------- distances (parts: _topology_parts)


def _check_parts(parts) -> tuple[str, ...]:
    parts = tuple(DEFAULT_PARTS if parts is None else parts)
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise ValueError(f"unknown topology parts {unknown}; choose from {', '.join(PARTS)}.")
    if not parts:
        raise ValueError("parts is empty; name at least one of " + ", ".join(PARTS) + ".")
    return parts


def _as_signatures(sigs, name) -> list[TopologySignature]:
    sigs = list(sigs)
    for s in sigs:
        if not isinstance(s, TopologySignature):
            raise TypeError(
                f"{name} must hold TopologySignature objects, got {type(s).__name__}; rebuild "
                "stored ones with TopologySignature.from_arrays."
            )
    return sigs


def topology_block(
    sigs_a: Sequence[TopologySignature],
    sigs_b: Sequence[TopologySignature],
    *,
    parts: Sequence[str] | None = None,
    return_parts: bool = False,
):
    """``[len(a), len(b)]`` topology distances, vectorised over pairs.

    Each part (module docs) is a distance in [0, 1] between two signatures that both
    carry it; the total is the mean over the defined parts among ``parts`` (default
    :data:`DEFAULT_PARTS`, which leaves out ``higher_index``), 0 where none is defined.
    With ``return_parts=True`` returns ``(total, {part: [len(a), len(b)] with NaN where
    undefined})``.
    """
    a, b = _as_signatures(sigs_a, "sigs_a"), _as_signatures(sigs_b, "sigs_b")
    parts = _check_parts(parts)
    if not a or not b:
        total = np.zeros((len(a), len(b)))
        return (total, {}) if return_parts else total
    blocks = _part_blocks(a, b, parts)
    stack = np.stack(list(blocks.values()))
    defined = ~np.isnan(stack)
    n = defined.sum(0)
    total = np.where(n > 0, np.where(defined, stack, 0).sum(0) / np.maximum(n, 1), 0.0)
    return (total, blocks) if return_parts else total


def topology_distance(
    a: TopologySignature, b: TopologySignature, *, parts=None, return_parts: bool = False
):
    """Distance between two signatures (:func:`topology_block` of one pair); with
    ``return_parts=True``, ``(total, {part: distance})`` for the defined parts."""
    total, blocks = topology_block([a], [b], parts=parts, return_parts=True)
    if return_parts:
        return float(total[0, 0]), {
            k: float(v[0, 0]) for k, v in blocks.items() if not np.isnan(v[0, 0])
        }
    return float(total[0, 0])


def pairwise_topology(signatures: Sequence[TopologySignature], *, parts=None) -> np.ndarray:
    """``[N, N]`` topology distances between signatures (symmetric, zero diagonal)."""
    signatures = list(signatures)
    if not signatures:
        raise ValueError("signatures is an empty list.")
    d = topology_block(signatures, signatures, parts=parts)
    d = 0.5 * (d + d.T)
    np.fill_diagonal(d, 0.0)
    return d


def graph_distance(g: nx.Graph, h: nx.Graph, labels_g=None, labels_h=None) -> float:
    """Distance in [0, 1] between two graphs.

    With node labels for both (dicts or sequences: node → hashable label, e.g. the
    output corner a fixed point produces): the mean of the Jaccard distances between
    their label sets and their labelled edge sets (undirected) — nodes match by what
    they mean for the task. Without: :func:`structure_distance` (0 iff isomorphic).
    """
    if labels_g is not None and labels_h is not None:
        nodes_g = {labels_g[n] for n in g.nodes}
        nodes_h = {labels_h[n] for n in h.nodes}
        edges_g = {frozenset((labels_g[u], labels_g[v])) for u, v in g.edges}
        edges_h = {frozenset((labels_h[u], labels_h[v])) for u, v in h.edges}
        return 0.5 * (_jaccard(nodes_g, nodes_h) + _jaccard(edges_g, edges_h))
    return structure_distance(nx.Graph(g).to_undirected(), nx.Graph(h).to_undirected())


def _jaccard(a: set, b: set) -> float:
    union = a | b
    return 0.0 if not union else 1 - len(a & b) / len(union)
