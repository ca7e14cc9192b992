"""Figures of one network's dynamics: fixed points in state space, eigenvalues, time
constants, the flip-flop's transition graph.

Each public function takes rnnscope objects (``FixedPoints``, ``Linearization``,
``TopologySignature``) and an optional matplotlib ``ax``, draws, and returns the figure.
The ``draw_*`` helpers take plain arrays (the report builds its figures with them).
"""

from __future__ import annotations

import numpy as np

from ._style import axes, numpy

_EDGE = {"color": "#555", "lw": 0.8}


# ---------------------------------------------------------------- state space


def principal_axes(states, dims: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(centre [S], axes [dims, S], explained [dims])`` of states ``[..., S]``."""
    x = numpy(states).astype(np.float64).reshape(-1, numpy(states).shape[-1])
    centre = x.mean(axis=0)
    _, sing, vt = np.linalg.svd(x - centre, full_matrices=False)
    var = sing**2
    explained = var[:dims] / var.sum() if var.sum() > 0 else np.zeros(dims)
    out = np.zeros((dims, x.shape[1]))
    out[: min(dims, len(vt))] = vt[:dims]
    return centre, out, np.pad(explained, (0, dims - len(explained)))


def draw_state_space(
    ax, trajectory, points, stable, saddle, slow, n_unstable, q, edges, explained=None
):
    """Draw projected trajectories ``[T, d]`` and points ``[M, d]`` (``d`` = 2 or 3) on
    ``ax``: stable points ● black, saddles ✕ coloured by their unstable directions,
    slow points ◆ coloured by log10 q, edges (pairs of point rows) as arrows/lines."""
    dims = trajectory.shape[1] if len(trajectory) else points.shape[1]
    if len(trajectory):
        ax.plot(
            *trajectory.T,
            ".",
            ms=1,
            color="#bbbbbb",
            alpha=0.4,
            rasterized=True,
            label="trajectories",
        )
    for a, b in np.asarray(edges, dtype=int).reshape(-1, 2):
        if dims == 2:
            ax.annotate(
                "", xy=points[b], xytext=points[a], arrowprops={"arrowstyle": "->", **_EDGE}
            )
        else:
            ax.plot(*np.stack([points[a], points[b]]).T, "-", **_EDGE)
    if stable.any():
        ax.scatter(*points[stable].T, s=40, c="black", label="stable", zorder=3)
    if saddle.any():
        sc = ax.scatter(
            *points[saddle].T,
            s=40,
            marker="x",
            c=n_unstable[saddle],
            cmap="autumn",
            vmin=1,
            vmax=max(2, int(n_unstable.max())),
            label="saddle",
            zorder=3,
        )
        ax.figure.colorbar(sc, ax=ax, fraction=0.04, label="unstable directions")
    if slow.any():
        ax.scatter(
            *points[slow].T,
            s=30,
            marker="D",
            c=np.log10(np.maximum(q[slow], 1e-300)),
            cmap="viridis",
            label="slow",
            zorder=3,
        )
    names = ("set_xlabel", "set_ylabel", "set_zlabel")[:dims]
    for k, name in enumerate(names):
        share = "" if explained is None else f" ({100 * explained[k]:.0f}%)"
        getattr(ax, name)(f"PC {k + 1}{share}")
    ax.legend(frameon=False, fontsize=7, loc="best")


def state_space(
    fixed_points,
    states=None,
    *,
    graph=None,
    dims: int = 2,
    ax=None,
    title: str | None = None,
    max_states: int = 20_000,
):
    """Trajectories and fixed points in the top ``dims`` (2 or 3) principal components.

    Args:
        fixed_points: ``FixedPoints`` of one network (linearized).
        states: visited states ``[..., S_h]`` defining the principal axes (default:
            the points'); points are cut to their first ``S_h`` components (e.g. an
            LSTM's ``h`` when ``states`` are ``h``).
        graph: a graph over the rows of ``fixed_points`` (``unstable_manifold_graph``):
            its edges are drawn.
        dims: 2, or 3 for a 3-D view (PC1–PC3).
        ax: axes to draw on (3-D axes for ``dims=3``); default a new figure.
        max_states: at most this many states are drawn (evenly subsampled).
    """
    if dims not in (2, 3):
        raise ValueError(f"dims must be 2 or 3, got {dims!r}.")
    fig, ax = axes(
        ax, figsize=(4.6, 4.2) if dims == 3 else (4.2, 4), projection="3d" if dims == 3 else None
    )
    points = numpy(fixed_points.points).astype(np.float64)
    source = points if states is None else numpy(states)
    width = source.shape[-1]
    if points.shape[0] and width > points.shape[1]:
        raise ValueError(f"states have {width} units but the fixed points {points.shape[1]}.")
    centre, pcs, explained = principal_axes(source, dims)
    traj = np.zeros((0, dims))
    if states is not None:
        flat = source.reshape(-1, width).astype(np.float64)
        flat = flat[:: max(1, len(flat) // max_states)]
        traj = (flat - centre) @ pcs.T
    pts = (points[:, :width] - centre) @ pcs.T if len(points) else np.zeros((0, dims))
    kind = np.asarray(fixed_points.kind)
    fixed = kind == "fixed"
    n_unstable = numpy(fixed_points.n_unstable) if len(points) else np.zeros(0, int)
    stable = (n_unstable == 0) & fixed
    edges = np.array(list(graph.edges), dtype=int).reshape(-1, 2) if graph is not None else []
    draw_state_space(
        ax,
        traj,
        pts,
        stable,
        (n_unstable > 0) & fixed,
        ~fixed,
        n_unstable,
        numpy(fixed_points.q).astype(np.float64),
        edges,
        explained,
    )
    ax.set_title(
        title if title is not None else f"{len(points)} fixed points, {int(stable.sum())} stable",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- linearization


def _eigen(obj):
    if hasattr(obj, "linearization") and obj.linearization is None:
        raise ValueError(
            "the fixed points carry no linearization; call find_fixed_points(..., linearize_points=True)."
        )
    return numpy(obj.eigenvalues), numpy(obj.is_stable).astype(bool)


def draw_eigenvalues(ax, eigenvalues: np.ndarray, stable: np.ndarray):
    """Eigenvalues ``[M, S]`` in the complex plane against the unit circle; the rows of
    ``stable`` points in black, the others red. Returns ``(stable_λ, other_λ)``."""
    theta = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(theta), np.sin(theta), color="#999", lw=0.8, label="unit circle")
    ev_stable = eigenvalues[stable].ravel() if len(eigenvalues) else np.zeros(0, complex)
    ev_other = eigenvalues[~stable].ravel() if len(eigenvalues) else np.zeros(0, complex)
    ax.plot(ev_other.real, ev_other.imag, ".", ms=3, color="#d62728", label="saddles / slow")
    ax.plot(ev_stable.real, ev_stable.imag, ".", ms=3, color="black", label="stable points")
    ax.set_aspect("equal")
    ax.set_xlabel("Re λ")
    ax.set_ylabel("Im λ")
    ax.legend(frameon=False, fontsize=7)
    return ev_stable, ev_other


def eigenvalues(fixed_points, *, ax=None, title: str | None = None):
    """Jacobian eigenvalues of ``FixedPoints`` (or a ``Linearization``) against the unit
    circle, a map's stability boundary."""
    fig, ax = axes(ax, figsize=(3.8, 3.8))
    ev, stable = _eigen(fixed_points)
    draw_eigenvalues(ax, ev, stable)
    ax.set_title(title or "Eigenvalues at the fixed points", fontsize=9)
    fig.tight_layout()
    return fig


def draw_time_constants(ax, eigenvalues: np.ndarray, stable: np.ndarray, top: int = 10):
    """``τ = 1/|ln|λ||`` of the ``top`` slowest modes, one line per stable point (all
    points when none is stable), log scale. Returns ``τ [M, top]``."""
    mags = np.abs(eigenvalues[stable]) if stable.any() else np.abs(eigenvalues)
    with np.errstate(divide="ignore"):
        tau = 1.0 / np.abs(np.log(np.clip(mags[:, :top], 1e-12, None)))
    for row in tau:
        ax.plot(np.arange(1, len(row) + 1), row, "-o", ms=2, lw=0.8, color="#1f77b4", alpha=0.6)
    ax.set_yscale("log")
    ax.set_xlabel("mode (by |λ|)")
    ax.set_ylabel("τ (steps)")
    return tau


def time_constants(fixed_points, *, top: int = 10, ax=None, title: str | None = None):
    """The slowest modes' time constants at the stable points of ``FixedPoints`` (or a
    ``Linearization``), in steps."""
    fig, ax = axes(ax, figsize=(3.8, 3))
    ev, stable = _eigen(fixed_points)
    draw_time_constants(ax, ev, stable, top)
    ax.set_title(title or "Time constants at the stable points", fontsize=9)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- transition graph


def cube_layout(labels) -> np.ndarray:
    """2-D positions ``[A, 2]`` of output labels ``[A, O]`` (values −1/0/1): each label
    is its corner of the hypercube, seen obliquely (3 bits: the usual drawing of a
    cube; other widths: bit ``k`` along angle ``kπ/O`` with length ``0.8^k``)."""
    lab = np.asarray(labels, dtype=np.float64)
    lab = lab.reshape(len(lab), -1)
    width = lab.shape[1]
    if width == 3:
        basis = np.array([[1.0, 0.0], [0.0, 1.0], [0.45, 0.3]])
    else:
        angle = np.arange(width) * np.pi / max(width, 1)
        basis = np.stack([np.cos(angle), np.sin(angle)], 1) * (0.8 ** np.arange(width))[:, None]
    return lab @ basis


def draw_transition_graph(ax, labels, edges, *, layout: str = "cube", seed: int = 0):
    """Attractors (labelled by their output corner) joined by the saddles between them:
    an edge per pair (rows of ``labels``), the saddle as a red ✕ at its middle.
    Returns the positions ``[A, 2]``."""
    from ..compare.topology import label_string

    labels = np.asarray(labels).reshape(len(labels), -1) if len(labels) else np.zeros((0, 1))
    edges = np.asarray(edges, dtype=int).reshape(-1, 2)
    if layout == "cube":
        pos = cube_layout(labels)
    elif layout == "spring":
        import networkx as nx

        g = nx.Graph()
        g.add_nodes_from(range(len(labels)))
        g.add_edges_from(edges.tolist())
        layout_ = nx.spring_layout(g, seed=seed)
        pos = np.array([layout_[i] for i in range(len(labels))]).reshape(-1, 2)
    else:
        raise ValueError(f"unknown layout {layout!r}; choose 'cube' or 'spring'.")
    for a, b in edges:
        if a == b:  # both branches of the saddle reach the same attractor
            ax.plot(*pos[a], "o", ms=14, mfc="none", mec="#555", gid="loop")
            continue
        ax.plot(*np.stack([pos[a], pos[b]]).T, "-", gid="edge", **_EDGE)
        ax.plot(*((pos[a] + pos[b]) / 2), "x", ms=5, color="#d62728", gid="saddle")
    ax.scatter(*pos.T, s=120, c="black", zorder=3, label="attractors")
    for (x, y), lab in zip(pos, labels, strict=True):
        ax.annotate(
            label_string(lab),
            (x, y),
            textcoords="offset points",
            xytext=(0, 8),
            ha="center",
            fontsize=7,
        )
    ax.set_aspect("equal", adjustable="datalim")
    ax.axis("off")
    return pos


def transition_graph(
    signature=None,
    *,
    fixed_points=None,
    graph=None,
    readout=None,
    layout: str = "cube",
    ax=None,
    title: str | None = None,
):
    """The flip-flop's heteroclinic graph: attractors at the corners of the cube by the
    output they produce, an edge (with the saddle, red ✕, at its middle) where an
    index-1 saddle joins two of them.

    Args:
        signature: a flip-flop ``TopologySignature``; or give ``fixed_points``,
            ``graph`` (``unstable_manifold_graph``) and ``readout`` (``(W_out, b_out)``).
        layout: ``"cube"`` (corner by label) or ``"spring"``.
    """
    if signature is None:
        if fixed_points is None or graph is None or readout is None:
            raise ValueError("pass a TopologySignature, or fixed_points, graph and readout.")
        from ..compare.topology import flipflop_signature

        signature = flipflop_signature(fixed_points, graph, readout)
    if signature.attractors is None:
        raise ValueError("this signature has no labelled attractors (not a flip-flop signature).")
    fig, ax = axes(ax, figsize=(4.2, 4))
    draw_transition_graph(ax, signature.attractors, signature.edges, layout=layout)
    ax.set_title(
        title
        or f"{len(signature.attractors)} attractors, {len(signature.edges)} saddle connections",
        fontsize=9,
    )
    fig.tight_layout()
    return fig
