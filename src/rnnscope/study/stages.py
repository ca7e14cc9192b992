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
from ..cells import make_cell
from ..network import RNN
from ..tasks import make_task
from ..train import TrainConfig, make_grid, train_population
from ..train.grid import ACTIVATION_ARCHITECTURES
from .spec import StudySpec
from .store import Store

STAGES = ("train", "analyze", "compare", "report")


def run_study(
    spec: StudySpec,
    root: str | Path,
    *,
    stages: tuple[str, ...] = STAGES,
    force: str | None = None,
    progress: bool = False,
    log: Callable[[str], None] = lambda line: None,
) -> Store:
    """Run (or resume) ``stages`` of a study whose store lives in ``root``."""
    for stage in (*stages, *([force] if force else [])):
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; choose one of {', '.join(STAGES)}.")
    store = Store(root, create=True)
    store.write_text("spec.json", spec.model_dump_json(indent=2))
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


def network_of(spec: StudySpec, row) -> RNN:
    """The architecture of one network of the study."""
    task = make_task(spec.task.name, **spec.task.options)
    options = {"activation": row.activation} if row.architecture in ACTIVATION_ARCHITECTURES else {}
    cell = make_cell(row.architecture, int(row.hidden_size), task.input_size, **options)
    return RNN(cell, task.output_size)


def load_params(store: Store, network: int) -> dict[str, torch.Tensor]:
    return {
        k: torch.from_numpy(v) for k, v in store.load_arrays(store.params_path(network)).items()
    }


# --------------------------------------------------------------------------- train
def train_stage(spec: StudySpec, store: Store, *, progress=False, log=print) -> None:
    task = make_task(spec.task.name, **spec.task.options)
    g = spec.grid
    grid = make_grid(
        g.architectures, g.hidden_sizes, g.activations, g.learning_rates, g.l2, list(range(g.seeds))
    )
    store.add_networks(grid)
    trained = set(store.networks().query("trained")["network"])
    todo = grid[~grid["network"].isin(trained)]
    t = spec.train
    config = TrainConfig(
        max_steps=t.max_steps,
        batch_size=t.batch_size,
        state_noise=t.state_noise,
        grad_clip=t.grad_clip,
        eval_every=t.eval_every,
        data_seed=t.data_seed,
    )
    keys = ["architecture", "hidden_size", "activation"]
    for _, rows in todo.assign(activation=todo["activation"].astype(object)).groupby(
        keys, sort=False, dropna=False
    ):
        # a network trains the same whichever group it is in, so groups commit one by one
        result = train_population(task, rows.reset_index(drop=True), config, progress=progress)
        params = {}
        for group in result.groups:
            for i, network in enumerate(group.ids):
                params[network] = {k: v[i : i + 1].numpy() for k, v in group.params.items()}
        store.mark_trained(result.networks.to_dict("records"), params)
        log(f"trained {len(rows)} {rows['architecture'].iloc[0]} networks")
    store.finish_stage("train", {"networks": len(grid)})


# ------------------------------------------------------------------------- analyze
def analyze_stage(spec: StudySpec, store: Store, *, progress=False, log=print) -> None:
    frame = store.networks()
    if not frame["trained"].all():
        raise RuntimeError("not every network is trained yet; run the train stage first.")
    task = make_task(spec.task.name, **spec.task.options)
    probe = task.sample(spec.probe.batch_size, seed=spec.probe.seed)
    fp = spec.fixed_points
    todo = frame[~frame["analyzed"] & (frame["status"] != "diverged")]
    for row in todo.itertuples():
        net = network_of(spec, row)
        params = load_params(store, row.network)
        with torch.no_grad():
            states, _ = net.run(params, probe.inputs)
        step = net.cell.bind(params)
        candidates = dynamics.sample_candidates(
            states, fp.candidates, noise=fp.noise, seed=int(row.network)
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
            "eigenvalues_real": np.zeros((0, size))
            if lin is None
            else lin.eigenvalues.real.numpy(),
            "eigenvalues_imag": np.zeros((0, size))
            if lin is None
            else lin.eigenvalues.imag.numpy(),
            "graph_edges": edges,
        }
        n_stable = int(fps.is_stable.sum()) if len(fps) else 0
        store.mark_analyzed(int(row.network), arrays, len(fps), n_stable)
        log(f"analyzed network {row.network}: {len(fps)} fixed points, {n_stable} stable")
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
def compare_stage(spec: StudySpec, store: Store, *, progress=False, log=print) -> None:
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
    matrices = {
        name: compare.pairwise(name, states, progress=progress) for name in spec.compare.geometry
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
    store.finish_stage("compare", {"silhouette_by_architecture": scores})


def load_distances(store: Store, name: str) -> dict[str, np.ndarray]:
    return store.load_arrays(store.root / "compare" / f"{name}.npz")


# -------------------------------------------------------------------------- report
def report_stage(spec: StudySpec, store: Store, *, progress=False, log=print) -> None:
    """A text summary (the report issue replaces it with the HTML report)."""
    frame = store.networks()
    summary = (
        frame.assign(solved=frame["status"].eq("solved"), diverged=frame["status"].eq("diverged"))
        .groupby("architecture", sort=False)
        .agg(
            networks=("network", "size"),
            solved=("solved", "sum"),
            diverged=("diverged", "sum"),
            median_accuracy=("accuracy", "median"),
            median_fixed_points=("n_fixed", "median"),
            median_stable_points=("n_stable", "median"),
        )
    )
    lines = [
        f"study {spec.name!r}: task {spec.task.name} {spec.task.options}",
        "",
        summary.to_string(),
        "",
    ]
    info = store.stage_done("compare")
    if info:
        for name, score in info["silhouette_by_architecture"].items():
            lines.append(
                f"silhouette by architecture, {name}: {'n/a' if score is None else f'{score:.3f}'}"
            )
    text = "\n".join(lines) + "\n"
    path = store.write_text("report/summary.txt", text)
    store.finish_stage("report", {"path": str(path)})
    log(text)


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
