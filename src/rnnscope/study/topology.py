"""The scaffold comparisons' per-network inputs and blocks: ``topology`` (the task's
computational scaffold) and ``linear_dynamics`` (spectra and time constants at the
stable points). Each network's signature was computed by the analyze stage and stored
with its analysis (``topology_*``, ``linear_*`` arrays): small, shipped to the worker
that computes a block."""

from __future__ import annotations

import numpy as np

from .. import compare

PREFIX = {"topology": "topology_", "linear_dynamics": "linear_"}


def signature_inputs(store, name: str, network: int) -> dict[str, np.ndarray]:
    """A network's stored signature for comparison ``name`` (prefix stripped)."""
    prefix = PREFIX[name]
    arrays = store.load_arrays(store.analysis_path(network))
    return {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}


def signature_block(name: str, a: list[dict], b: list[dict]) -> np.ndarray:
    """Distances ``[len(a), len(b)]`` between stored signatures."""
    if name == "topology":
        build = compare.TopologySignature.from_arrays
        return compare.topology_block([build(x) for x in a], [build(x) for x in b])
    build = compare.LinearDynamicsSignature.from_arrays
    return compare.linear_dynamics_block([build(x) for x in a], [build(x) for x in b])
