"""The study pipeline: train → analyze → compare → report, resumable.

Each stage does only what the store does not hold yet: training commits group by group
(networks that share architecture, size and activation), analysis network by network,
comparison and report as wholes. A run killed at any moment and started again loses at
most the unit of work in flight and repeats nothing that was committed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import torch

from .. import compare, dynamics
from .._progress import progress_bar
from ..cells import make_cell
from ..network import RNN
from ..tasks import Sentiment, make_task
from ..train import TrainConfig, make_grid, train_population
from ..train.grid import ACTIVATION_ARCHITECTURES
from ..train.trainer import architecture_summary
from . import _text, readouts
from .executors import InProcess, set_threads
from .spec import StudySpec
from .store import Store

STAGES = ("train", "analyze", "compare", "report")


def run_study(
    spec: StudySpec,
    root: str | Path,
    *,
    stages: tuple[str, ...] = STAGES,
    force: str | None = None,
    executor=None,
    progress: bool = False,
    log: Callable[[str], None] = lambda line: None,
) -> Store:
    """Run (or resume) ``stages`` of a study whose store lives in ``root``.

    ``executor``: where units of work run (default :class:`InProcess`; see
    ``rnnscope.study.executors``)."""
    for stage in (*stages, *([force] if force else [])):
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; choose one of {', '.join(STAGES)}.")
    store = Store(root, create=True)
    store.write_text("spec.json", spec.model_dump_json(indent=2))
    executor = executor or InProcess()
    if force:
        store.reset(force)
    for stage in STAGES:
        if stage in stages:
            started = time.perf_counter()
            {
                "train": train_stage,
                "analyze": analyze_stage,
                "compare": compare_stage,
                "report": report_stage,
            }[stage](spec, store, progress=progress, log=log)
            log(f"{stage}: {time.perf_counter() - started:.1f} s")
    return store


def _units(executor, fn, items: list, label: str, progress: bool):
    """``executor.run(fn, items)``, with a progress bar over finished units if asked."""
    results = executor.run(fn, items)
    if not progress or not items:
        yield from results
        return
    with progress_bar() as bar:
        task = bar.add_task(label, total=len(items))
        for result in results:
            yield result
            bar.advance(task)


def network_of(spec: StudySpec, row):
    """The architecture of one network of the study (an :class:`RNN`, or a
    :class:`TextRNN` for a text task)."""
    task = make_task(spec.task.name, **spec.task.options)
    if isinstance(task, Sentiment):
        return _text.text_network_of(spec, task, row)
    options = {"activation": row.activation} if row.architecture in ACTIVATION_ARCHITECTURES else {}
    cell = make_cell(row.architecture, int(row.hidden_size), task.input_size, **options)
    return RNN(cell, task.output_size)


# --------------------------------------------------------------------------- train
def _train_config(spec: StudySpec) -> TrainConfig:
    t = spec.train
    return TrainConfig(
        max_steps=t.max_steps,
        batch_size=t.batch_size,
        state_noise=0.1 if t.state_noise is None else t.state_noise,
        grad_clip=t.grad_clip,
        eval_every=t.eval_every,
        data_seed=t.data_seed,
        stop_on_success=t.stop_on_success,
    )


def train_group_unit(spec_json: str, rows: list[dict], *, threads: int | None = None):
    """Unit of work: train one group of networks; returns their records and parameters."""
    set_threads(threads)
    spec = StudySpec.model_validate_json(spec_json)
    task = make_task(spec.task.name, **spec.task.options)
    if isinstance(task, Sentiment):
        result = _text.train_text_group(spec, task, pd.DataFrame(rows))
    else:
        result = train_population(task, pd.DataFrame(rows), _train_config(spec))
    params = {}
    for group in result.groups:
        for i, network in enumerate(group.ids):
            params[network] = {k: v[i : i + 1].numpy() for k, v in group.params.items()}
    history = {
        int(network): {c: rows[c].to_numpy(dtype=float) for c in ("step", "loss", "accuracy")}
        for network, rows in result.history.groupby("network")
    }
    return result.networks.to_dict("records"), params, history


def train_stage(spec: StudySpec, store: Store, *, executor=None, progress=False, log=print) -> None:
    executor = executor or InProcess()
    g = spec.grid
    grid = make_grid(
        g.architectures, g.hidden_sizes, g.activations, g.learning_rates, g.l2, list(range(g.seeds))
    )
    store.add_networks(grid)
    trained = set(store.networks().query("trained")["network"])
    todo = grid[~grid["network"].isin(trained)]
    keys = ["architecture", "hidden_size", "activation"]
    groups = [
        rows.astype(object).where(rows.notna(), None).to_dict("records")
        for _, rows in todo.assign(activation=todo["activation"].astype(object)).groupby(
            keys, sort=False, dropna=False
        )
    ]
    spec_json = spec.model_dump_json()
    # a network trains the same whichever group it is in, so groups commit one by one
    for _, (records, params, history) in _units(
        executor, train_group_unit, [(spec_json, rows) for rows in groups], "train", progress
    ):
        store.mark_trained(records, params, history)
        log(f"trained {len(records)} {records[0]['architecture']} networks")
    info = {"networks": len(grid)}
    task = make_task(spec.task.name, **spec.task.options)
    if isinstance(task, Sentiment):
        path = baseline_path(store)
        if not path.exists():
            store.save_arrays(path, _text.fit_baseline(task))
        baseline = store.load_arrays(path)
        info["bag_of_words_test_accuracy"] = float(baseline["test_accuracy"])
        log(f"bag-of-words baseline: test accuracy {float(baseline['test_accuracy']):.4f}")
    store.finish_stage("train", info)


def baseline_path(store: Store) -> Path:
    """Text tasks: the bag-of-words baseline's arrays."""
    return store.root / "baseline" / "bag_of_words.npz"


# ------------------------------------------------------------------------- analyze
def analyze_unit(
    spec_json: str, row: dict, params: dict, words=None, *, threads: int | None = None
):
    """Unit of work: fixed points, linearization and graph of one network (for a text
    task, its line attractor and the drive of ``words``, ``(ids, valences)``)."""
    set_threads(threads)
    spec = StudySpec.model_validate_json(spec_json)
    task = make_task(spec.task.name, **spec.task.options)
    if isinstance(task, Sentiment):
        arrays, n_fixed, n_stable = _text.analyze_text_network(
            spec, task, pd.Series(row), params, words
        )
        return int(row["network"]), arrays, n_fixed, n_stable
    probe = task.sample(spec.probe.batch_size, seed=spec.probe.seed)
    fp = spec.fixed_points
    net = network_of(spec, pd.Series(row))
    params = {k: torch.from_numpy(v) for k, v in params.items()}
    with torch.no_grad():
        states, _ = net.run(params, probe.inputs)
    step = net.cell.bind(params)
    candidates = dynamics.sample_candidates(
        states, fp.candidates, noise=fp.noise, seed=int(row["network"])
    )
    fps = dynamics.find_fixed_points(
        step, candidates, torch.zeros(task.input_size), tol_q=fp.tol_q, tol_unique=fp.tol_unique
    )
    edges = np.zeros((0, 2), dtype=np.int64)
    if fp.graph and len(fps):
        graph = dynamics.unstable_manifold_graph(step, fps)
        edges = np.array(list(graph.edges), dtype=np.int64).reshape(-1, 2)
    lin = fps.linearization
    size = net.state_size
    arrays = {
        "probe_states": states[0, ..., : net.hidden_size].reshape(-1, net.hidden_size).numpy(),
        "points": fps.points.numpy(),
        "q": fps.q.numpy(),
        "inputs": fps.inputs.numpy(),
        "fixed": (fps.kind == "fixed"),
        "jacobians": np.zeros((0, size, size)) if lin is None else lin.jacobian.numpy(),
        "input_jacobians": np.zeros((0, size, task.input_size))
        if lin is None
        else lin.input_jacobian.numpy(),
        "eigenvalues_real": np.zeros((0, size)) if lin is None else lin.eigenvalues.real.numpy(),
        "eigenvalues_imag": np.zeros((0, size)) if lin is None else lin.eigenvalues.imag.numpy(),
        "graph_edges": edges,
    }
    reader = readouts.READOUTS.get(spec.task.name)
    if reader is not None:
        arrays.update(reader(task, net, params, step, fps, states))
    n_stable = int(fps.is_stable.sum()) if len(fps) else 0
    return int(row["network"]), arrays, len(fps), n_stable


def analyze_stage(
    spec: StudySpec, store: Store, *, executor=None, progress=False, log=print
) -> None:
    executor = executor or InProcess()
    frame = store.networks()
    if not frame["trained"].all():
        raise RuntimeError("not every network is trained yet; run the train stage first.")
    todo = frame[~frame["analyzed"] & (frame["status"] != "diverged")]
    spec_json = spec.model_dump_json()
    words = None
    if spec.task.name == "sentiment":
        words = _text.valence_words(store.load_arrays(baseline_path(store)))
    units = [
        (
            spec_json,
            {k: (None if pd.isna(v) else v) for k, v in row.items()},
            store.load_arrays(store.params_path(int(row["network"]))),
            words,
        )
        for row in todo.to_dict("records")
    ]
    for _, (network, arrays, n_fixed, n_stable) in _units(
        executor, analyze_unit, units, "analyze", progress
    ):
        store.mark_analyzed(network, arrays, n_fixed, n_stable)
        log(f"analyzed network {network}: {n_fixed} fixed points, {n_stable} stable")
    store.finish_stage("analyze", {"networks": len(frame)})


def load_fixed_points(store: Store, network: int):
    """Rebuild a network's ``FixedPoints`` and unstable-manifold graph from the store."""
    a = store.load_arrays(store.analysis_path(network))
    points = torch.from_numpy(a["points"])
    lin = dynamics.Linearization(
        points,
        torch.from_numpy(a["inputs"]),
        torch.from_numpy(a["jacobians"]),
        torch.from_numpy(a["input_jacobians"]),
        torch.complex(
            torch.from_numpy(a["eigenvalues_real"]), torch.from_numpy(a["eigenvalues_imag"])
        ),
    )
    fps = dynamics.FixedPoints(
        points,
        torch.from_numpy(a["q"]),
        torch.from_numpy(a["inputs"]),
        torch.zeros(len(points), dtype=torch.long),
        np.where(a["fixed"], "fixed", "slow"),
        lin if len(points) else None,
    )
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(points)))
    graph.add_edges_from(a["graph_edges"].tolist())
    return fps, graph, a["probe_states"]


# ------------------------------------------------------------------------- compare
def distance_block(metric: str, a: list, b: list, *, threads: int | None = None) -> np.ndarray:
    """Unit of work: one block of a geometry distance matrix."""
    set_threads(threads)
    return compare.cross(metric, a, b)


def _geometry(
    metric: str, states: list, executor, block: int = 128, progress: bool = False
) -> np.ndarray:
    """A distance matrix assembled from blocks of ``block`` networks, one unit each (a
    study of up to ``block`` networks is one unit, prepared once as ``pairwise`` would)."""
    n = len(states)
    starts = list(range(0, n, block))
    units = [
        (metric, states[i : i + block], states[j : j + block])
        for i in starts
        for j in starts
        if j >= i
    ]
    where = [(i, j) for i in starts for j in starts if j >= i]
    out = np.zeros((n, n))
    for k, d in _units(executor, distance_block, units, f"compare {metric}", progress):
        i, j = where[k]
        out[i : i + d.shape[0], j : j + d.shape[1]] = d
        out[j : j + d.shape[1], i : i + d.shape[0]] = d.T
    out = 0.5 * (out + out.T)
    np.fill_diagonal(out, 0.0)
    return out


def compare_stage(
    spec: StudySpec, store: Store, *, executor=None, progress=False, log=print
) -> None:
    if store.stage_done("compare"):
        return
    frame = store.networks()
    if not frame.loc[frame["status"] != "diverged", "analyzed"].all():
        raise RuntimeError("not every network is analyzed yet; run the analyze stage first.")
    rows = frame[frame["analyzed"]]
    states, signatures = [], []
    for row in rows.itertuples():
        fps, graph, probe_states = load_fixed_points(store, int(row.network))
        states.append(probe_states)
        params = store.load_arrays(store.params_path(int(row.network)))
        if spec.compare.topology and len(fps):
            signatures.append(
                compare.topology_signature(
                    fps,
                    readout=(params["W_out"][0], params["b_out"][0]),
                    graphs={"unstable": graph},
                )
            )
    labels = rows["architecture"].to_numpy()
    scores = {}
    # blocks of the distance matrices are the units of work (on Dask, spread over workers)
    executor = executor or InProcess()
    matrices = {
        name: _geometry(name, states, executor, progress=progress) for name in spec.compare.geometry
    }
    if spec.compare.topology and len(signatures) == len(rows):
        matrices["topology"] = compare.pairwise_topology(signatures)
    for name, d in matrices.items():
        embedding = compare.mds(d) if len(d) > 2 else np.zeros((len(d), 2))
        store.save_arrays(
            store.root / "compare" / f"{name}.npz",
            {"distances": d, "networks": rows["network"].to_numpy(), "embedding": embedding},
        )
        groups = len(set(labels.tolist()))
        scores[name] = compare.silhouette(d, labels) if 2 <= groups < len(labels) else None
        log(f"compare {name}: silhouette by architecture {scores[name]}")
    info = {"silhouette_by_architecture": scores}
    if spec.compare.recording:
        from ..interop.recordings import load_recording, rank_models

        path = Path(spec.compare.recording)  # load_spec made it relative to the study file
        recording = load_recording(path)
        for name in spec.compare.geometry:
            ranking = rank_models(states, recording, metric=name, names=rows["network"].tolist())
            store.save_arrays(
                store.root / "compare" / f"recording_{name}.npz",
                {
                    "networks": ranking["model"].to_numpy(),
                    "distances": ranking["distance"].to_numpy(),
                },
            )
        info["recording"] = str(path)
        log(f"ranked {len(rows)} networks against {path}")
    store.finish_stage("compare", info)


def load_distances(store: Store, name: str) -> dict[str, np.ndarray]:
    return store.load_arrays(store.root / "compare" / f"{name}.npz")


# -------------------------------------------------------------------------- report
def report_stage(
    spec: StudySpec, store: Store, *, executor=None, progress=False, log=print
) -> None:
    """Write ``report/summary.txt`` (the text summary it also logs) and the HTML report."""
    frame = store.networks()
    summary = architecture_summary(
        frame,
        median_fixed_points=("n_fixed", "median"),
        median_stable_points=("n_stable", "median"),
    ).set_index("architecture")
    lines = [
        f"study {spec.name!r}: task {spec.task.name} {spec.task.options}",
        "",
        summary.to_string(),
        "",
    ]
    lines += _readout_lines(spec, store, frame)
    info = store.stage_done("compare")
    if info:
        for name, score in info["silhouette_by_architecture"].items():
            lines.append(
                f"silhouette by architecture, {name}: {'n/a' if score is None else f'{score:.3f}'}"
            )
    text = "\n".join(lines) + "\n"
    store.write_text("report/summary.txt", text)
    from ..report import build_report  # the report layer sits above the study layer

    started = time.perf_counter()
    path = build_report(spec, store)
    seconds = time.perf_counter() - started
    store.finish_stage("report", {"path": str(path), "seconds": seconds})
    log(text)
    log(f"report: {path} ({seconds:.1f} s)")


def _readout_lines(spec: StudySpec, store: Store, frame: pd.DataFrame) -> list[str]:
    """The task's read-out, from the per-network arrays the analyze stage stored."""
    analyzed = frame[frame["analyzed"]].reset_index(drop=True)
    if not len(analyzed):
        return []
    per_network = [store.load_arrays(store.analysis_path(int(n))) for n in analyzed["network"]]
    if spec.task.name == "sentiment":
        table = _text.summary_table(analyzed, per_network)
        lines = [
            "read-out, best network per architecture (validation accuracy):",
            _text.best_table(table).to_string(float_format="%.3g"),
            "read-out, medians per architecture:",
            _text.architecture_table(table).to_string(float_format="%.3g"),
        ]
        path = baseline_path(store)
        if path.exists():
            lines.append(
                f"bag-of-words baseline: test accuracy {float(store.load_arrays(path)['test_accuracy']):.4f}"
            )
        return [*lines, ""]
    keys = [k for k in readouts.READOUT_KEYS if k in per_network[0]]
    if not keys:
        return []
    table = analyzed[["network", "architecture"]].copy()
    for k in keys:
        table[k] = [arrays[k] for arrays in per_network]
    lines = readouts.summary(spec.task.name, table)
    return ["read-out:", *lines, ""] if lines else []


def status(store: Store) -> pd.DataFrame:
    """What is done: counts per stage."""
    frame = store.networks()
    rows = [
        ("train", int(frame["trained"].sum()), len(frame), store.stage_done("train") is not None),
        ("analyze", int(frame["analyzed"].sum()), int((frame["status"] != "diverged").sum()),
         store.stage_done("analyze") is not None),
        ("compare", int(store.stage_done("compare") is not None), 1, store.stage_done("compare") is not None),
        ("report", int(store.stage_done("report") is not None), 1, store.stage_done("report") is not None),
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["stage", "done", "of", "finished"])
