"""Reading a study: ``rs.study.load(path)`` for notebooks, and for the report.

Everything is read-only: opening a study never writes to its folder (a read-only folder
works), and nothing here holds more than what is asked for — a 10,000-network study's
distance matrix is read from its ``.npy`` file (memory-mapped with ``mmap=True``), per-
network arrays one network at a time.

Example::

    import rnnscope as rs
    study = rs.study.load("rnnscope-study")
    study.networks.groupby("architecture")[["accuracy", "n_stable", "n_index1"]].median()
    fps = study.fixed_points(3)            # FixedPoints, Jacobians recomputed exactly
    d = study.distances("svcca")           # DataFrame indexed by network id
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import torch

from .. import dynamics
from .families import family_of, fixed_points_from_arrays
from .spec import stored_spec
from .store import Store, StoreError

#: the columns of :attr:`Study.networks` (hyperparameters, training, fixed-point counts)
NETWORK_COLUMNS = [
    "network", "architecture", "hidden_size", "activation", "learning_rate", "l2", "seed",
    "grad_clip", "embedding_size", "status", "steps", "loss", "eval_loss", "accuracy", "test_accuracy", "wall_time_s",
    "trained", "analyzed", "n_fixed", "n_stable", "n_index1", "n_index2", "n_index3_plus", "memory",
    "train_host", "train_pid", "analyze_host", "analyze_pid",
]  # fmt: skip


class Study:
    """A study folder, read-only. Build it with :func:`load`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.store = Store(self.root, readonly=True)
        text = self.store.spec_json()
        if text is None:
            raise StoreError(f"{self.root}: holds no spec yet; run the study first.")
        self.spec = stored_spec(text)
        self.family = family_of(self.spec.task.name)

    def __repr__(self) -> str:
        frame = self.networks
        return f"Study({str(self.root)!r}: {self.spec.name!r}, {len(frame)} networks, {int(frame['analyzed'].sum())} analyzed)"

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Study:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----------------------------------------------------------------- tables
    @property
    def networks(self) -> pd.DataFrame:
        """One row per network: hyperparameters, status, accuracy (text: best
        validation; ``test_accuracy``), fixed-point counts by number of unstable
        directions (``n_stable``, ``n_index1``, ``n_index2``, ``n_index3_plus``), what
        holds its memories (``memory``: fixed points, period-k orbits, neither), and the
        host and process that trained and analysed it."""
        frame = self.store.networks()
        return frame[[c for c in NETWORK_COLUMNS if c in frame]]

    def stage(self, name: str) -> dict | None:
        """A finished stage's record (``None`` if it has not finished)."""
        return self.store.stage_done(name)

    @property
    def spec_history(self) -> pd.DataFrame:
        """Every spec the study ran with (the first is kept when it grows or is forced)."""
        return self.store.spec_history()

    @property
    def comparisons(self) -> list[str]:
        """Names of the distance matrices the compare stage stored."""
        info = self.stage("compare") or {}
        return [
            n
            for n in info.get("silhouette_by_architecture", {})
            if self.store.compare_path(n).exists()
        ]

    def _row(self, network: int) -> dict:
        rows = self.store.networks()
        match = rows[rows["network"] == int(network)]
        if match.empty:
            raise KeyError(
                f"no network {network} in {self.root}; ids are study.networks['network']."
            )
        return {k: (None if pd.isna(v) else v) for k, v in match.iloc[0].to_dict().items()}

    # ---------------------------------------------------------- per network
    def params(self, network: int) -> dict[str, np.ndarray]:
        """Trained parameters, each ``[1, ...]`` (as ``RNN.param_shapes()``)."""
        self._row(network)
        return self.store.load_arrays(self.store.params_path(int(network)))

    def history(self, network: int) -> dict[str, np.ndarray]:
        """Training curve: ``step, loss, accuracy`` (NaN where not evaluated)."""
        self._row(network)
        return self.store.load_arrays(self.store.history_path(int(network)))

    def analysis(self, network: int, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
        """The analyze stage's arrays for one network (``keys``: just these)."""
        self._row(network)
        return self.store.load_arrays(self.store.analysis_path(int(network)), keys)

    def network(self, network: int):
        """``(net, params)``: the architecture (``RNN`` or ``TextRNN``) and its trained
        parameters as float64 tensors ``[1, ...]``."""
        row = self._row(network)
        params = {k: torch.from_numpy(v).double() for k, v in self.params(network).items()}
        return self.family.network(self.spec, row), params

    def step(self, network: int):
        """The network's map ``F(h, x)`` in float64 (closed-form Jacobians)."""
        net, params = self.network(network)
        return net.step_function(params) if hasattr(net, "step_function") else net.cell.bind(params)

    def fixed_points(self, network: int) -> dynamics.FixedPoints:
        """The network's fixed and slow points, their Jacobians and eigenmodes
        recomputed (exactly, in float64) from its parameters at the stored points."""
        a = self.analysis(network)
        lin = None
        if len(a["points"]):
            lin = dynamics.linearize(
                self.step(network), torch.from_numpy(a["points"]), torch.from_numpy(a["inputs"])
            )
        return fixed_points_from_arrays(a, lin)[0]

    def graph(self, network: int) -> nx.DiGraph:
        """Unstable-manifold graph over the rows of :meth:`fixed_points` (saddle → the
        stable points its unstable directions reach)."""
        a = self.analysis(network, ("points", "graph_edges"))
        graph = nx.DiGraph()
        graph.add_nodes_from(range(len(a["points"])))
        graph.add_edges_from(a["graph_edges"].tolist())
        return graph

    def probe_states(self, network: int) -> np.ndarray:
        """Hidden states on the study's probe inputs, ``[trials, time, hidden]``,
        recomputed from the parameters (the store does not keep them)."""
        row = self._row(network)
        return self.family.probe_states(self.spec, row, self.params(network))

    # ------------------------------------------------------------ population
    def _compare_file(self, name: str) -> dict[str, np.ndarray]:
        if self.stage("compare") is None:  # a running or stopped compare: matrices partial
            raise StoreError(
                f"{self.root}: the compare stage has not finished; run `rnnscope run {self.root}` to finish it."
            )
        path = self.store.compare_path(name)
        if not path.exists():
            known = ", ".join(self.comparisons) or "none yet: run the compare stage"
            raise KeyError(f"no comparison {name!r} in {self.root} (known: {known}).")
        return self.store.load_arrays(path)

    def distances(self, name: str, *, as_frame: bool = True, mmap: bool = False):
        """Distance matrix ``name`` (e.g. ``"svcca"``, ``"topology"``): a DataFrame
        indexed by network id on both axes, or (``as_frame=False``) ``(ids, array)``
        with the array memory-mapped if ``mmap``."""
        ids = self._compare_file(name)["networks"]
        path = self.store.compare_path(name, ".distances.npy")
        d = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        if not as_frame:
            return ids, d
        return pd.DataFrame(
            np.asarray(d, dtype=np.float64), index=pd.Index(ids, name="network"), columns=ids
        )

    def embedding(self, name: str) -> pd.DataFrame:
        """The 2-D embedding (classical MDS) of distance matrix ``name``: ``network, x, y``
        with the networks' architecture and activation."""
        data = self._compare_file(name)
        frame = pd.DataFrame(
            {
                "network": data["networks"],
                "x": data["embedding"][:, 0],
                "y": data["embedding"][:, 1],
            }
        )
        info = self.networks.set_index("network")[["architecture", "activation", "hidden_size"]]
        return frame.join(info, on="network")

    def verdict(self) -> pd.DataFrame | None:
        """The verdict in numbers for every distance matrix (``compare.verdict_table``:
        silhouette, k-NN decoding with its chance level, permutation p-values, by
        architecture, activation and both, over all networks and within each hidden
        size), or ``None`` before the compare stage."""
        path = self.root / "compare" / "verdict.csv"
        if self.stage("compare") is None or not path.exists():
            return None
        return pd.read_csv(path)

    def recording_ranking(self, metric: str) -> pd.DataFrame | None:
        """Networks ranked against the study's recording (closest first), if it has one."""
        path = self.store.compare_path(f"recording_{metric}")
        if not path.exists():
            return None
        data = self.store.load_arrays(path)
        return pd.DataFrame({"network": data["networks"], "distance": data["distances"]})

    @property
    def task_label(self) -> str:
        """The task with its whole configuration, e.g. ``FlipFlop(bits=3, steps=100, …)``."""
        from .summary import task_label

        return task_label(self.spec)

    def readout_table(self) -> pd.DataFrame | None:
        """Per analyzed network, the read-out scalars its family stores (text tasks:
        line attractor, time constants, valence AUC, linearized accuracy; ``None`` for
        families without a scalar read-out)."""
        frame = self.networks
        analyzed = frame[frame["analyzed"]].reset_index(drop=True)
        per_network = [self.analysis(int(n)) for n in analyzed["network"]]
        return self.family.readout_table(analyzed, per_network)

    def baseline(self) -> dict[str, np.ndarray] | None:
        """Text studies: the bag-of-words baseline's arrays (``test_accuracy``, …)."""
        path = self.root / "baseline" / "bag_of_words.npz"
        return self.store.load_arrays(path) if path.exists() else None


def load(path: str | Path) -> Study:
    """Open a study folder read-only (see :class:`Study`)."""
    return Study(path)
