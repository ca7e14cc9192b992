"""Figures and tables of a finished universality study, for docs/universality.md.

    python examples/universality_figures.py universality [docs/universality]

Writes PNGs (MDS maps, heatmaps, the verdict table, fixed points per architecture) into
the output folder and prints the verdict table and per-architecture counts as Markdown.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")

import rnnscope as rs


def markdown(frame, index: bool = False) -> str:
    """A DataFrame as a Markdown table (floats to 3 decimals)."""
    frame = frame.reset_index() if index else frame
    cell = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join(lines)


def full_cube(study, network: int) -> bool:
    """Whether a network's scaffold is the whole 3-bit cube: 8 attractors with distinct
    output corners, and index-1 saddles joining every pair of neighbouring corners."""
    arrays = study.analysis(network, ("topology_attractors", "topology_edges"))
    corners = arrays.get("topology_attractors")
    edges = arrays.get("topology_edges")
    if corners is None or edges is None or len(corners) != 8:
        return False
    labels = [tuple(int(v) for v in c) for c in corners]
    if len(set(labels)) != 8 or any(0 in c for c in labels):
        return False
    joined = {
        frozenset((labels[i], labels[j]))
        for i, j in np.asarray(edges).reshape(-1, 2)
        if sum(a != b for a, b in zip(labels[i], labels[j], strict=True)) == 1
    }
    return len(joined) == 12


def main(study_dir: str, out: str = "docs/universality") -> None:
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    with rs.study.load(study_dir) as study:
        metrics = [m for m in ("svcca", "topology", "linear_dynamics") if m in study.comparisons]
        for m in metrics:
            rs.plot.mds_map(study, m).savefig(folder / f"mds_{m}.png", dpi=120)
            rs.plot.distance_heatmap(study, m).savefig(folder / f"heatmap_{m}.png", dpi=72)
        rs.plot.verdict_table(study).savefig(folder / "verdict.png", dpi=120)
        rs.plot.fixed_point_counts(study).savefig(folder / "fixed_points.png", dpi=120)
        verdict = study.verdict()
        columns = [
            "metric",
            "grouping",
            "subset",
            "silhouette",
            "p_silhouette",
            "knn_accuracy",
            "chance",
            "p_knn",
            "verdict",
        ]
        print(markdown(verdict[columns]))
        frame = study.networks
        table = frame.groupby("architecture").agg(
            networks=("network", "size"),
            solved=("status", lambda s: int((s == "solved").sum())),
            stable_median=("n_stable", "median"),
            index1_median=("n_index1", "median"),
        )
        full = (frame["n_stable"] == 8) & (frame["n_index1"] == 12)
        table["all_8_and_12"] = full.groupby(frame["architecture"]).mean().round(3)
        cube = frame["network"].map(
            lambda n: (
                bool(frame.set_index("network").loc[n, "analyzed"]) and full_cube(study, int(n))
            )
        )
        table["cube_graph"] = cube.groupby(frame["architecture"]).mean().round(3)
        solved = frame["status"] == "solved"
        table["cube_graph_solved"] = (
            cube[solved].groupby(frame["architecture"][solved]).mean().round(3)
        )
        print()
        print(markdown(table, index=True))
        print()
        print(
            markdown(
                frame.groupby("architecture")["memory"].value_counts().unstack(fill_value=0),
                index=True,
            )
        )
        print("\ncompare stage:", study.stage("compare").get("svcca_keep"))


if __name__ == "__main__":
    main(*sys.argv[1:])
