"""Figure builders: data in, a matplotlib figure and the data it shows out.

Each builder returns ``(figure, data)``; ``data`` holds exactly what is drawn, so tests
check content rather than pixels. Matplotlib runs headless (Agg).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def colours(labels) -> dict:
    """A fixed colour per label, in order of first appearance."""
    return {lab: PALETTE[i % len(PALETTE)] for i, lab in enumerate(dict.fromkeys(labels))}


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
                fixed: np.ndarray, edges: np.ndarray, title: str = ""):  # fmt: skip
    """Trajectories on the probe inputs in their top-2 principal components, with fixed
    points by stability (stable ●, saddle ✕ coloured by unstable directions, slow point
    ◆ coloured by log10 q) and unstable-manifold edges (saddle → stable point)."""
    hidden = probe_states.shape[1]
    center = probe_states.mean(axis=0)
    _, _, axes = np.linalg.svd(probe_states - center, full_matrices=False)
    proj = (probe_states - center) @ axes[:2].T
    pts = (points[:, :hidden] - center) @ axes[:2].T if len(points) else np.zeros((0, 2))
    fig, ax = plt.subplots(figsize=(4.2, 4))
    ax.plot(proj[:, 0], proj[:, 1], ".", ms=1, color="#bbbbbb", alpha=0.4, rasterized=True)
    for a, b in edges:
        ax.annotate(
            "",
            xy=pts[b],
            xytext=pts[a],
            arrowprops={"arrowstyle": "->", "color": "#555", "lw": 0.8},
        )
    stable = (n_unstable == 0) & fixed
    saddle = (n_unstable > 0) & fixed
    slow = ~fixed
    ax.scatter(*pts[stable].T, s=40, c="black", label="stable", zorder=3)
    if saddle.any():
        sc = ax.scatter(*pts[saddle].T, s=40, marker="x", c=n_unstable[saddle], cmap="autumn", vmin=1,
                        vmax=max(2, int(n_unstable.max())), label="saddle", zorder=3)  # fmt: skip
        fig.colorbar(sc, ax=ax, fraction=0.04, label="unstable directions")
    if slow.any():
        ax.scatter(
            *pts[slow].T,
            s=30,
            marker="D",
            c=np.log10(q[slow]),
            cmap="viridis",
            label="slow",
            zorder=3,
        )
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.legend(frameon=False, fontsize=7, loc="best")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig, {"trajectory_pcs": proj, "point_pcs": pts, "stable": stable, "saddle": saddle, "slow": slow,
                 "edges": edges}  # fmt: skip


def eigenvalue_spectrum(eigenvalues: np.ndarray, stable: np.ndarray, title: str = ""):
    """Jacobian eigenvalues at the fixed points in the complex plane, against the unit
    circle (a map's stability boundary); stable points' eigenvalues in black."""
    fig, ax = plt.subplots(figsize=(3.8, 3.8))
    theta = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(theta), np.sin(theta), color="#999", lw=0.8)
    ev_stable = eigenvalues[stable].ravel() if len(eigenvalues) else np.zeros(0, complex)
    ev_other = eigenvalues[~stable].ravel() if len(eigenvalues) else np.zeros(0, complex)
    ax.plot(ev_other.real, ev_other.imag, ".", ms=3, color="#d62728", label="saddles / slow")
    ax.plot(ev_stable.real, ev_stable.imag, ".", ms=3, color="black", label="stable points")
    ax.set_aspect("equal")
    ax.set_xlabel("Re λ")
    ax.set_ylabel("Im λ")
    ax.legend(frameon=False, fontsize=7)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig, {"stable": ev_stable, "other": ev_other}


def time_constants(eigenvalues: np.ndarray, stable: np.ndarray, top: int = 10, title: str = ""):
    """The slowest modes at the stable points: τ = 1/|ln|λ|| in steps (log scale)."""
    fig, ax = plt.subplots(figsize=(3.8, 3))
    mags = np.abs(eigenvalues[stable]) if stable.any() else np.abs(eigenvalues)
    tau = 1.0 / np.abs(np.log(np.clip(mags[:, :top], 1e-12, None)))
    for row in tau:
        ax.plot(np.arange(1, len(row) + 1), row, "-o", ms=2, lw=0.8, color="#1f77b4", alpha=0.6)
    ax.set_yscale("log")
    ax.set_xlabel("mode (by |λ|)")
    ax.set_ylabel("τ (steps)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig, {"tau": tau}


def mds_map(embedding: np.ndarray, labels, silhouette: float | None, title: str):
    """A population embedded by MDS, coloured by architecture, with the silhouette."""
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    for lab, colour in colours(labels).items():
        mask = np.asarray(labels) == lab
        ax.scatter(*embedding[mask].T, s=14, color=colour, label=lab)
    score = "n/a" if silhouette is None else f"{silhouette:.2f}"
    ax.set_title(f"{title} (silhouette {score})", fontsize=9)
    ax.legend(frameon=False, fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    return fig, {"embedding": embedding, "labels": list(labels)}


def distance_heatmap(distances: np.ndarray, labels, title: str):
    """A distance matrix with networks grouped by architecture."""
    order = np.argsort(np.asarray(labels), kind="stable")
    fig, ax = plt.subplots(figsize=(4, 3.6))
    im = ax.imshow(distances[np.ix_(order, order)], cmap="magma", interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    return fig, {"order": order}


def transition_graph(points_labels: list[tuple], edges: np.ndarray, stable: np.ndarray, title: str):
    """A flip-flop's unstable-manifold graph: saddles (small) joining the stable points,
    each labelled by the output corner it produces."""
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(points_labels)))
    graph.add_edges_from(edges.tolist())
    fig, ax = plt.subplots(figsize=(4.2, 4))
    pos = nx.spring_layout(graph, seed=0)
    nx.draw_networkx_nodes(
        graph, pos, nodelist=list(np.flatnonzero(stable)), node_color="black", node_size=120, ax=ax
    )
    nx.draw_networkx_nodes(
        graph,
        pos,
        nodelist=list(np.flatnonzero(~stable)),
        node_color="#d62728",
        node_size=25,
        ax=ax,
    )
    nx.draw_networkx_edges(graph, pos, ax=ax, arrows=True, width=0.8, edge_color="#555")
    labels = {i: "".join("+" if v > 0 else ("-" if v < 0 else "0") for v in points_labels[i])
              for i in np.flatnonzero(stable)}  # fmt: skip
    nx.draw_networkx_labels(
        graph, {k: (x, y + 0.09) for k, (x, y) in pos.items()}, labels, font_size=7, ax=ax
    )
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    fig.tight_layout()
    return fig, {
        "nodes": graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
        "labels": labels,
    }


def frequency_match(target: np.ndarray, predicted: np.ndarray, architecture: list[str]):
    """Sine task: the frequency each fixed point's linearization predicts, against the
    cued frequency (diagonal: perfect)."""
    fig, ax = plt.subplots(figsize=(4, 3.8))
    lim = [0, float(np.nanmax(target)) * 1.15]
    ax.plot(lim, lim, color="#999", lw=0.8)
    for arch, colour in colours(architecture).items():
        rows = [i for i, a in enumerate(architecture) if a == arch]
        ax.plot(target[rows].ravel(), predicted[rows].ravel(), "o", ms=4, color=colour, label=arch)
    ax.set_xlabel("target ω (rad/step)")
    ax.set_ylabel("linearized ω (rad/step)")
    ax.legend(frameon=False, fontsize=7)
    ax.set_title("Linearized vs target frequency", fontsize=9)
    fig.tight_layout()
    return fig, {"target": target, "predicted": predicted}


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
