"""Figure builders: data in, a matplotlib figure and the data it shows out. The
drawing is ``rnnscope.plot``'s (the same figures as in notebooks).

Each builder returns ``(figure, data)``; ``data`` holds exactly what is drawn, so tests
check content rather than pixels. Matplotlib runs headless (Agg).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np

from ..plot._style import PALETTE, colours  # noqa: F401  (one colour per architecture everywhere)
from ..plot.dynamics import (
    draw_eigenvalues,
    draw_state_space,
    draw_time_constants,
    draw_transition_graph,
    principal_axes,
)
from ..plot.population import draw_heatmap, draw_mds


def loss_curves(histories: dict[int, dict[str, np.ndarray]], architecture: dict[int, str]):
    """Median training loss per architecture against step (log scale), with the spread
    between networks (quartiles) shaded."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    data = {}
    for arch, colour in colours(architecture.values()).items():
        nets = [n for n, a in architecture.items() if a == arch and n in histories]
        if not nets:
            continue
        steps = np.unique(np.concatenate([histories[n]["step"] for n in nets]))
        curves = np.full((len(nets), len(steps)), np.nan)
        for i, n in enumerate(nets):
            idx = np.searchsorted(steps, histories[n]["step"])
            curves[i, idx] = histories[n]["loss"]
        median = np.nanmedian(curves, axis=0)
        lo, hi = np.nanpercentile(curves, [25, 75], axis=0)
        ax.plot(steps, median, color=colour, label=f"{arch} ({len(nets)})")
        ax.fill_between(steps, lo, hi, color=colour, alpha=0.2, linewidth=0)
        data[arch] = {"step": steps, "median_loss": median}
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss (MSE + L2)")
    ax.legend(frameon=False, fontsize=8)
    ax.set_title("Training loss by architecture")
    fig.tight_layout()
    return fig, data


def state_space(probe_states: np.ndarray, points: np.ndarray, n_unstable: np.ndarray, q: np.ndarray,
                fixed: np.ndarray, edges: np.ndarray, title: str = "", dims: int = 2):  # fmt: skip
    """Trajectories on the probe inputs in their top ``dims`` (2 or 3) principal
    components, with fixed points by stability (stable ●, saddle ✕ coloured by unstable
    directions, slow point ◆ coloured by log10 q) and unstable-manifold edges (saddle →
    stable point); drawn by ``rnnscope.plot``."""
    hidden = probe_states.shape[1]
    center, axes, explained = principal_axes(probe_states, dims)
    proj = (probe_states - center) @ axes.T
    pts = (points[:, :hidden] - center) @ axes.T if len(points) else np.zeros((0, dims))
    fig = plt.figure(figsize=(4.2, 4))
    ax = fig.add_subplot(projection="3d" if dims == 3 else None)
    stable = (n_unstable == 0) & fixed
    saddle = (n_unstable > 0) & fixed
    slow = ~fixed
    draw_state_space(ax, proj, pts, stable, saddle, slow, n_unstable, q, edges, explained)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig, {"trajectory_pcs": proj, "point_pcs": pts, "stable": stable, "saddle": saddle, "slow": slow,
                 "edges": edges}  # fmt: skip


def eigenvalue_spectrum(eigenvalues: np.ndarray, stable: np.ndarray, title: str = ""):
    """Jacobian eigenvalues at the fixed points in the complex plane, against the unit
    circle (a map's stability boundary); stable points' eigenvalues in black."""
    fig, ax = plt.subplots(figsize=(3.8, 3.8))
    ev_stable, ev_other = draw_eigenvalues(ax, eigenvalues, stable)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig, {"stable": ev_stable, "other": ev_other}


def time_constants(eigenvalues: np.ndarray, stable: np.ndarray, top: int = 10, title: str = ""):
    """The slowest modes at the stable points: τ = 1/|ln|λ|| in steps (log scale)."""
    fig, ax = plt.subplots(figsize=(3.8, 3))
    tau = draw_time_constants(ax, eigenvalues, stable, top)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig, {"tau": tau}


def _split_group(label: str) -> tuple[str, str | None]:
    """``"vanilla-relu"`` → ``("vanilla", "relu")`` (the report's group labels)."""
    arch, _, act = str(label).partition("-")
    return arch, (act or None)


def mds_map(embedding: np.ndarray, labels, silhouette: float | None, title: str):
    """A population embedded by MDS, coloured by architecture (marked by activation when
    the labels carry one, e.g. ``vanilla-relu``), titled with the silhouette by
    architecture computed on the distances."""
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    parts = [_split_group(lab) for lab in labels]
    draw_mds(ax, embedding, [a for a, _ in parts], [v for _, v in parts])
    score = "n/a" if silhouette is None else f"{silhouette:.2f}"
    ax.set_title(f"{title} (silhouette by architecture: {score})", fontsize=9)
    fig.tight_layout()
    return fig, {"embedding": embedding, "labels": list(labels)}


def distance_heatmap(distances: np.ndarray, labels, title: str):
    """A distance matrix with networks grouped by label, a named colour band per group."""
    order = np.argsort(np.asarray(labels), kind="stable")
    fig, ax = plt.subplots(figsize=(4.4, 4))
    draw_heatmap(ax, distances, np.asarray(labels, dtype=object), order)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig, {"order": order}


def transition_graph(points_labels: list[tuple], edges: np.ndarray, stable: np.ndarray, title: str):
    """A flip-flop's unstable-manifold graph laid out as the cube: each stable point at
    the corner of the output it produces, an edge (saddle ✕ at its middle) where a
    saddle's unstable directions lead to two of them (or a ring where both reach one).
    ``edges`` are saddle → stable pairs over the rows of ``points_labels``."""
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(points_labels)))
    graph.add_edges_from(np.asarray(edges, dtype=int).reshape(-1, 2).tolist())
    corners = np.flatnonzero(stable)
    row = {int(p): k for k, p in enumerate(corners)}
    joined = set()
    for s in np.flatnonzero(~np.asarray(stable, dtype=bool)):
        ends = sorted({row[t] for t in graph.successors(int(s)) if t in row})
        if len(ends) in (1, 2):
            joined.add((ends[0], ends[-1]))
    fig, ax = plt.subplots(figsize=(4.2, 4))
    width = len(points_labels[0]) if len(points_labels) else 1
    attractors = np.array([points_labels[i] for i in corners]).reshape(len(corners), width)
    draw_transition_graph(ax, attractors, np.array(sorted(joined)).reshape(-1, 2))
    labels = {i: "".join("+" if v > 0 else ("-" if v < 0 else "0") for v in points_labels[i])
              for i in corners}  # fmt: skip
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig, {
        "nodes": graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
        "labels": labels,
    }


def frequency_match(
    target: np.ndarray, own: np.ndarray, predicted: np.ndarray, architecture: list[str]
):
    """Sine task, ``[networks, cues]`` arrays in rad/step: the network's own
    oscillation against the cued frequency, and the frequency the linearization at the
    orbited fixed point predicts against the network's own (diagonals: perfect)."""
    fig, axes = plt.subplots(1, 2, figsize=(7.6, 3.6))
    finite = np.concatenate([a[np.isfinite(a)] for a in (target, own, predicted)])
    lim = [0, float(finite.max()) * 1.15 if finite.size else 1.0]
    for ax in axes:
        ax.plot(lim, lim, color="#999", lw=0.8)
        ax.set_xlim(lim), ax.set_ylim(lim)
    for arch, colour in colours(architecture).items():
        rows = [i for i, a in enumerate(architecture) if a == arch]
        axes[0].plot(target[rows].ravel(), own[rows].ravel(), "o", ms=4, color=colour, label=arch)
        axes[1].plot(own[rows].ravel(), predicted[rows].ravel(), "o", ms=4, color=colour)
    axes[0].set(xlabel="target ω (rad/step)", ylabel="own oscillation ω (rad/step)")
    axes[0].set_title("The network's oscillation vs the cue", fontsize=9)
    axes[1].set(xlabel="own oscillation ω (rad/step)", ylabel="linearized ω (rad/step)")
    axes[1].set_title("Linearization at the orbited point vs own", fontsize=9)
    axes[0].legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return fig, {"target": target, "own": own, "predicted": predicted}


def context_lines(near_one: np.ndarray, alignment: np.ndarray, architecture: list[str]):
    """Context task: per network and context, eigenvalues near 1 at the fixed points and
    alignment of their first principal axis with the readout."""
    fig, axes = plt.subplots(1, 2, figsize=(7, 3))
    cmap = colours(architecture)
    for i, arch in enumerate(architecture):
        for ctx in range(near_one.shape[1]):
            axes[0].plot(ctx + 0.1 * (i % 5), near_one[i, ctx], "o", color=cmap[arch])
            axes[1].plot(ctx + 0.1 * (i % 5), alignment[i, ctx], "o", color=cmap[arch])
    for ax, label in zip(axes, ("eigenvalues near 1 (median)", "|cos| with readout"), strict=True):
        ax.set_xticks(range(near_one.shape[1]))
        ax.set_xticklabels([f"context {c + 1}" for c in range(near_one.shape[1])])
        ax.set_ylabel(label)
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=a) for a, c in cmap.items()]
    axes[1].legend(handles=handles, frameon=False, fontsize=7)
    fig.suptitle("Line attractor per context", fontsize=9)
    fig.tight_layout()
    return fig, {"near_one": near_one, "alignment": alignment}


def status_bars(frame):
    """Networks per architecture by training status (solved / unsolved / diverged)."""
    table = frame.groupby(["architecture", "status"]).size().unstack(fill_value=0)
    fig, ax = plt.subplots(figsize=(4.5, 2.6))
    bottom = np.zeros(len(table))
    colours_ = {"solved": "#2ca02c", "unsolved": "#ff7f0e", "diverged": "#d62728"}
    for status in [s for s in ("solved", "unsolved", "diverged") if s in table]:
        ax.bar(table.index, table[status], bottom=bottom, color=colours_[status], label=status)
        bottom += table[status].to_numpy()
    ax.set_ylabel("networks")
    ax.legend(frameon=False, fontsize=7)
    ax.set_title("Training outcome by architecture", fontsize=9)
    fig.tight_layout()
    return fig, {"counts": table}


def stable_vs_accuracy(frame):
    """Per network: stable fixed points against accuracy, by architecture."""
    fig, ax = plt.subplots(figsize=(4.5, 3))
    for arch, colour in colours(frame["architecture"]).items():
        rows = frame[frame["architecture"] == arch]
        ax.plot(rows["accuracy"], rows["n_stable"], "o", ms=4, color=colour, label=arch, alpha=0.8)
    ax.set_xlabel("accuracy")
    ax.set_ylabel("stable fixed points")
    ax.legend(frameon=False, fontsize=7)
    ax.set_title("Stable points per network", fontsize=9)
    fig.tight_layout()
    return fig, {"accuracy": frame["accuracy"].to_numpy(), "n_stable": frame["n_stable"].to_numpy()}


def valence_drive(valence: dict[str, np.ndarray], labels: np.ndarray, titles: dict | None = None):
    """Sentiment: each word's drive on the line attractor's top mode, ``ℓ₁ᵀ J_inp x``
    signed so that positive moves the readout up, averaged over the fixed points; one
    panel per architecture's representative network, words grouped by their
    bag-of-words valence."""
    archs = list(valence)
    fig, axes = plt.subplots(
        1, max(1, len(archs)), figsize=(2.6 * max(1, len(archs)), 2.8), squeeze=False
    )
    groups = ((1, "positive", "#2ca02c"), (0, "neutral", "#7f7f7f"), (-1, "negative", "#d62728"))
    data = {}
    for ax, arch in zip(axes[0], archs, strict=False):
        drive = valence[arch].mean(axis=0) if valence[arch].size else np.zeros(len(labels))
        data[arch] = drive
        for k, (value, _name, colour) in enumerate(groups):
            pick = drive[labels == value]
            jitter = np.linspace(-0.25, 0.25, len(pick)) if len(pick) > 1 else np.zeros(len(pick))
            ax.plot(k + jitter, pick, "o", ms=3, color=colour, alpha=0.7)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xticks(range(3))
        ax.set_xticklabels([g[1] for g in groups], fontsize=7)
        ax.set_title((titles or {}).get(arch, arch), fontsize=8)
    axes[0][0].set_ylabel("drive on the line, ℓ₁ᵀ J_inp x")
    fig.suptitle(
        "Drive of the valence words on the top mode (positive: up the readout)", fontsize=9
    )
    fig.tight_layout()
    return fig, data


def modifier_gain(
    gains: dict[str, np.ndarray],
    words: dict[str, np.ndarray],
    displacement: dict[str, np.ndarray] | None = None,
):
    """Sentiment: how modifier words change the valence words' effect on the readout.
    Top row, per architecture's representative network: the gain (modified over plain
    effect of a valence word, median over words and fixed points) against the gap
    between modifier and word (1: no effect; −1: flipped; 2: doubled). Bottom row: the
    size of the transient each modifier excites, per step after it."""
    archs = list(gains)
    rows = 2 if displacement else 1
    fig, axes = plt.subplots(
        rows, max(1, len(archs)), figsize=(2.6 * max(1, len(archs)), 2.4 * rows), squeeze=False
    )
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for col, arch in enumerate(archs):
        ax = axes[0][col]
        for k, word in enumerate(words[arch]):
            g = gains[arch][k]
            ax.plot(range(len(g)), g, "o-", ms=3, color=colours[k % len(colours)], label=str(word))
        for level in (-1, 1, 2):
            ax.axhline(level, color="#999", lw=0.5, ls=":" if level != 1 else "-")
        ax.set_xlabel("tokens between modifier and word", fontsize=7)
        ax.set_title(arch, fontsize=8)
        if displacement:
            ax2 = axes[1][col]
            for k in range(len(words[arch])):
                d = displacement[arch][k]
                ax2.semilogy(range(len(d)), np.maximum(d, 1e-12), color=colours[k % len(colours)])
            ax2.set_xlabel("tokens after the modifier", fontsize=7)
    axes[0][0].set_ylabel("gain on the next word")
    axes[0][0].legend(frameon=False, fontsize=7)
    if displacement:
        axes[1][0].set_ylabel("‖transient‖ (median)")
    fig.suptitle("Modifier words: gain on the valence word that follows", fontsize=9)
    fig.tight_layout()
    return fig, {a: gains[a] for a in archs}


def class_attractor(panels: dict[str, tuple], classes: int):
    """A ``C``-class text task: each representative network's zero-input fixed points,
    coloured by the class its readout gives each point, over the states it visits on the
    probe texts (grey), in the top two principal components of those states.
    ``panels``: architecture → (points ``[M, H]``, class ``[M]``, visited ``[K, H]``)."""
    archs = list(panels)
    fig, axes = plt.subplots(
        1, max(1, len(archs)), figsize=(max(4.2, 2.6 * len(archs)), 2.8), squeeze=False
    )
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    data = {}
    for ax, arch in zip(axes[0], archs, strict=False):
        points, label, visited = panels[arch]
        mean = visited.mean(axis=0)
        _, _, axes_ = np.linalg.svd(visited - mean, full_matrices=False)
        xy = (points - mean) @ axes_[:2].T
        cloud = (visited - mean) @ axes_[:2].T
        ax.plot(cloud[:, 0], cloud[:, 1], ".", ms=1, color="#bbbbbb", alpha=0.3, zorder=0)
        data[arch] = xy
        for c in range(classes):
            pick = label == c
            ax.plot(xy[pick, 0], xy[pick, 1], "o", ms=3, color=colours[c % len(colours)],
                    label=f"class {c}")  # fmt: skip
        ax.set_title(arch, fontsize=8)
        ax.set_xlabel("PC1", fontsize=7)
        ax.set_ylabel("PC2", fontsize=7)
    axes[0][0].legend(frameon=False, fontsize=6)
    fig.suptitle(
        f"Fixed points of a {classes}-class integrator over its visited states (grey)",
        fontsize=9,
    )
    fig.tight_layout()
    return fig, data
