"""Figures of a population: MDS map and labelled heatmap of a distance matrix, the
verdict table, fixed points and saddles per architecture, mode-ablation curves.

Public functions take a distance matrix with its network table (a ``DataFrame`` with
``architecture``, ``activation``, ``hidden_size``, rows in the matrix's order) or
rnnscope results, an optional ``ax``, and return the figure. Colours follow the
architecture everywhere (:data:`rnnscope.plot.ARCHITECTURE_COLOURS`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._style import axes, colours, marker, numpy

_NOUN = {
    "architecture": "architecture",
    "activation": "activation",
    "architecture+activation": "architecture × activation",
}


def _is_study(obj) -> bool:
    return hasattr(obj, "distances") and hasattr(obj, "networks") and hasattr(obj, "verdict")


def _from_study(study, metric) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """A study's distance matrix ``metric``, its network table in the matrix's order,
    and its stored embedding."""
    if not isinstance(metric, str):
        raise TypeError(
            f"with a study, the second argument names a distance matrix (e.g. 'svcca'), got {type(metric).__name__}."
        )
    frame = study.distances(metric)
    table = study.networks.set_index("network").loc[frame.index].reset_index()
    embedding = study.embedding(metric)[["x", "y"]].to_numpy()
    return frame.to_numpy(), table, embedding


def _table(networks) -> pd.DataFrame:
    if isinstance(networks, pd.DataFrame):
        if "architecture" not in networks:
            raise ValueError("the network table needs an 'architecture' column.")
        out = networks.reset_index(drop=True).copy()
    else:
        out = pd.DataFrame({"architecture": [str(v) for v in networks]})
    if "activation" not in out:
        out["activation"] = None
    return out


def draw_mds(ax, embedding, architectures, activations=None):
    """Points ``[N, 2]`` coloured by architecture, marked by activation; one legend
    entry per (architecture, activation) drawn."""
    embedding = np.asarray(embedding)
    architectures = np.asarray(architectures, dtype=object)
    activations = (
        np.full(len(architectures), None, dtype=object)
        if activations is None
        else np.asarray(activations, dtype=object)
    )
    cmap = colours(architectures)
    acts = [None if a is None or a != a else str(a) for a in activations]
    for arch in cmap:
        for act in dict.fromkeys(a for a, r in zip(acts, architectures, strict=True) if r == arch):
            mask = (architectures == arch) & np.array([a == act for a in acts])
            label = arch if act is None else f"{arch} ({act})"
            ax.scatter(*embedding[mask].T, s=14, color=cmap[arch], marker=marker(act), label=label)
    ax.legend(frameon=False, fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])


def mds_map(
    distances,
    networks="svcca",
    *,
    by: str = "architecture",
    embedding=None,
    ax=None,
    title: str = "MDS",
    seed: int = 0,
):
    """A population embedded by MDS (on ``distances [N, N]``), coloured by architecture
    and marked by activation, titled with the silhouette **on the distances** by ``by``
    (``"architecture"``, ``"activation"`` or ``"architecture+activation"``).

    Args:
        distances: ``[N, N]``, or a study (``rnnscope.study.load``): then ``networks``
            names its distance matrix (default ``"svcca"``) and its stored embedding is
            drawn.
        networks: the network table (or a list of architecture names).
        embedding: precomputed ``[N, 2]`` coordinates (default: ``compare.mds``).
    """
    from ..compare.embedding import mds, silhouette
    from ..compare.verdict import group_labels

    if _is_study(distances):
        title = f"{networks}: MDS" if title == "MDS" else title
        distances, networks, stored = _from_study(distances, networks)
        embedding = stored if embedding is None else embedding
    d = numpy(distances).astype(np.float64)
    table = _table(networks)
    if len(table) != len(d):
        raise ValueError(f"{len(table)} networks for a {len(d)}×{len(d)} distance matrix.")
    emb = mds(d, seed=seed) if embedding is None else np.asarray(embedding)
    labels = group_labels(table, by)
    keep = labels.notna().to_numpy()
    idx = np.flatnonzero(keep)
    groups = labels[keep].nunique()
    score = (
        silhouette(d[np.ix_(idx, idx)], labels[keep].to_numpy()) if 2 <= groups < len(idx) else None
    )
    fig, ax = axes(ax, figsize=(4.2, 3.8))
    draw_mds(ax, emb, table["architecture"].to_numpy(), table["activation"].to_numpy())
    text = "n/a" if score is None else f"{score:.2f}"
    ax.set_title(f"{title} (silhouette by {_NOUN[by]}: {text})", fontsize=9)
    fig.tight_layout()
    return fig


def draw_heatmap(ax, distances, architectures, order=None):
    """The matrix with rows/columns in ``order``, a coloured band per architecture on
    the left and top, named at its middle. Returns the order."""
    from matplotlib.patches import Rectangle

    architectures = np.asarray(architectures, dtype=object)
    if order is None:
        order = np.argsort(architectures.astype(str), kind="stable")
    d = np.asarray(distances)[np.ix_(order, order)]
    im = ax.imshow(d, cmap="magma", interpolation="nearest", extent=(0, len(d), len(d), 0))
    ax.figure.colorbar(im, ax=ax, fraction=0.046)
    cmap = colours(architectures[order])
    width = max(1.0, 0.03 * len(d))
    ticks, names = [], []
    sorted_arch = architectures[order]
    start = 0
    for k in range(1, len(d) + 1):
        if k == len(d) or sorted_arch[k] != sorted_arch[start]:
            arch = sorted_arch[start]
            for rect in (
                Rectangle(
                    (-width, start), width, k - start, color=cmap[arch], clip_on=False, gid="band"
                ),
                Rectangle(
                    (start, -width), k - start, width, color=cmap[arch], clip_on=False, gid="band"
                ),
            ):
                ax.add_patch(rect)
            if k < len(d):
                ax.axhline(k, color="white", lw=0.6)
                ax.axvline(k, color="white", lw=0.6)
            ticks.append((start + k) / 2)
            names.append(str(arch))
            start = k
    ax.set_xlim(-width, len(d))
    ax.set_ylim(len(d), -width)
    ax.set_yticks(ticks, names, fontsize=7)
    ax.set_xticks(ticks, names, fontsize=7, rotation=45, ha="left")
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    return order


def distance_heatmap(distances, networks="svcca", *, ax=None, title: str = "distances"):
    """A distance matrix with networks grouped by architecture (then hidden size, then
    activation), with a coloured, named band per architecture. ``distances`` may be a
    study, ``networks`` then naming its matrix (default ``"svcca"``)."""
    if _is_study(distances):
        title = f"{networks} distances" if title == "distances" else title
        distances, networks, _ = _from_study(distances, networks)
    d = numpy(distances).astype(np.float64)
    table = _table(networks)
    if len(table) != len(d):
        raise ValueError(f"{len(table)} networks for a {len(d)}×{len(d)} distance matrix.")
    keys = [c for c in ("architecture", "hidden_size", "activation") if c in table]
    order = (
        table.assign(activation=table["activation"].astype(str))
        .sort_values(keys, kind="stable")
        .index.to_numpy()
    )
    fig, ax = axes(ax, figsize=(4.4, 4))
    draw_heatmap(ax, d, table["architecture"].to_numpy(), order)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def verdict_table(
    table: pd.DataFrame,
    *,
    grouping: str = "architecture",
    subset: str = "all",
    ax=None,
    title: str | None = None,
):
    """The verdict (``compare.verdict_table``, or a study: its stored verdict) for one
    grouping and subset as a table: a row per metric with silhouette, its p-value, k-NN
    decoding, chance, its p-value and the verdict (cells of metrics that separate
    shaded green)."""
    if _is_study(table):
        verdict = table.verdict()
        if verdict is None:
            raise ValueError("the study has no verdict yet: run its compare stage first.")
        table = verdict
    rows = table[(table["grouping"] == grouping) & (table["subset"] == subset)]
    if rows.empty:
        raise ValueError(
            f"the verdict table has no rows for grouping {grouping!r}, subset {subset!r}."
        )
    k = int(rows["k"].iloc[0])
    header = ["metric", "silhouette", "p", f"{k}-NN", "chance", "p", "verdict"]
    cells = [
        [
            r.metric,
            f"{r.silhouette:.2f}",
            f"{r.p_silhouette:.3f}",
            f"{r.knn_accuracy:.2f}",
            f"{r.chance:.2f}",
            f"{r.p_knn:.3f}",
            r.verdict,
        ]
        for r in rows.itertuples()
    ]
    shade = {"separates": "#d8f0d8", "partly": "#fff2cc"}
    fig, ax = axes(ax, figsize=(6.4, 0.45 * (len(cells) + 2)))
    ax.axis("off")
    tab = ax.table(
        cellText=cells,
        colLabels=header,
        loc="center",
        cellLoc="center",
        cellColours=[[shade.get(c[-1], "white")] * len(header) for c in cells],
    )
    tab.auto_set_font_size(False)
    tab.set_fontsize(8)
    tab.auto_set_column_width(list(range(len(header))))
    tab.scale(1, 1.3)
    where = "all networks" if subset == "all" else subset.replace("_", " ")
    ax.set_title(
        title
        or f"Verdict by {_NOUN[grouping]} ({where}, {int(rows['permutations'].iloc[0])} permutations)",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def fixed_point_counts(counts: pd.DataFrame, *, ax=None, title: str | None = None):
    """Per architecture, the distribution over networks of stable points (●) and
    index-1 saddles (✕): one jittered dot per network, a bar at the median.

    Args:
        counts: one row per network with ``architecture``, ``n_stable`` and
            ``n_saddles`` (e.g. index-1 saddles of each network's signature), or a
            study: its analysed networks' ``n_stable`` and ``n_index1``.
    """
    if _is_study(counts):
        frame = counts.networks
        frame = frame[frame["analyzed"].astype(bool)]
        counts = frame.assign(n_saddles=frame["n_index1"])
    missing = {"architecture", "n_stable", "n_saddles"} - set(counts)
    if missing:
        raise ValueError(f"counts lacks column(s) {sorted(missing)}.")
    fig, ax = axes(ax, figsize=(4.8, 3.2))
    archs = list(dict.fromkeys(counts["architecture"]))
    cmap = colours(archs)
    rng = np.random.default_rng(0)
    for i, arch in enumerate(archs):
        rows = counts[counts["architecture"] == arch]
        for shift, column, mark, name in (
            (-0.18, "n_stable", "o", "stable"),
            (0.18, "n_saddles", "x", "index-1 saddles"),
        ):
            y = rows[column].to_numpy(dtype=float)
            x = i + shift + rng.uniform(-0.08, 0.08, len(y))
            ax.scatter(
                x,
                y,
                s=12,
                marker=mark,
                color=cmap[arch],
                alpha=0.8,
                gid=column,
                label=name if i == 0 else None,
            )
            ax.plot([i + shift - 0.12, i + shift + 0.12], [np.median(y)] * 2, color="black", lw=1.5)
    ax.set_xticks(range(len(archs)), archs)
    ax.set_ylabel("per network")
    ax.legend(frameon=False, fontsize=7)
    ax.set_title(title or "Fixed points and saddles per architecture", fontsize=9)
    fig.tight_layout()
    return fig


def ablation_curves(curves, networks, *, ax=None, title: str | None = None):
    """Mode-ablation curves (``TopologySignature.ablation``, averaged over contexts),
    median per architecture with the quartiles shaded.

    Args:
        curves: ``[N, 1 + modes]``, or ``N`` context signatures.
        networks: the network table (or architecture names), one row per curve.
    """
    if len(curves) and hasattr(curves[0], "ablation"):
        curves = np.stack([np.nanmean(np.asarray(s.ablation, dtype=float), axis=0) for s in curves])
    curves = np.asarray(curves, dtype=float)
    table = _table(networks)
    if len(table) != len(curves):
        raise ValueError(f"{len(table)} networks for {len(curves)} curves.")
    fig, ax = axes(ax, figsize=(4.2, 3.2))
    modes = np.arange(curves.shape[1])
    for arch, colour in colours(table["architecture"]).items():
        mine = curves[(table["architecture"] == arch).to_numpy()]
        lo, mid, hi = np.nanpercentile(mine, [25, 50, 75], axis=0)
        ax.plot(modes, mid, "-o", ms=3, color=colour, label=f"{arch} ({len(mine)})")
        ax.fill_between(modes, lo, hi, color=colour, alpha=0.2, linewidth=0)
    ax.set_xlabel("slowest modes removed")
    ax.set_ylabel("linearized output / full")
    ax.set_xticks(modes)
    ax.legend(frameon=False, fontsize=7)
    ax.set_title(title or "Mode ablation", fontsize=9)
    fig.tight_layout()
    return fig
