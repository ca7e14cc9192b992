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
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..study.spec import StudySpec
from ..study.stages import load_fixed_points
from ..study.store import Store
from ..tasks import make_task
from . import figures

SECTIONS = ("summary", "training", "architectures", "readout", "population", "networks")

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


class _Figures:
    """Saves figures as PNG and SVG files and returns their HTML."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def add(self, fig, name: str, caption: str = "") -> str:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110)
        fig.savefig(self.folder / f"{name}.png", dpi=150)
        fig.savefig(self.folder / f"{name}.svg")
        plt.close(fig)
        self.count += 1
        data = base64.b64encode(buffer.getvalue()).decode()
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        return f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}">{cap}</figure>'


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def build_report(spec: StudySpec, store: Store, *, max_network_pages: int = 50) -> Path:
    """Write ``<study>/report/index.html`` (and ``report/figures/``); return its path."""
    started = time.perf_counter()
    out = store.root / "report"
    figs = _Figures(out / "figures")
    frame = store.networks()
    parts = [f"<h1>{html.escape(spec.name)}</h1>",
             "<nav>" + "".join(f'<a href="#{s}">{s}</a>' for s in SECTIONS) + "</nav>"]  # fmt: skip
    plotly_done = [False]

    # -- summary
    counts = frame["status"].value_counts()
    train_info = store.stage_done("train")
    parts.append('<section id="summary"><h2>Summary</h2>')
    parts.append(
        f"<p>Task <b>{html.escape(repr(make_task(spec.task.name, **spec.task.options)))}</b>; grid: "
        f"{html.escape(', '.join(spec.grid.architectures))} × hidden {spec.grid.hidden_sizes} × "
        f"{spec.grid.seeds} seeds ({len(frame)} networks).</p>"
    )
    if train_info is None and not frame["trained"].any():
        parts.append(_note("The train stage has not run yet: run `rnnscope train STUDY`."))
    else:
        wall = frame["wall_time_s"].max()
        parts.append(
            f"<p>Trained {int(frame['trained'].sum())}: {int(counts.get('solved', 0))} solved, "
            f"{int(counts.get('unsolved', 0))} unsolved, {int(counts.get('diverged', 0))} diverged "
            f"(longest group {wall:.1f} s).</p>"
        )
        fig, _ = figures.status_bars(frame[frame["trained"]])
        parts.append('<div class="figs">' + figs.add(fig, "status") + "</div>")
    parts.append("</section>")

    # -- training
    parts.append('<section id="training"><h2>Training</h2>')
    histories = {}
    for n in frame.loc[frame["trained"], "network"]:
        path = store.history_path(int(n))
        if path.exists():
            histories[int(n)] = store.load_arrays(path)
    if histories:
        arch = dict(zip(frame["network"].astype(int), frame["architecture"], strict=True))
        fig, _ = figures.loss_curves(histories, arch)
        parts.append('<div class="figs">' + figs.add(fig, "loss_curves") + "</div>")
        acc = (
            frame[frame["trained"]]
            .groupby("architecture")["accuracy"]
            .describe()[["count", "min", "50%", "max"]]
        )
        parts.append(
            acc.rename(columns={"50%": "median"}).to_html(float_format="%.4f", classes="acc")
        )
    else:
        parts.append(_note("No training curves yet: the train stage has not run."))
    parts.append("</section>")

    # -- architectures: a representative network each
    parts.append('<section id="architectures"><h2>Dynamics by architecture</h2>')
    analyzed = frame[frame["analyzed"]]
    if analyzed.empty:
        parts.append(_note("The analyze stage has not run yet: run `rnnscope analyze STUDY`."))
    representatives = {}
    for arch, rows in analyzed.groupby("architecture", sort=False):
        # the network with the median accuracy stands for its architecture; for text, the
        # best on validation (as the sentiment paper reports its networks)
        order = np.argsort(rows["accuracy"].to_numpy())
        if spec.task.name == "sentiment":
            pick = int(np.argmax(rows["accuracy"].fillna(-np.inf).to_numpy()))
        else:
            pick = order[len(rows) // 2]
        row = rows.iloc[int(pick)]
        n = int(row["network"])
        representatives[arch] = n
        fps, graph, probe = load_fixed_points(store, n)
        stable = fps.is_stable.numpy() if len(fps) else np.zeros(0, bool)
        ev = fps.eigenvalues.numpy() if len(fps) else np.zeros((0, 1), complex)
        edges = np.array(list(graph.edges), dtype=int).reshape(-1, 2)
        title = f"{arch}, network {n}"
        blocks = []
        fig, _ = figures.state_space(probe, fps.points.numpy(), fps.n_unstable.numpy() if len(fps) else np.zeros(0, int),
                                     fps.q.numpy(), fps.kind == "fixed", edges, title)  # fmt: skip
        blocks.append(
            figs.add(fig, f"state_space_{arch}", "trajectories and fixed points, top 2 PCs")
        )
        if len(fps):
            fig, _ = figures.eigenvalue_spectrum(ev, stable, title)
            blocks.append(
                figs.add(fig, f"spectrum_{arch}", "Jacobian eigenvalues vs the unit circle")
            )
            fig, _ = figures.time_constants(ev, stable, title=title)
            blocks.append(figs.add(fig, f"time_constants_{arch}", "slowest modes at stable points"))
        parts.append(f'<h3 id="arch-{html.escape(arch)}">{html.escape(arch)}: {len(fps)} fixed points, '
                     f"{int(stable.sum())} stable</h3>")  # fmt: skip
        parts.append('<div class="figs">' + "".join(blocks) + "</div>")
    parts.append("</section>")

    # -- task read-out
    parts.append('<section id="readout"><h2>Task read-out</h2>')
    parts.append(_readout(spec, store, analyzed, representatives, figs))
    parts.append("</section>")

    # -- population
    parts.append('<section id="population"><h2>Population: geometry and topology</h2>')
    info = store.stage_done("compare")
    if info is None:
        parts.append(_note("The compare stage has not run yet: run `rnnscope compare STUDY`."))
    else:
        blocks, heat = [], []
        for name, score in info["silhouette_by_architecture"].items():
            data = store.load_arrays(store.root / "compare" / f"{name}.npz")
            ids = data["networks"]
            labels = _group_labels(frame.set_index("network").loc[ids])
            fig, _ = figures.mds_map(data["embedding"], labels, score, f"MDS, {name}")
            static = figs.add(fig, f"mds_{name}")
            blocks.append(_interactive_map(data["embedding"], frame.set_index("network").loc[ids], name, score,
                                           static, plotly_done))  # fmt: skip
            fig, _ = figures.distance_heatmap(data["distances"], labels, f"{name} distances")
            heat.append(figs.add(fig, f"distances_{name}"))
        parts.append('<div class="figs">' + "".join(blocks) + "</div>")
        parts.append('<div class="figs">' + "".join(heat) + "</div>")
        if info.get("recording"):
            parts.append(_recording_ranking(store, frame, info))
    parts.append("</section>")

    # -- every network
    parts.append('<section id="networks"><h2>Networks</h2>')
    if frame["analyzed"].any():
        fig, _ = figures.stable_vs_accuracy(frame[frame["analyzed"]])
        parts.append('<div class="figs">' + figs.add(fig, "stable_vs_accuracy") + "</div>")
    pages = _network_pages(spec, store, frame, representatives, max_network_pages, figs)
    parts.append(_network_table(frame, pages))
    parts.append("</section>")

    seconds = time.perf_counter() - started
    parts.append(
        f"<p style='color:#888'>Report built in {seconds:.1f} s with {figs.count} figures.</p>"
    )
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(spec.name)} — rnnscope report</title><style>{_CSS}</style></head><body>"
        + "\n".join(parts)
        + f"<script>{_SORT_JS}</script></body></html>"
    )
    path = out / "index.html"
    store.write_text("report/index.html", page)
    return path


def _recording_ranking(store: Store, frame: pd.DataFrame, info: dict) -> str:
    """Networks ranked against the recording, with the caution beside the topology result."""
    out = [f"<h3>Networks against the recording <code>{html.escape(info['recording'])}</code></h3>"]
    out.append(
        '<p class="note">Geometry similarity is not the same computation: networks of different '
        "architectures can match a recording's geometry equally well while their fixed-point "
        "topology differs, and vice versa (Maheswaranathan et al. 2019). Read this ranking "
        "together with the topology map above.</p>"
    )
    by_id = frame.set_index("network")
    for path in sorted((store.root / "compare").glob("recording_*.npz")):
        data = store.load_arrays(path)
        metric = path.stem.removeprefix("recording_")
        rows = []
        for rank, (n, d) in enumerate(zip(data["networks"], data["distances"], strict=True)):
            row = by_id.loc[int(n)]
            stable = "" if pd.isna(row["n_stable"]) else str(int(row["n_stable"]))
            rows.append(
                f"<tr><td>{rank + 1}</td><td>{int(n)}</td><td class='l'>{html.escape(str(row['architecture']))}</td>"
                f"<td>{d:.4f}</td><td>{stable}</td></tr>"
            )
        out.append(
            f"<p>{html.escape(metric)} distance to the recording (closest first):</p>"
            "<table class='sortable'><thead><tr><th>rank</th><th>network</th><th class='l'>architecture</th>"
            f"<th>distance</th><th>stable points</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    return "".join(out)


def _group_labels(rows: pd.DataFrame) -> list[str]:
    """Architecture, with the activation when the grid varies it (e.g. ``vanilla-relu``)."""
    activations = rows["activation"].dropna().unique()
    if len(activations) <= 1:
        return rows["architecture"].tolist()
    return [
        a if act is None or act != act else f"{a}-{act}"
        for a, act in zip(rows["architecture"], rows["activation"], strict=True)
    ]


def _readout(spec, store, analyzed, representatives, figs) -> str:
    if analyzed.empty:
        return _note("The analyze stage has not run yet.")
    arrays = {int(n): store.load_arrays(store.analysis_path(int(n))) for n in analyzed["network"]}
    archs = analyzed["architecture"].tolist()
    if spec.task.name == "flipflop":
        out = ['<div class="figs">']
        for arch, n in representatives.items():
            fps, graph, _ = load_fixed_points(store, n)
            params = store.load_arrays(store.params_path(n))
            y = (
                fps.points.numpy()[:, : params["W_out"].shape[1]] @ params["W_out"][0]
                + params["b_out"][0]
            )
            labels = [tuple(np.where(np.abs(r) < 0.5, 0, np.sign(r)).astype(int)) for r in y]
            stable = fps.is_stable.numpy() if len(fps) else np.zeros(0, bool)
            edges = np.array(list(graph.edges), dtype=int).reshape(-1, 2)
            fig, _ = figures.transition_graph(
                labels, edges, stable, f"{arch}, network {n}: transition graph"
            )
            out.append(
                figs.add(fig, f"transition_graph_{arch}", "saddles (red) joining stable corners")
            )
        out.append("</div>")
        corners = [int(arrays[int(n)]["readout_corners"]) for n in analyzed["network"]]
        table = pd.DataFrame({"architecture": archs, "corners": corners}).groupby("architecture")[
            "corners"
        ]
        out.append(table.describe()[["count", "min", "50%", "max"]].to_html(float_format="%.0f"))
        return "".join(out)
    if spec.task.name == "sine":
        target = np.stack([arrays[int(n)]["sine_target_frequency"] for n in analyzed["network"]])
        pred = np.stack([arrays[int(n)]["sine_linearized_frequency"] for n in analyzed["network"]])
        fig, _ = figures.frequency_match(target, pred, archs)
        return '<div class="figs">' + figs.add(fig, "frequency_match") + "</div>"
    if spec.task.name == "context":
        near = np.stack([arrays[int(n)]["context_near_one"] for n in analyzed["network"]])
        align = np.stack([arrays[int(n)]["context_readout_alignment"] for n in analyzed["network"]])
        fig, _ = figures.context_lines(near, align, archs)
        return '<div class="figs">' + figs.add(fig, "context_lines") + "</div>"
    if spec.task.name == "sentiment":
        return _sentiment_readout(store, analyzed, representatives, arrays, figs)
    return _note(f"No read-out is defined for task {spec.task.name!r}.")


def _sentiment_readout(store, analyzed, representatives, arrays, figs) -> str:
    from ..study import _text
    from ..study.stages import baseline_path

    per_network = [arrays[int(n)] for n in analyzed["network"]]
    table = _text.summary_table(analyzed, per_network)
    out = []
    path = baseline_path(store)
    if path.exists():
        bow = float(store.load_arrays(path)["test_accuracy"])
        out.append(
            f"<p>Bag-of-words logistic regression, same split: test accuracy <b>{bow:.4f}</b>.</p>"
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
    out.append("<h3>Best network per architecture (validation accuracy)</h3>")
    out.append(_text.best_table(table).T.to_html(float_format="%.3g", classes="acc"))
    out.append("<h3>Medians per architecture</h3>")
    out.append(_text.architecture_table(table).T.to_html(float_format="%.3g", classes="acc"))
    valence = {arch: arrays[n]["sentiment_valence"] for arch, n in representatives.items()}
    if valence:
        labels = arrays[next(iter(representatives.values()))]["sentiment_valence_labels"]
        auc = table.set_index("network")
        titles = {
            arch: f"{arch}, network {n}\nAUC: top mode {auc.loc[n, 'valence_auc']:.2f}, "
            f"integration {auc.loc[n, 'valence_auc_integration']:.2f}"
            for arch, n in representatives.items()
        }
        fig, _ = figures.valence_drive(valence, labels, titles)
        out.append('<div class="figs">' + figs.add(fig, "valence_drive") + "</div>")
    return "".join(out)


def _interactive_map(embedding, rows, name, score, static_html, plotly_done) -> str:
    """A plotly scatter (hover: network id and hyperparameters) with a static fallback."""
    import plotly.graph_objects as go
    import plotly.io as pio

    fig = go.Figure()
    for arch, colour in figures.colours(rows["architecture"]).items():
        mask = (rows["architecture"] == arch).to_numpy()
        sub = rows[mask]
        text = [
            f"network {n}<br>{a}, H={h}, lr={lr:g}, L2={l2:g}, seed {s}<br>{st}, acc {acc:.3f}"
            for n, a, h, lr, l2, s, st, acc in zip(sub.index, sub["architecture"], sub["hidden_size"],
                                                    sub["learning_rate"], sub["l2"], sub["seed"], sub["status"],
                                                    sub["accuracy"], strict=True)
        ]  # fmt: skip
        fig.add_trace(go.Scatter(x=embedding[mask, 0], y=embedding[mask, 1], mode="markers", name=arch,
                                 marker={"color": colour, "size": 8}, text=text, hoverinfo="text"))  # fmt: skip
    score_text = "n/a" if score is None else f"{score:.2f}"
    fig.update_layout(title=f"MDS, {name} (silhouette {score_text})", width=480, height=420,
                      margin={"l": 20, "r": 20, "t": 40, "b": 20}, template="simple_white")  # fmt: skip
    include = not plotly_done[0]
    plotly_done[0] = True
    div = pio.to_html(fig, full_html=False, include_plotlyjs=include, config={"displaylogo": False})
    return f'<div class="interactive">{div}</div><div class="print-only">{static_html}</div>'


def _network_pages(spec, store, frame, representatives, limit, figs) -> set[int]:
    """Per-network pages (state space and spectrum) for the representatives and the first
    ``limit`` analyzed networks; returns the ids that have one."""
    chosen = list(
        dict.fromkeys(
            list(representatives.values()) + frame.loc[frame["analyzed"], "network"].tolist()
        )
    )
    chosen = [int(n) for n in chosen[:limit]]
    folder = store.root / "report" / "networks"
    folder.mkdir(parents=True, exist_ok=True)
    sub = _Figures(folder / "figures")
    for n in chosen:
        row = frame.set_index("network").loc[n]
        fps, graph, probe = load_fixed_points(store, n)
        edges = np.array(list(graph.edges), dtype=int).reshape(-1, 2)
        fig, _ = figures.state_space(probe, fps.points.numpy(), fps.n_unstable.numpy() if len(fps) else np.zeros(0, int),
                                     fps.q.numpy(), fps.kind == "fixed", edges, f"network {n}")  # fmt: skip
        body = sub.add(fig, f"state_space_{n:05d}")
        if len(fps):
            fig, _ = figures.eigenvalue_spectrum(
                fps.eigenvalues.numpy(), fps.is_stable.numpy(), f"network {n}"
            )
            body += sub.add(fig, f"spectrum_{n:05d}")
        facts = html.escape(
            f"{row['architecture']}, hidden {row['hidden_size']}, lr {row['learning_rate']:g}, L2 {row['l2']:g}, "
            f"seed {row['seed']}: {row['status']}, accuracy {row['accuracy']:.4f}, {len(fps)} fixed points"
        )
        store.write_text(
            f"report/networks/network-{n:05d}.html",
            f"<!doctype html><html><head><meta charset='utf-8'><title>network {n}</title><style>{_CSS}</style>"
            f"</head><body><p><a href='../index.html#networks'>← report</a></p><h1>Network {n}</h1><p>{facts}</p>"
            f"<div class='figs'>{body}</div></body></html>",
        )
    return set(chosen)


def _network_table(frame: pd.DataFrame, pages: set[int]) -> str:
    cols = ["network", "architecture", "hidden_size", "activation", "learning_rate", "l2", "seed", "status",
            "steps", "accuracy", "n_fixed", "n_stable"]  # fmt: skip
    head = "".join(
        f'<th class="{"l" if c in ("architecture", "status", "activation") else ""}">{c}</th>'
        for c in cols
    )
    rows = []
    for r in frame[cols].itertuples(index=False):
        cells = []
        for c, v in zip(cols, r, strict=True):
            text = (
                ""
                if v is None or (isinstance(v, float) and np.isnan(v))
                else (
                    f"{v:.4f}" if c == "accuracy" else f"{v:g}" if isinstance(v, float) else str(v)
                )
            )
            if c == "network" and int(v) in pages:
                text = f'<a href="networks/network-{int(v):05d}.html">{int(v)}</a>'
            cls = ' class="l"' if c in ("architecture", "status", "activation") else ""
            cells.append(f'<td{cls} data-v="{html.escape(str(v))}">{text}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
