"""A study's summary: a few tables and lines, plain (for logs and ``summary.txt``)
or as rich tables that fit the terminal.

Plain text is never wrapped: a wide table stays one line per row. On a terminal, a
table wider than the screen is shown transposed (one row per column).
"""

from __future__ import annotations

import numpy as np

from ..train.result import architecture_summary
from .families import family_of
from .store import StoreError


def task_label(spec) -> str:
    """The task with its whole configuration, e.g. ``FlipFlop(bits=3, steps=100, …)``."""
    from ..tasks import TASKS

    options = ", ".join(f"{k}={v!r}" for k, v in spec.task.full_options().items())
    return f"{TASKS[spec.task.name].__name__}({options})"


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "–"
    if isinstance(v, float | np.floating):
        return f"{v:.3g}"
    return str(v)


def summary_parts(store) -> list[tuple[str, object]]:
    """The summary as ``("line", text)`` and ``("table", (title, DataFrame))`` parts."""
    from .read import Study

    study = Study(store.root)
    try:
        spec, frame = study.spec, study.networks
        g = spec.grid
        parts: list[tuple[str, object]] = [
            ("line", f"study {spec.name!r}: {task_label(spec)}"),
            ("line", f"grid: {', '.join(g.architectures)} × hidden {g.hidden_sizes} × activations {g.activations} × "
                     f"lr {g.learning_rates} × L2 {g.l2}"
                     + (f" × clip {g.grad_clips}" if g.grad_clips else "")
                     + (f" × embedding {g.embedding_sizes}" if g.embedding_sizes else "")
                     + (f", a random search of {g.search} configurations per architecture (seed {g.search_seed})"
                        if g.search else "")
                     + f" × {g.seeds} seeds = {len(frame)} networks"),
        ]  # fmt: skip
        if not frame["trained"].any():
            return [*parts, ("line", "nothing trained yet.")]
        trained = frame[frame["trained"]]
        table = architecture_summary(
            trained,
            median_fixed=("n_fixed", "median"),
            median_stable=("n_stable", "median"),
            median_index1=("n_index1", "median"),
        ).set_index("architecture")
        parts.append(("table", ("per architecture", table)))
        live = frame[frame["status"] != "diverged"]
        if live.empty:
            parts.append(("line", f"every network diverged ({len(frame)} of {len(frame)}): nothing to analyze or compare; "
                                  "lower grid.learning_rates or set train.grad_clip."))  # fmt: skip
            return parts
        analyzed = frame[frame["analyzed"]].reset_index(drop=True)
        if analyzed["memory"].notna().any():
            held = analyzed.groupby("architecture", sort=False)["memory"].value_counts()
            lines = [f"  {arch}: " + ", ".join(f"{m} {n}" for (_, m), n in rows.items())
                     for arch, rows in held.groupby(level=0, sort=False)]  # fmt: skip
            parts.append(
                (
                    "line",
                    "what holds the memories (networks per architecture):\n" + "\n".join(lines),
                )
            )
            odd = analyzed[
                (analyzed["status"] == "solved") & (analyzed["memory"] != "fixed points")
            ]
            if len(odd):
                parts.append(("line", f"solved without stable fixed points: networks {', '.join(map(str, odd['network']))} "
                                      f"({', '.join(odd['memory'])})"))  # fmt: skip
        if len(analyzed):
            per_network = []
            for n in analyzed["network"]:
                try:
                    per_network.append(study.analysis(int(n), _readout_keys(study)))
                except StoreError:  # damaged since it was analysed: the next analyze redoes it
                    analyzed = analyzed[analyzed["network"] != n]
            analyzed = analyzed.reset_index(drop=True)
            lines = family_of(spec.task.name).readout_lines(spec, analyzed, per_network)
            if lines:
                parts.append(("line", "\n".join(lines)))
        baseline = study.baseline()
        if baseline is not None:
            parts.append(
                (
                    "line",
                    f"bag-of-words baseline: test accuracy {float(baseline['test_accuracy']):.4f}",
                )
            )
        info = study.stage("compare")
        if info and info.get("skipped"):
            parts.append(("line", f"compare: skipped ({info['skipped']})"))
        elif info:
            scores = ", ".join(
                f"{name} {_fmt(s)}" for name, s in info["silhouette_by_architecture"].items()
            )
            parts.append(("line", f"silhouette by architecture: {scores}"))
            parts += _verdict_parts(study, info)
        return parts
    finally:
        study.close()


def _verdict_parts(study, info) -> list[tuple[str, object]]:
    """The verdict over all networks as a table, and its sentences."""
    verdict = study.verdict()
    if verdict is None:
        return []
    overall = verdict[(verdict["subset"] == "all") & (verdict["verdict"] != "undefined")]
    values = ["silhouette", "p_silhouette", "knn_accuracy", "chance", "p_knn", "verdict"]
    table = overall.set_index(["grouping", "metric"])[values]
    title = "verdict, all networks (within each hidden size: compare/verdict.csv)"
    parts = [("table", (title, table))] if len(table) else []
    return parts + [("line", sentence) for sentence in info.get("verdict", {}).values()]


def _readout_keys(study) -> tuple[str, ...]:
    from . import _text, readouts

    return (*readouts.READOUT_KEYS, *_text.SENTIMENT_KEYS)


def plain_text(parts) -> str:
    out = []
    for kind, value in parts:
        if kind == "line":
            out.append(str(value))
        else:
            title, table = value
            out.append(f"{title}:")
            out.append(table.to_string(float_format=lambda v: f"{v:.3g}", line_width=None))
    return "\n".join(out) + "\n"


def write_summary(store) -> str:
    """Write ``report/summary.txt`` and mark the summary current; return its text."""
    text = plain_text(summary_parts(store))
    store.write_text("report/summary.txt", text)
    store.finish_stage("summary", {})
    return text


def print_summary(parts, console) -> None:
    """Print on a rich console: tables fit the width (transposed when too wide)."""
    from rich.table import Table

    for kind, value in parts:
        if kind == "line":
            console.print(str(value), markup=False, highlight=False, soft_wrap=True)
            continue
        title, frame = value
        frame = frame.reset_index()
        width = sum(max(len(str(c)), *(len(_fmt(v)) for v in frame[c])) + 3 for c in frame.columns)
        if width > console.width and len(frame) < len(frame.columns):
            frame = frame.set_index(frame.columns[0]).T.reset_index(names="")
        table = Table(title=title, title_justify="left")
        for c in frame.columns:
            table.add_column(
                str(c), justify="left" if frame[c].dtype == object else "right", overflow="fold"
            )
        for row in frame.itertuples(index=False):
            table.add_row(*(_fmt(v) for v in row))
        console.print(table)
