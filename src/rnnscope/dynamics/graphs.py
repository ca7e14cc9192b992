"""How fixed points connect: unstable-manifold and input-transition graphs."""

from __future__ import annotations

import math

import networkx as nx
import torch

from ._steps import Step, autonomous_if_needed, call_step, step_in_dtype
from .fixed_points import FixedPoints


def _nodes(fixed_points: FixedPoints) -> nx.DiGraph:
    graph = nx.DiGraph()
    stable = fixed_points.is_stable
    for i in range(len(fixed_points)):
        graph.add_node(
            i,
            network=int(fixed_points.network[i]),
            kind=str(fixed_points.kind[i]),
            stable=bool(stable[i]),
            n_unstable=int(fixed_points.n_unstable[i]),
            point=fixed_points.points[i].cpu().numpy(),
        )
    graph.graph["unresolved"] = []
    return graph


def _settle(
    step: Step, fixed_points: FixedPoints, owners, starts, inputs, pulses, max_steps, settle_tol
):
    """Run each start (``owners[k]`` is its fixed point) through ``pulses`` then at rest;
    returns final states ``[K, S]``. Starts are grouped by network into one batch."""
    step = autonomous_if_needed(step, inputs.shape[-1])
    step = step_in_dtype(step, starts.dtype)  # points come polished in float64
    net_shape = fixed_points.info.get("network_shape", ())
    n_net = math.prod(net_shape)
    size = starts.shape[-1]
    network = fixed_points.network[owners]
    width = int(torch.bincount(network, minlength=n_net).max())
    slot = torch.zeros(len(owners), dtype=torch.long)
    seen = [0] * n_net
    for k, b in enumerate(network.tolist()):
        slot[k], seen[b] = seen[b], seen[b] + 1
    h = starts.new_zeros(n_net, width, size)
    x = inputs.new_zeros(n_net, width, inputs.shape[-1])
    h[network, slot], x[network, slot] = starts, inputs

    def shaped(t):
        return (
            t.reshape(*net_shape, width, t.shape[-1])
            if net_shape
            else t.reshape(width, t.shape[-1])
        )

    def advance(h, drive):
        return call_step(step, shaped(h), shaped(drive)).reshape(h.shape)

    with torch.no_grad():
        for pulse in pulses:
            h = advance(h, pulse.to(h.dtype).expand_as(x))
        for t in range(max_steps):
            new = advance(h, x)
            done = t % 50 == 49 and bool(((new - h).norm(dim=-1) < settle_tol).all())
            h = new
            if done:
                break
    return h[network, slot]


def _nearest_stable(fixed_points: FixedPoints, finals, owners, match_tol):
    """Index of the stable point (same network) nearest each final state, or -1."""
    stable = fixed_points.is_stable.nonzero().flatten()
    out = []
    scales = fixed_points.info.get("scale", [1.0])
    for k, state in enumerate(finals):
        b = int(fixed_points.network[owners[k]])
        mine = stable[fixed_points.network[stable] == b]
        if len(mine) == 0:
            out.append(-1)
            continue
        d = (fixed_points.points[mine] - state).norm(dim=-1)
        j = int(d.argmin())
        out.append(int(mine[j]) if d[j] <= match_tol * scales[b] else -1)
    return out


def unstable_manifold_graph(
    step: Step,
    fixed_points: FixedPoints,
    *,
    eps: float = 1e-2,
    max_steps: int = 5000,
    settle_tol: float = 1e-7,
    match_tol: float = 0.05,
) -> nx.DiGraph:
    """Where each saddle's unstable directions lead.

    From every fixed point with unstable directions, step off by ``±eps · scale`` along
    each unstable eigenvector (the real part; one of each complex pair), run the
    dynamics under the point's input until it settles, and link the saddle to the
    stable point reached (same network, within ``match_tol · scale``).

    Returns:
        ``networkx.DiGraph``: nodes are row indices of ``fixed_points`` (attributes
        ``network``, ``kind``, ``stable``, ``n_unstable``, ``point``); an edge
        ``saddle → stable`` carries ``via``, a list of ``(mode, sign)``. Ends that
        matched no stable point are listed in ``graph.graph["unresolved"]``.
    """
    graph = _nodes(fixed_points)
    lin = fixed_points._lin()
    scales = fixed_points.info.get("scale", [1.0] * int(fixed_points.network.max() + 1))
    owners, starts, labels = [], [], []
    for i in (fixed_points.n_unstable > 0).nonzero().flatten().tolist():
        for a in range(fixed_points.points.shape[-1]):
            lam = lin.eigenvalues[i, a]
            if lam.abs() <= 1 or lam.imag < 0:
                continue
            vec = lin.right_eigenvectors[i, :, a]
            v = vec.real if vec.real.norm() > 1e-8 else vec.imag
            v = (v / v.norm()).to(fixed_points.points.dtype)
            step_size = eps * scales[int(fixed_points.network[i])]
            for sign in (1, -1):
                owners.append(i)
                starts.append(fixed_points.points[i] + sign * step_size * v)
                labels.append((a, sign))
    if not owners:
        return graph
    owners_t = torch.tensor(owners)
    finals = _settle(
        step,
        fixed_points,
        owners_t,
        torch.stack(starts),
        fixed_points.inputs[owners_t],
        [],
        max_steps,
        settle_tol,
    )
    for k, j in enumerate(_nearest_stable(fixed_points, finals, owners_t, match_tol)):
        i = owners[k]
        if j < 0:
            graph.graph["unresolved"].append((i, labels[k]))
        elif graph.has_edge(i, j):
            graph.edges[i, j]["via"].append(labels[k])
        else:
            graph.add_edge(i, j, via=[labels[k]])
    return graph


def input_transition_graph(
    step: Step,
    fixed_points: FixedPoints,
    pulses: dict[str, torch.Tensor],
    *,
    rest_input: torch.Tensor | None = None,
    max_steps: int = 5000,
    settle_tol: float = 1e-7,
    match_tol: float = 0.05,
) -> nx.DiGraph:
    """Where each input pulse takes each stable point.

    Args:
        pulses: name -> input ``[I]`` (one step) or ``[T, I]`` (a sequence).
        rest_input: the input after the pulse (default: each point's own ``x*``).

    Returns:
        ``networkx.DiGraph`` over the fixed points (as :func:`unstable_manifold_graph`)
        with an edge ``stable i → stable j`` carrying ``pulses``, the names that take
        ``i`` to ``j`` (self-loops included).
    """
    graph = _nodes(fixed_points)
    stable = fixed_points.is_stable.nonzero().flatten()
    if len(stable) == 0:
        return graph
    rest = (
        fixed_points.inputs[stable]
        if rest_input is None
        else torch.as_tensor(rest_input, dtype=fixed_points.inputs.dtype).expand(len(stable), -1)
    )
    for name, pulse in pulses.items():
        seq = torch.as_tensor(pulse, dtype=fixed_points.points.dtype)
        seq = seq.unsqueeze(0) if seq.dim() == 1 else seq
        if seq.shape[-1] != fixed_points.inputs.shape[-1]:
            raise ValueError(
                f"pulse {name!r} has width {seq.shape[-1]}, expected {fixed_points.inputs.shape[-1]}."
            )
        finals = _settle(
            step,
            fixed_points,
            stable,
            fixed_points.points[stable],
            rest,
            list(seq),
            max_steps,
            settle_tol,
        )
        for k, j in enumerate(_nearest_stable(fixed_points, finals, stable, match_tol)):
            i = int(stable[k])
            if j < 0:
                graph.graph["unresolved"].append((i, name))
            elif graph.has_edge(i, j):
                graph.edges[i, j]["pulses"].append(name)
            else:
                graph.add_edge(i, j, pulses=[name])
    return graph
