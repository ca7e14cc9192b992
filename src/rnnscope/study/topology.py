"""The topology comparison's per-network inputs and blocks.

A network's signature is built from its stored fixed points, graph and readout (small
arrays, shipped to the worker that computes a block)."""

from __future__ import annotations

import numpy as np

from .. import compare
from .families import fixed_points_from_arrays

_KEYS = ("points", "q", "inputs", "fixed", "eigenvalues_real", "eigenvalues_imag", "graph_edges")


def topology_inputs(store, network: int) -> dict[str, np.ndarray]:
    """What one network's topology signature is built from."""
    arrays = store.load_arrays(store.analysis_path(network), _KEYS)
    params = store.load_arrays(store.params_path(network), ("W_out", "b_out"))
    return {**arrays, "W_out": params["W_out"][0], "b_out": params["b_out"][0]}


def _signature(a: dict):
    if not len(a["points"]):
        return None
    arrays = {
        **a,
        "jacobians": np.zeros((len(a["points"]), 0, 0)),
        "input_jacobians": np.zeros((len(a["points"]), 0, 0)),
    }
    fps, graph = fixed_points_from_arrays(arrays)
    return compare.topology_signature(
        fps, readout=(a["W_out"], a["b_out"]), graphs={"unstable": graph}
    )


def topology_block(a: list[dict], b: list[dict]) -> np.ndarray:
    """Distances ``[len(a), len(b)]``; a network without fixed points is at distance 1."""
    sa, sb = [_signature(x) for x in a], [_signature(x) for x in b]
    out = np.ones((len(sa), len(sb)))
    for i, x in enumerate(sa):
        for j, y in enumerate(sb):
            if x is not None and y is not None:
                out[i, j] = compare.topology_distance(x, y)
    return out
