"""The study report: one self-contained HTML page plus its figures as PNG and SVG.

``index.html`` embeds every figure (PNG, base64) and, for the population maps,
interactive plotly charts with plotly.js inlined, so the page opens from disk with no
network. Sections whose stage has not run say so. Large populations stay responsive:
training curves are aggregated per architecture and per-network pages are written for
at most ``max_network_pages`` networks.
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import plot
from .._progress import Meter
from ..study import InProcess, Study
from . import figures

SECTIONS = ("summary", "verdict", "training", "architectures", "readout", "population", "networks")

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:1em 2em;color:#222}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.figs{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start} figure{margin:0} img{max-width:100%}
table{border-collapse:collapse;font-size:.85em} th,td{padding:.25em .6em;border-bottom:1px solid #eee;text-align:right}
th{cursor:pointer;background:#f6f6f6;position:sticky;top:0} td.l,th.l{text-align:left}
.note{color:#8a5a00;background:#fff6e0;padding:.5em 1em;border-radius:4px}
.print-only{display:none} @media print{.interactive{display:none}.print-only{display:block}}
nav a{margin-right:1em}
"""

_SORT_JS = """
document.querySelectorAll('table.sortable th').forEach(function(th, col){
  th.addEventListener('click', function(){
    var table = th.closest('table'), body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var asc = th.dataset.dir !== 'asc'; th.dataset.dir = asc ? 'asc' : 'desc';
    rows.sort(function(a, b){
      var x = a.cells[col].dataset.v || a.cells[col].textContent, y = b.cells[col].dataset.v || b.cells[col].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return asc ? c : -c;
    });
    rows.forEach(function(r){ body.appendChild(r); });
  });
});
"""


def _atomic_write(path: Path, data: bytes | str) -> None:
    """Write a file whole or not at all (a killed report leaves no half-written figure)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _safe(name: str) -> str:
    """A file name from store strings: nothing but letters, digits, '.', '_' and '-'."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", str(name))[:120] or "_"


def _e(value) -> str:
    return html.escape(str(value), quote=True)


class _Figures:
    """Saves figures as PNG and SVG files (atomically) and returns their HTML."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def add(self, fig, name: str, caption: str = "") -> str:
        name = _safe(name)
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=110)
        for suffix, options in ((".png", {"dpi": 150}), (".svg", {})):
            buffer = io.BytesIO()
            fig.savefig(buffer, format=suffix[1:], **options)
            _atomic_write(self.folder / f"{name}{suffix}", buffer.getvalue())
        plt.close(fig)
        self.count += 1
        data = base64.b64encode(png.getvalue()).decode()
        cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
        return f'<figure><img alt="{_e(name)}" src="data:image/png;base64,{data}">{cap}</figure>'


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _table(frame: pd.DataFrame, **options) -> str:
    return frame.to_html(escape=True, **options)


def _fixed_point_view(study: Study, n: int):
    fps, graph = study.fixed_points(n), study.graph(n)
    probe = study.probe_states(n)
    probe = probe.reshape(-1, probe.shape[-1])
    edges = np.array(list(graph.edges), dtype=int).reshape(-1, 2)
    index = fps.n_unstable.numpy() if len(fps) else np.zeros(0, int)
    return fps, edges, probe, index


def _representatives(study: Study, analyzed: pd.DataFrame) -> dict[str, tuple[int, str]]:
    """Per architecture, the network its figures show and why: the median-accuracy
    network (text tasks: the best on validation, as the sentiment paper reports)."""
    out = {}
    for arch, rows in analyzed.groupby("architecture", sort=False):
        acc = rows["accuracy"].fillna(-np.inf).to_numpy()
        if study.family.representative == "best":
            pick, why = int(np.argmax(acc)), f"best validation accuracy of {len(rows)}"
        else:
            pick, why = (
                int(np.argsort(acc, kind="stable")[len(rows) // 2]),
                f"median accuracy of {len(rows)}",
            )
        out[arch] = (int(rows.iloc[pick]["network"]), why)
    return out


def build_report(
    study: Study, *, max_network_pages: int = 50, executor=None, progress: bool = False
) -> tuple[Path, float]:
    """Write ``<study>/report/index.html`` (and ``report/figures/``) from the read API;
    return its path and the seconds it took. Every string from the store is
    HTML-escaped; every file is written atomically.

    ``executor``: where per-network pages are rendered (default: this process; on Dask
    the workers need the study folder on a shared filesystem). ``progress``: over pages."""
    started = time.perf_counter()
    out = study.root / "report"
    figs = _Figures(out / "figures")
    spec, frame = study.spec, study.networks
    parts = [f"<h1>{_e(spec.name)}</h1>",
             "<nav>" + "".join(f'<a href="#{s}">{s}</a>' for s in SECTIONS) + "</nav>"]  # fmt: skip
    plotly_done = [False]

    # -- summary
    counts = frame["status"].value_counts()
    parts.append('<section id="summary"><h2>Summary</h2>')
    g = spec.grid
    parts.append(
        f"<p>Task <b>{_e(study.task_label)}</b>; grid: {_e(', '.join(g.architectures))} × hidden "
        f"{_e(g.hidden_sizes)} × {g.seeds} seeds ({len(frame)} networks).</p>"
    )
    if not frame["trained"].any():
        parts.append(_note("The train stage has not run yet: run `rnnscope train STUDY`."))
    else:
        wall = frame["wall_time_s"].max()
        parts.append(
            f"<p>Trained {int(frame['trained'].sum())}: {int(counts.get('solved', 0))} solved, "
            f"{int(counts.get('unsolved', 0))} unsolved, {int(counts.get('diverged', 0))} diverged "
            f"(longest unit {wall:.1f} s).</p>"
        )
        if (frame["status"] == "diverged").all():
            parts.append(_note(f"Every network diverged ({len(frame)} of {len(frame)}): there is nothing to analyze or "
                               "compare. Lower grid.learning_rates or set train.grad_clip, and rerun with --force train."))  # fmt: skip
        fig, _ = figures.status_bars(frame[frame["trained"]])
        parts.append('<div class="figs">' + figs.add(fig, "status") + "</div>")
    parts.append("</section>")

    # -- verdict: the numbers behind "geometry vs topology"
    parts.append('<section id="verdict"><h2>Verdict</h2>')
    verdict, info = study.verdict(), study.stage("compare") or {}
    if verdict is None:
        parts.append(_note("No verdict yet: the compare stage has not run."))
    else:
        parts.append(
            "".join(f"<p>{_e(sentence)}</p>" for sentence in info.get("verdict", {}).values())
        )
        overall = verdict[(verdict["subset"] == "all") & (verdict["verdict"] != "undefined")]
        blocks = [
            figs.add(
                plot.verdict_table(verdict, grouping=g, title=f"by {g}, all networks"),
                f"verdict_{g}",
                f"the verdict by {g}",
            )
            for g in dict.fromkeys(overall["grouping"])
        ]
        parts.append('<div class="figs">' + "".join(blocks) + "</div>")
        shown = verdict[verdict["verdict"] != "undefined"].set_index(
            ["grouping", "subset", "metric"]
        )
        columns = [
            "n_networks",
            "silhouette",
            "p_silhouette",
            "knn_accuracy",
            "chance",
            "p_knn",
            "verdict",
        ]
        parts.append(_table(shown[columns], float_format="%.3g", classes="acc"))
        parts.append(
            "<p>Silhouette on the distances and leave-one-out nearest-neighbour decoding, each with "
            f"a permutation p-value ({int(verdict['permutations'].iloc[0])} label permutations); "
            "a metric separates a grouping when both p-values are below α and the silhouette is positive.</p>"
        )
    parts.append("</section>")

    # -- training
    parts.append('<section id="training"><h2>Training</h2>')
    histories = {}
    for n in frame.loc[frame["trained"], "network"]:
        try:
            histories[int(n)] = study.history(int(n))
        except (ValueError, OSError):
            continue
    if histories:
        arch = dict(zip(frame["network"].astype(int), frame["architecture"], strict=True))
        fig, _ = figures.loss_curves(histories, arch)
        parts.append('<div class="figs">' + figs.add(fig, "loss_curves") + "</div>")
        acc = (
            frame[frame["trained"]]
            .groupby("architecture")["accuracy"]
            .agg(["count", "min", "median", "max"])
        )
        parts.append(_table(acc, float_format="%.4f", classes="acc"))
    else:
        parts.append(_note("No training curves yet: the train stage has not run."))
    parts.append("</section>")

    # -- architectures: a representative network each
    parts.append('<section id="architectures"><h2>Dynamics by architecture</h2>')
    analyzed = frame[frame["analyzed"]]
    if analyzed.empty:
        parts.append(_note("The analyze stage has not run yet: run `rnnscope analyze STUDY`."))
    representatives = _representatives(study, analyzed)
    if not analyzed.empty and analyzed["memory"].notna().any():
        held = analyzed.groupby("architecture")["memory"].value_counts().unstack(fill_value=0)
        parts.append(
            "<p>What holds each network's memories (stable fixed points, stable period-k orbits, or neither):</p>"
        )
        parts.append(_table(held))
        odd = analyzed[(analyzed["status"] == "solved") & (analyzed["memory"] != "fixed points")]
        if len(odd):
            parts.append(_note("Solved without stable fixed points: " + "; ".join(
                f"network {n} ({a}): {m}" for n, a, m in zip(odd["network"], odd["architecture"], odd["memory"], strict=True))))  # fmt: skip
    for arch, (n, why) in representatives.items():
        fps, edges, probe, index = _fixed_point_view(study, n)
        stable = fps.is_stable.numpy() if len(fps) else np.zeros(0, bool)
        title = f"{arch}, network {n}"
        blocks = []
        fig, _ = figures.state_space(
            probe, fps.points.numpy(), index, fps.q.numpy(), fps.kind == "fixed", edges, title
        )
        blocks.append(
            figs.add(fig, f"state_space_{arch}", "trajectories and fixed points, top 2 PCs")
        )
        fig, _ = figures.state_space(probe, fps.points.numpy(), index, fps.q.numpy(),
                                     fps.kind == "fixed", edges, title, dims=3)  # fmt: skip
        blocks.append(figs.add(fig, f"state_space_3d_{arch}", "the same in the top 3 PCs"))
        if len(fps):
            ev = fps.eigenvalues.numpy()
            fig, _ = figures.eigenvalue_spectrum(ev, stable, title)
            blocks.append(
                figs.add(fig, f"spectrum_{arch}", "Jacobian eigenvalues vs the unit circle")
            )
            fig, _ = figures.time_constants(ev, stable, title=title)
            blocks.append(figs.add(fig, f"time_constants_{arch}", "slowest modes at stable points"))
        parts.append(f'<h3 id="arch-{_e(_safe(arch))}">{_e(arch)}: network {n} ({_e(why)}): {len(fps)} fixed points, '
                     f"{int(stable.sum())} stable</h3>")  # fmt: skip
        parts.append('<div class="figs">' + "".join(blocks) + "</div>")
    parts.append("</section>")

    # -- task read-out
    parts.append('<section id="readout"><h2>Task read-out</h2>')
    parts.append(_readout(study, analyzed, representatives, figs))
    parts.append("</section>")

    # -- population
    parts.append('<section id="population"><h2>Population: geometry and topology</h2>')
    info = study.stage("compare")
    if info is None:
        parts.append(_note("The compare stage has not run yet: run `rnnscope compare STUDY`."))
    elif info.get("skipped"):
        parts.append(_note(f"The compare stage found nothing to compare: {info['skipped']}."))
    else:
        blocks, heat = [], []
        by_id = frame.set_index("network")
        for name, score in info["silhouette_by_architecture"].items():
            emb = study.embedding(name)
            rows = by_id.loc[emb["network"]]
            labels = _group_labels(rows)
            xy = emb[["x", "y"]].to_numpy()
            fig, _ = figures.mds_map(xy, labels, score, f"MDS, {name}")
            static = figs.add(fig, f"mds_{name}")
            blocks.append(_interactive_map(xy, rows, name, score, static, plotly_done))
            if len(rows) <= 2000:  # a heatmap of more networks is a texture, not a figure
                _, d = study.distances(name, as_frame=False)
                fig, _ = figures.distance_heatmap(np.asarray(d), labels, f"{name} distances")
                heat.append(figs.add(fig, f"distances_{name}"))
        parts.append('<div class="figs">' + "".join(blocks) + "</div>")
        parts.append('<div class="figs">' + "".join(heat) + "</div>")
        if info.get("recording"):
            parts.append(_recording_ranking(study, frame, info))
    parts.append("</section>")

    # -- every network
    parts.append('<section id="networks"><h2>Networks</h2>')
    if frame["analyzed"].any():
        fig, _ = figures.stable_vs_accuracy(frame[frame["analyzed"]])
        parts.append('<div class="figs">' + figs.add(fig, "stable_vs_accuracy") + "</div>")
    pages = _network_pages(study, frame, representatives, max_network_pages, executor, progress)
    parts.append(_network_table(frame, pages))
    parts.append("</section>")

    seconds = time.perf_counter() - started
    parts.append(
        f"<p style='color:#888'>Report built in {seconds:.1f} s with {figs.count} figures.</p>"
    )
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(spec.name)} — rnnscope report</title><style>{_CSS}</style></head><body>"
        + "\n".join(parts)
        + f"<script>{_SORT_JS}</script></body></html>"
    )
    path = out / "index.html"
    _atomic_write(path, page)
    return path, seconds


def _recording_ranking(study: Study, frame: pd.DataFrame, info: dict) -> str:
    """Networks ranked against the recording, with the caution beside the topology result."""
    out = [f"<h3>Networks against the recording <code>{_e(info['recording'])}</code></h3>"]
    out.append(
        '<p class="note">Geometry similarity is not the same computation: networks of different '
        "architectures can match a recording's geometry equally well while their fixed-point "
        "topology differs, and vice versa (Maheswaranathan et al. 2019). Read this ranking "
        "together with the topology map above.</p>"
    )
    by_id = frame.set_index("network")
    for metric in study.spec.compare.geometry:
        ranking = study.recording_ranking(metric)
        if ranking is None:
            continue
        rows = []
        for rank, (n, d) in enumerate(zip(ranking["network"], ranking["distance"], strict=True)):
            row = by_id.loc[int(n)]
            stable = "" if pd.isna(row["n_stable"]) else str(int(row["n_stable"]))
            rows.append(f"<tr><td>{rank + 1}</td><td>{int(n)}</td><td class='l'>{_e(row['architecture'])}</td>"
                        f"<td>{d:.4f}</td><td>{stable}</td></tr>")  # fmt: skip
        out.append(
            f"<p>{_e(metric)} distance to the recording (closest first):</p>"
            "<table class='sortable'><thead><tr><th>rank</th><th>network</th><th class='l'>architecture</th>"
            f"<th>distance</th><th>stable points</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    return "".join(out)


def _group_labels(rows: pd.DataFrame) -> list[str]:
    """Architecture, with the activation when the grid varies it (e.g. ``vanilla-relu``)."""
    activations = rows["activation"].dropna().unique()
    if len(activations) <= 1:
        return [str(a) for a in rows["architecture"]]
    return [
        str(a) if act is None or act != act else f"{a}-{act}"
        for a, act in zip(rows["architecture"], rows["activation"], strict=True)
    ]


def _readout(study: Study, analyzed, representatives, figs) -> str:
    if analyzed.empty:
        return _note("The analyze stage has not run yet.")
    task = study.spec.task.name
    section = _READOUTS.get(task)
    if section is None:
        return _note(f"No read-out is defined for task {task!r}.")
    arrays = {int(n): study.analysis(int(n), _READOUT_KEYS) for n in analyzed["network"]}
    return section(study, analyzed, representatives, arrays, figs)


_READOUT_KEYS = (
    "readout_corners", "sine_target_frequency", "sine_own_frequency", "sine_linearized_frequency", "context_near_one",
    "context_readout_alignment", "sentiment_summary", "sentiment_valence", "sentiment_valence_labels",
    "sentiment_modifier_words", "sentiment_modifier_gain", "sentiment_modifier_summary",
    "sentiment_modifier_displacement",
)  # fmt: skip


def _flipflop(study, analyzed, representatives, arrays, figs) -> str:
    out = ['<div class="figs">']
    for arch, (n, why) in representatives.items():
        fps, edges, _, _ = _fixed_point_view(study, n)
        params = study.params(n)
        hidden = params["W_out"].shape[1]
        y = fps.points.numpy()[:, :hidden] @ params["W_out"][0] + params["b_out"][0]
        labels = [tuple(np.where(np.abs(r) < 0.5, 0, np.sign(r)).astype(int)) for r in y]
        stable = fps.is_stable.numpy() if len(fps) else np.zeros(0, bool)
        fig, _ = figures.transition_graph(
            labels, edges, stable, f"{arch}, network {n} ({why}): transition graph"
        )
        out.append(
            figs.add(fig, f"transition_graph_{arch}", "saddles (red) joining stable corners")
        )
    out.append("</div>")
    corners = [int(arrays[int(n)].get("readout_corners", 0)) for n in analyzed["network"]]
    table = pd.DataFrame({"architecture": analyzed["architecture"].tolist(), "corners": corners})
    out.append(
        _table(
            table.groupby("architecture")["corners"].agg(["count", "min", "median", "max"]),
            float_format="%.0f",
        )
    )
    return "".join(out)


def _sine(study, analyzed, representatives, arrays, figs) -> str:
    solved = analyzed[analyzed["status"] == "solved"]
    if solved.empty or "sine_own_frequency" not in arrays[int(solved["network"].iloc[0])]:
        return _note(
            "No network solved the task."
            if solved.empty
            else "Re-run the analyze stage for this read-out."
        )
    target, own, pred = (
        np.stack([arrays[int(n)][key] for n in solved["network"]])
        for key in ("sine_target_frequency", "sine_own_frequency", "sine_linearized_frequency")
    )
    fig, _ = figures.frequency_match(target, own, pred, solved["architecture"].tolist())
    text = (
        f"<p>Solved networks only ({len(solved)} of {len(analyzed)}). Own oscillation: the "
        "limit cycle the trajectory settles on under the cue (else its output's spectral peak); "
        "linearized: |arg λ| at the fixed point that trajectory orbits.</p>"
    )
    caption = "each point: one network at one cued frequency"
    return text + '<div class="figs">' + figs.add(fig, "frequency_match", caption) + "</div>"


def _context(study, analyzed, representatives, arrays, figs) -> str:
    near = np.stack([arrays[int(n)]["context_near_one"] for n in analyzed["network"]])
    align = np.stack([arrays[int(n)]["context_readout_alignment"] for n in analyzed["network"]])
    fig, _ = figures.context_lines(near, align, analyzed["architecture"].tolist())
    return '<div class="figs">' + figs.add(fig, "context_lines") + "</div>"


def _sentiment(study, analyzed, representatives, arrays, figs) -> str:
    table = study.readout_table()
    out = []
    baseline = study.baseline()
    if baseline is not None:
        out.append(
            f"<p>Bag-of-words logistic regression, same split: test accuracy <b>{float(baseline['test_accuracy']):.4f}</b>.</p>"
        )
    out.append(
        "<p>Fixed points: zero-input points with ‖F(h) − h‖²/S &lt; the "
        "study's <code>tol_q_mean</code>. <code>line_attractor</code> is 1 when the points' first "
        "principal axis explains ≥ 90% of their variance (<code>line_variance_pc1</code>), is "
        "more aligned with the readout than 95% of random directions "
        "(<code>readout_alignment</code> vs <code>null_alignment_95</code>) and the median point "
        "has a mode with ||λ| − 1| &lt; 0.05 (<code>slow_modes</code>). τ in tokens (the top "
        "two modes, medians over points). <code>valence_auc</code>: positive vs negative words "
        "by their drive on the top mode, ℓ₁ᵀ J_inp x (<code>valence_auc_integration</code>: on "
        "the mode the readout gains most through, where the top mode is another, e.g. an "
        "unstable rotation). <code>one_step_error</code>, "
        "<code>linearized_accuracy</code>: the network replaced by its linearization around "
        "the nearest fixed point, on the probe reviews (<code>probe_accuracy</code>: the "
        "network itself on them).</p>"
    )
    from ..study import _text

    networks = study.networks  # every configuration searched, analysed or not
    if (networks.groupby("architecture").size() > 1).any():
        selection = _text.selection_table(networks)
        out.append(
            f"<h3>Selection</h3><p>{len(selection)} configurations searched; per architecture "
            "the one with the best validation accuracy (<code>selected</code>) is the network "
            "the read-out below describes, as Maheswaranathan et al. (2019) chose theirs.</p>"
        )
        out.append(_table(selection.set_index("network"), float_format="%.4g", classes="acc"))
    best = _text.best_table(table)
    out.append("<h3>Best network per architecture (validation accuracy)</h3>")
    out.append(_table(best.T, float_format="%.3g", classes="acc"))
    out.append("<h3>Medians per architecture</h3>")
    out.append(_table(_text.architecture_table(table).T, float_format="%.3g", classes="acc"))
    classes = (
        int(np.nanmax(table["classes"]))
        if "classes" in table and table["classes"].notna().any()
        else 2
    )
    if classes > 2:
        out.append(_attractor(study, representatives, table, classes, figs))
    valence = {arch: arrays[n]["sentiment_valence"] for arch, (n, _) in representatives.items()}
    if valence and classes == 2:
        first = next(iter(representatives.values()))[0]
        labels = arrays[first]["sentiment_valence_labels"]
        auc = table.set_index("network")
        titles = {
            arch: f"{arch}, network {n}\nAUC: top mode {auc.loc[n, 'valence_auc']:.2f}, "
            f"integration {auc.loc[n, 'valence_auc_integration']:.2f}"
            for arch, (n, _) in representatives.items()
        }
        fig, _ = figures.valence_drive(valence, labels, titles)
        out.append('<div class="figs">' + figs.add(fig, "valence_drive") + "</div>")
    out.append(_modifiers(representatives, arrays, figs))
    return "".join(out)


def _attractor(study, representatives, table, classes: int, figs) -> str:
    """A C-class task: the fixed points of each representative network in their top two
    principal components, coloured by the class the readout gives them."""
    panels = {}
    for arch, (n, _) in representatives.items():
        fps = study.fixed_points(n)
        if len(fps) < 2:
            continue
        params = study.params(n)
        hidden = params["W_out"].shape[1]
        points = fps.points.numpy()[:, :hidden]
        logits = points @ params["W_out"][0] + params["b_out"][0]
        probe = study.probe_states(n)
        panels[arch] = (
            points,
            logits.argmax(axis=1),
            probe.reshape(-1, probe.shape[-1])[:, :hidden],
        )
    by_net = table.set_index("network")
    dims = ", ".join(
        f"{arch} {int(by_net.loc[n, 'line_dimension'])} (participation {by_net.loc[n, 'participation_ratio']:.2f})"
        if by_net.loc[n, "fixed_points"] >= 2
        else f"{arch} undefined ({int(by_net.loc[n, 'fixed_points'])} fixed point)"
        for arch, (n, _) in representatives.items()
        if n in by_net.index
    )
    text = (
        f"<h3>The attractor of a {classes}-class task</h3><p>A {classes}-class integrator needs "
        f"{classes - 1} dimensions, the differences between the classes' evidence (Aitken et "
        f"al. 2020). Fixed points' dimension (principal components for 95% of their variance): "
        f"{_e(dims)}. <code>readout_subspace_share</code>: their variance inside the readout's "
        f"{classes - 1} class contrasts.</p>"
    )
    if not panels:
        return text
    fig, _ = figures.class_attractor(panels, classes)
    return text + '<div class="figs">' + figs.add(fig, "class_attractor") + "</div>"


def _modifiers(representatives, arrays, figs) -> str:
    """Modifier words (Maheswaranathan & Sussillo 2020): their gain on the next valence
    word, and the transient they excite, per representative network."""
    from ..study._text import modifier_rows

    have = {
        arch: arrays[n]
        for arch, (n, _) in representatives.items()
        if len(arrays[n].get("sentiment_modifier_words", ()))
    }
    if not have:
        return ""
    rows = [{"architecture": arch, **row} for arch, a in have.items() for row in modifier_rows(a)]
    table = pd.DataFrame(rows).set_index(["architecture", "modifier"])
    fig, _ = figures.modifier_gain(
        {a: v["sentiment_modifier_gain"] for a, v in have.items()},
        {a: v["sentiment_modifier_words"] for a, v in have.items()},
        {a: v["sentiment_modifier_displacement"] for a, v in have.items()},
    )
    return (
        "<h3>Modifier words</h3><p>Each modifier is read at the fixed points, followed after "
        "0–5 empty steps by each valence word; <code>gain</code> is that word's lasting effect "
        "on the readout divided by its effect alone (median over words and points: −1 flips "
        "it, 2 doubles it, 1 leaves it); <code>gain_positive</code>, <code>gain_negative</code>: "
        "over the positive and the negative words alone (a network that reads “not good” as "
        "“bad” gives Δ_bad/Δ_good and Δ_good/Δ_bad, negative both, product 1). <code>own_effect</code>: the modifier's own lasting "
        "effect, relative to a valence word's. The transient: the displacement the modifier "
        "alone excites — axes for 90% of it (<code>transient_dimension</code>), its share "
        "along the readout and its decay time in tokens.</p>"
        + _table(table, float_format="%.3g", classes="acc")
        + '<div class="figs">'
        + figs.add(fig, "modifier_gain")
        + "</div>"
    )


#: the read-out section of each task (the report's only per-task choice)
_READOUTS = {"flipflop": _flipflop, "sine": _sine, "context": _context, "sentiment": _sentiment}


def _interactive_map(embedding, rows, name, score, static_html, plotly_done) -> str:
    """A plotly scatter (hover: network id and hyperparameters) with a static fallback."""
    import plotly.graph_objects as go
    import plotly.io as pio

    fig = go.Figure()
    for arch, colour in figures.colours(rows["architecture"]).items():
        mask = (rows["architecture"] == arch).to_numpy()
        sub = rows[mask]
        text = [
            _e(f"network {n}") + "<br>" + _e(f"{a}, H={h}, lr={lr:g}, L2={l2:g}, seed {s}") + "<br>" + _e(f"{st}, acc {acc:.3f}")
            for n, a, h, lr, l2, s, st, acc in zip(sub.index, sub["architecture"], sub["hidden_size"],
                                                    sub["learning_rate"], sub["l2"], sub["seed"], sub["status"],
                                                    sub["accuracy"], strict=True)
        ]  # fmt: skip
        fig.add_trace(go.Scatter(x=embedding[mask, 0], y=embedding[mask, 1], mode="markers", name=_e(arch),
                                 marker={"color": colour, "size": 8}, text=text, hoverinfo="text"))  # fmt: skip
    score_text = "n/a" if score is None else f"{score:.2f}"
    fig.update_layout(title=_e(f"MDS, {name} (silhouette by architecture {score_text})"), width=480, height=420,
                      margin={"l": 20, "r": 20, "t": 40, "b": 20}, template="simple_white")  # fmt: skip
    include = not plotly_done[0]
    plotly_done[0] = True
    div = pio.to_html(fig, full_html=False, include_plotlyjs=include, config={"displaylogo": False})
    return f'<div class="interactive">{div}</div><div class="print-only">{static_html}</div>'


def network_page(root: str, network: int) -> str:
    """Unit of work: one network's page (state space and spectrum, figures inline)."""
    from ..study import load

    with load(root) as study:
        n = int(network)
        row = study.networks.set_index("network").loc[n]
        fps, edges, probe, index = _fixed_point_view(study, n)
        folder = study.root / "report" / "networks" / "figures"
        sub = _Figures(folder)
        fig, _ = figures.state_space(
            probe,
            fps.points.numpy(),
            index,
            fps.q.numpy(),
            fps.kind == "fixed",
            edges,
            f"network {n}",
        )
        body = sub.add(fig, f"state_space_{n:05d}")
        if len(fps):
            fig, _ = figures.eigenvalue_spectrum(
                fps.eigenvalues.numpy(), fps.is_stable.numpy(), f"network {n}"
            )
            body += sub.add(fig, f"spectrum_{n:05d}")
        accuracy = "–" if pd.isna(row["accuracy"]) else f"{row['accuracy']:.4f}"
        facts = _e(
            f"{row['architecture']}, hidden {row['hidden_size']}, lr {row['learning_rate']:g}, L2 {row['l2']:g}, "
            f"seed {row['seed']}: {row['status']}, accuracy {accuracy}, {len(fps)} fixed points"
        )
        return (
            f"<!doctype html><html><head><meta charset='utf-8'><title>network {n}</title><style>{_CSS}</style>"
            f"</head><body><p><a href='../index.html#networks'>← report</a></p><h1>Network {n}</h1><p>{facts}</p>"
            f"<div class='figs'>{body}</div></body></html>"
        )


def _network_pages(
    study: Study, frame, representatives, limit, executor, progress=False
) -> set[int]:
    """Per-network pages for the representatives and the first ``limit`` analyzed
    networks, rendered on ``executor``; returns the ids that have one."""
    chosen = list(
        dict.fromkeys(
            [n for n, _ in representatives.values()]
            + frame.loc[frame["analyzed"], "network"].tolist()
        )
    )
    chosen = [int(n) for n in chosen[:limit]]
    folder = study.root / "report" / "networks"
    if executor is None or not getattr(executor, "shared_filesystem", True):
        executor = InProcess()  # workers render pages from the study folder: they must see it
    meter = Meter(len(chosen), "report", unit="pages", enabled=progress)
    for done in executor.run(network_page, [(str(study.root), n) for n in chosen]):
        _atomic_write(folder / f"network-{chosen[done.index]:05d}.html", done.value)
        meter.advance()
    meter.close()
    return set(chosen)


def _network_table(frame: pd.DataFrame, pages: set[int]) -> str:
    cols = ["network", "architecture", "hidden_size", "activation", "learning_rate", "l2", "seed", "status",
            "steps", "accuracy", "n_fixed", "n_stable", "n_index1", "memory"]  # fmt: skip
    searched = [c for c in ("grad_clip", "embedding_size") if c in frame and frame[c].notna().any()]
    cols[6:6] = searched  # a grid that varies them shows them beside the other hyperparameters
    text_cols = ("architecture", "status", "activation", "memory")
    head = "".join(f'<th class="{"l" if c in text_cols else ""}">{c}</th>' for c in cols)
    rows = []
    for r in frame[cols].itertuples(index=False):
        cells = []
        for c, v in zip(cols, r, strict=True):
            missing = v is None or (isinstance(v, float) and np.isnan(v))
            text = (
                ""
                if missing
                else (
                    f"{v:.4f}" if c == "accuracy" else f"{v:g}" if isinstance(v, float) else str(v)
                )
            )
            text = _e(text)
            if c == "network" and int(v) in pages:
                text = f'<a href="networks/network-{int(v):05d}.html">{int(v)}</a>'
            cls = ' class="l"' if c in text_cols else ""
            cells.append(f'<td{cls} data-v="{_e(v)}">{text}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
