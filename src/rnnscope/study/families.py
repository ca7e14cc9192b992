"""Task families: how a study of each kind of task trains, analyses and reads out.

Stages never ask which task they run: they ask the study's family.

- :data:`TRIAL` — tasks that generate trials (flip-flop, sine wave, context
  integration, neurogym): trained by steps on fresh batches, analysed by fixed points,
  linearization and the unstable-manifold graph, read out per task
  (:mod:`rnnscope.study.readouts`).
- :data:`TEXT` — corpora (sentiment): trained by epochs with validation early stopping,
  a bag-of-words baseline, analysed as line attractors.

A family is a small object; a new kind of task adds one and registers its task names
in :data:`FAMILY_OF_TASK`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .. import compare, dynamics
from ..cells import make_cell
from ..network import RNN
from ..tasks import make_task
from ..train import TrainConfig, train_population
from ..train.grid import ACTIVATION_ARCHITECTURES
from . import readouts
from .spec import TextFixedPointSpec, TextTrainSpec, TrialFixedPointSpec, TrialTrainSpec


def _activation(row) -> str | None:
    act = row.get("activation") if isinstance(row, dict) else getattr(row, "activation", None)
    return None if act is None or (isinstance(act, float) and np.isnan(act)) else act


def _tensors(params: dict[str, np.ndarray], device: str = "cpu") -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(np.asarray(v)).to(device) for k, v in params.items()}


@dataclass(frozen=True)
class TrialFamily:
    """Trial tasks: ``rnnscope.tasks.Task`` objects with ``sample(batch_size, seed)``."""

    name: str = "trial"
    #: which network stands for its architecture in figures: the median on accuracy
    representative: str = "median"
    train_spec: type = TrialTrainSpec
    fixed_point_spec: type = TrialFixedPointSpec

    def task(self, spec):
        return make_task(spec.task.name, **spec.task.options)

    def network(self, spec, row) -> RNN:
        task = self.task(spec)
        arch = row["architecture"]
        options = {"activation": _activation(row)} if arch in ACTIVATION_ARCHITECTURES else {}
        return RNN(
            make_cell(arch, int(row["hidden_size"]), task.input_size, **options), task.output_size
        )

    def train(self, spec, rows: pd.DataFrame, *, device: str = "cpu"):
        # the [train] section's fields are TrainConfig's, by name
        config = TrainConfig(**spec.train.model_dump(), device=device)
        return train_population(self.task(spec), rows, config)

    def setup(self, spec, store) -> dict:
        """Study-wide inputs of the analysis (none for trial tasks)."""
        return {}

    def probe(self, spec):
        return self.task(spec).sample(spec.probe.batch_size, seed=spec.probe.seed)

    def probe_inputs(self, spec) -> np.ndarray | None:
        """The probe trials' inputs ``[trials, time, input_size]`` (DSA's input-aware fit)."""
        return self.probe(spec).inputs.numpy().astype(np.float64)

    def probe_states(self, spec, row, params, *, device: str = "cpu") -> np.ndarray:
        """Hidden states ``h`` (for an LSTM not ``c``) on the study's probe trials,
        ``[trials, time, hidden]`` float32 — rebuilt from the parameters, exactly."""
        net = self.network(spec, row)
        with torch.no_grad():
            states, _ = net.run(_tensors(params, device), self.probe(spec).inputs.to(device))
        return states[0, ..., : net.hidden_size].float().cpu().numpy()

    def analyze(self, spec, row, params, setup: dict, *, device: str = "cpu") -> dict:
        """Fixed points, linearization, graph and read-out of one network: the arrays the
        store keeps (never the probe states: they are recomputed from the parameters)."""
        task = self.task(spec)
        fp = spec.fixed_points
        net = self.network(spec, row)
        params = _tensors(params, device)
        with torch.no_grad():
            states, _ = net.run(params, self.probe(spec).inputs.to(device))
        step = net.cell.bind(params)
        zeros = torch.zeros(task.input_size, device=device)
        # the default scaffold search: noisy visited states plus seeds on the basin
        # boundaries between attractors, so the saddles joining them are found
        fps = dynamics.find_scaffold(
            step,
            states[0],
            zeros,
            n_candidates=fp.candidates,
            noise=fp.noise,
            seed=int(row["network"]),
            tol_q=fp.tol_q,
            tol_unique=fp.tol_unique,
        )

        def readout(h):  # the network's output at states h [M, S] (an LSTM reads h of [h; c])
            return net.readout(params, h.to(params["W_out"].dtype)[None])[0]

        memory = dynamics.memory_structure(
            step,
            states[0],
            zeros,
            readout=readout,
            fixed_points=fps,
            seed=int(row["network"]),
        )
        edges, graph = np.zeros((0, 2), dtype=np.int64), None
        if fp.graph and len(fps):
            graph = dynamics.unstable_manifold_graph(step, fps)
            edges = np.array(list(graph.edges), dtype=np.int64).reshape(-1, 2)
        arrays = {**fixed_point_arrays(fps, net.state_size, task.input_size), "graph_edges": edges}
        arrays.update(linear_arrays(fps))
        arrays.update(memory_arrays(memory))
        reader = readouts.READOUTS.get(spec.task.name)
        if reader is not None:
            arrays.update(reader(task, net, params, step, fps, states, graph=graph))
        else:  # a task without a read-out: its scaffold is what the counts say
            arrays.update(readouts.signature_arrays(compare.topology_signature(fps)))
        return arrays

    def readout_table(self, table: pd.DataFrame, per_network: list[dict]) -> pd.DataFrame | None:
        return None

    def readout_lines(self, spec, table: pd.DataFrame, per_network: list[dict]) -> list[str]:
        keys = [k for k in readouts.READOUT_KEYS if per_network and k in per_network[0]]
        if not keys:
            return []
        table = table[[c for c in ("network", "architecture", "status") if c in table]].copy()
        for k in keys:
            table[k] = [arrays[k] for arrays in per_network]
        lines = readouts.summary(spec.task.name, table)
        return ["read-out:", *lines] if lines else []


@dataclass(frozen=True)
class TextFamily(TrialFamily):
    """Text corpora (sentiment): ``rnnscope.tasks.text.Sentiment``."""

    name: str = "text"
    #: the best on validation, as the sentiment paper reports its networks
    representative: str = "best"
    train_spec: type = TextTrainSpec
    fixed_point_spec: type = TextFixedPointSpec

    def network(self, spec, row):
        from . import _text

        return _text.text_network_of(spec, self.task(spec), row)

    def train(self, spec, rows: pd.DataFrame, *, device: str = "cpu"):
        from . import _text

        return _text.train_text_group(spec, self.task(spec), rows, device=device)

    def setup(self, spec, store) -> dict:
        """The bag-of-words baseline (fitted once per study) and its valence words."""
        from . import _text

        path = store.root / "baseline" / "bag_of_words.npz"
        if not path.exists():
            store.save_arrays(path, _text.fit_baseline(self.task(spec)))
        baseline = store.load_arrays(path)
        return {
            "words": _text.valence_words(baseline),
            "baseline_accuracy": float(baseline["test_accuracy"]),
        }

    def probe_inputs(self, spec) -> None:
        """Each network embeds the words itself: DSA on text fits the intrinsic dynamics."""
        return None

    def probe_states(self, spec, row, params, *, device: str = "cpu") -> np.ndarray:
        """Hidden states on the probe reviews, padded steps dropped: ``[1, tokens, hidden]``."""
        from . import _text

        net = self.network(spec, row)
        tokens, lengths, _ = _text.probe_texts(
            self.task(spec), spec.probe.batch_size, spec.probe.seed
        )
        with torch.no_grad():
            states, _ = net.run(_tensors(params, device), tokens, lengths)
        mask = torch.arange(tokens.shape[1])[None, :] < lengths[:, None]
        return states[0][mask][None, :, : net.hidden_size].float().cpu().numpy()

    def analyze(self, spec, row, params, setup: dict, *, device: str = "cpu") -> dict:
        from . import _text

        arrays = _text.analyze_text_network(
            spec, self.task(spec), pd.Series(row), params, setup["words"], device=device
        )
        fps, _ = fixed_points_from_arrays(arrays)  # stability from the stored eigenvalues
        arrays.update(readouts.signature_arrays(compare.topology_signature(fps)))
        arrays.update(linear_arrays(fps))
        return arrays

    def readout_table(self, table: pd.DataFrame, per_network: list[dict]) -> pd.DataFrame | None:
        from . import _text

        return _text.summary_table(table, per_network)

    def readout_lines(self, spec, table: pd.DataFrame, per_network: list[dict]) -> list[str]:
        from . import _text

        summary = _text.summary_table(table, per_network)
        lines = []
        if (table.groupby("architecture").size() > 1).any():
            selection = _text.selection_table(table)
            lines += [
                f"selection: {len(selection)} networks searched, the best per architecture on "
                "validation accuracy is analysed below (selected = True):",
                selection.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
            ]
        lines += [
            "read-out, best network per architecture (validation accuracy):",
            _text.best_table(summary).T.to_string(float_format="%.3g"),
            "read-out, medians per architecture:",
            _text.architecture_table(summary).T.to_string(float_format="%.3g"),
        ]
        modifiers = _text.modifier_table(summary, per_network)
        if len(modifiers):
            lines += [
                "modifier words, best network per architecture (gain on the next valence "
                "word: −1 flips it, 2 doubles it):",
                modifiers.to_string(float_format=lambda v: f"{v:.3g}"),
            ]
        return lines


TRIAL = TrialFamily()
TEXT = TextFamily()

#: task name -> its family (every task in ``rnnscope.tasks.TASKS`` has one)
FAMILY_OF_TASK = {
    "flipflop": TRIAL,
    "sine": TRIAL,
    "context": TRIAL,
    "neurogym": TRIAL,
    "sentiment": TEXT,
}


def family_of(task_name: str) -> TrialFamily:
    try:
        return FAMILY_OF_TASK[task_name]
    except KeyError:
        raise ValueError(f"task {task_name!r} belongs to no study family.") from None


def memory_arrays(memory) -> dict[str, np.ndarray]:
    """What holds the network's memories (``dynamics.memory_structure``) as arrays."""
    return {
        "memory_holder": np.array(memory.holder),
        "memory_period": np.array(memory.period),
        "memory_patterns": np.array(memory.n_patterns),
        "memory_stable_orbits": np.array(memory.n_stable_orbits),
    }


def memory_label(arrays: dict) -> str | None:
    """``"fixed points"``, ``"period-2 orbits"``, ``"neither"`` (``None`` if not analysed)."""
    if "memory_holder" not in arrays:
        return None
    holder = str(arrays["memory_holder"])
    return {"fixed_points": "fixed points", "neither": "neither"}.get(
        holder, f"period-{int(arrays['memory_period'])} orbits"
    )


def linear_arrays(fps) -> dict[str, np.ndarray]:
    """The "linear dynamics" signature (top |λ| and time constants at the stable
    points) as store arrays ``linear_spectrum``, ``linear_log_tau``."""
    if not len(fps) or fps.linearization is None:
        return {"linear_spectrum": np.zeros(0), "linear_log_tau": np.zeros(0)}
    signature = compare.linear_dynamics_signature(fps)
    return {f"linear_{k}": v for k, v in signature.to_arrays().items()}


# ------------------------------------------------------------ fixed points <-> arrays
def fixed_point_arrays(fps, state_size: int, input_size: int) -> dict:
    """A ``FixedPoints`` as store arrays (the one place that writes them). The Jacobians
    are not kept: the read API recomputes them exactly from the parameters at the points
    (an S × S matrix per point would be most of a study's store)."""
    lin = fps.linearization
    empty = lin is None or not len(fps)
    return {
        "points": fps.points.double().cpu().numpy(),
        "q": fps.q.double().cpu().numpy(),
        "inputs": fps.inputs.double().cpu().numpy().reshape(len(fps), -1)
        if len(fps)
        else np.zeros((0, input_size)),
        "fixed": np.asarray(fps.kind == "fixed", dtype=bool),
        "eigenvalues_real": np.zeros((0, state_size))
        if empty
        else lin.eigenvalues.real.cpu().numpy(),
        "eigenvalues_imag": np.zeros((0, state_size))
        if empty
        else lin.eigenvalues.imag.cpu().numpy(),
        # the certificate's numbers per point (rs.dynamics.Certify), as to_dataframe() shows
        **{f"certificate_{k}": np.asarray(v) for k, v in (fps.certificate or {}).items()},
    }


def fixed_points_from_arrays(a: dict, linearization=None):
    """Rebuild a ``FixedPoints`` from store arrays (the one place that reads them) and
    the unstable-manifold graph as a ``networkx.DiGraph``. ``linearization``: one
    recomputed at the points (the store keeps only their eigenvalues); without it, the
    eigenvalues alone (enough for stability and counts)."""
    import networkx as nx

    points = torch.from_numpy(a["points"])
    inputs = torch.from_numpy(a["inputs"])
    lin = linearization
    if lin is None and len(points):
        size = points.shape[-1]
        lin = dynamics.Linearization(
            points,
            inputs,
            torch.zeros(len(points), size, 0, dtype=torch.float64),  # not stored
            torch.zeros(len(points), size, 0, dtype=torch.float64),
            torch.complex(
                torch.from_numpy(a["eigenvalues_real"]), torch.from_numpy(a["eigenvalues_imag"])
            ),
        )
    certificate = {
        k.removeprefix("certificate_"): v for k, v in a.items() if k.startswith("certificate_")
    }
    fps = dynamics.FixedPoints(
        points,
        torch.from_numpy(a["q"]),
        inputs,
        torch.zeros(len(points), dtype=torch.long),
        np.where(a["fixed"], "fixed", "slow"),
        lin,
        certificate=certificate or None,
    )
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(points)))
    graph.add_edges_from(np.asarray(a.get("graph_edges", np.zeros((0, 2), int))).tolist())
    return fps, graph
