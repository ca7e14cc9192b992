"""Task-specific scientific read-outs, computed per network in the analyze stage.

- flip-flop: stable points and the distinct output corners they give (2^bits when the
  network stores every memory), plus the unstable-manifold graph (stored by analyze);
- sine wave: for each of a few cued frequencies, the network's own oscillation under
  that static input (its limit cycle), the fixed point that oscillation orbits, and the
  frequency its linearization predicts (``|arg λ|``, rad/step), against the target ``ω``;
- context integration: for each context, the fixed points under that context's input
  and the line attractor they form (dimension, eigenvalues near 1, alignment with the
  readout).

Each returns flat arrays for the store — with its task's topology signature as
``topology_*`` arrays (:mod:`rnnscope.compare.topology`) — and a one-line summary for
the report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .. import compare, dynamics


def signature_arrays(signature) -> dict[str, np.ndarray]:
    """A topology signature as store arrays (``topology_<part>``)."""
    return {f"topology_{k}": v for k, v in signature.to_arrays().items()}


def flipflop(task, net, params, step, fps, states, graph=None) -> dict[str, np.ndarray]:
    readout = (params["W_out"][0], params["b_out"][0])
    if graph is not None:
        signature = compare.flipflop_signature(fps, graph, readout)
    else:
        signature = compare.topology_signature(fps)
    if len(fps) == 0:
        return {"readout_corners": np.array(0), **signature_arrays(signature)}
    stable = fps.points[fps.is_stable]
    outputs = net.readout(params, stable.to(params["W_out"].dtype)[None])[0]
    corners = {tuple(torch.sign(o).int().tolist()) for o in outputs}
    return {"readout_corners": np.array(len(corners)), **signature_arrays(signature)}


def sine(
    task,
    net,
    params,
    step,
    fps,
    states,
    graph=None,
    levels: int = 5,
    candidates: int = 128,
    transient: int = 300,
    window: int = 400,
) -> dict[str, np.ndarray]:
    """Per cued frequency (``levels`` of them, rad/step): the target ``ω``, the
    network's own oscillation, and the frequency the linearization predicts at the
    fixed point its trajectory orbits.

    The network runs from its initial state under the static cue for
    ``transient + window`` steps. Own frequency: the limit cycle's ``2π / period``
    when the trajectory settles on one, else the peak of its output's spectrum over the
    trial (a damped oscillation). The orbited point: the fixed point nearest the cycle's
    centre, else nearest where the trajectory ends. Linearized: ``|arg λ|`` of that
    point's largest complex eigenvalue (NaN when it has none)."""
    indices = np.linspace(0, task.n_frequencies - 1, levels).round().astype(int)
    target = task.frequencies[indices]
    own, predicted = np.full(levels, np.nan), np.full(levels, np.nan)
    per_level, cycles = [], []
    for k, j in enumerate(indices):
        x = torch.full((task.input_size,), float(task.input_level(j)), dtype=states.dtype)
        cands = dynamics.sample_candidates(states, candidates, noise=0.1, seed=int(j))
        found = dynamics.find_fixed_points(step, cands, x)
        per_level.append(found)
        with torch.no_grad():
            run, outputs = net.run(params, x.expand(1, transient + window, -1))
        trajectory = run[0, 0]  # [T, S]
        if not bool(torch.isfinite(trajectory).all()):
            cycles.append(None)
            continue
        cycle = dynamics.find_limit_cycle(
            step, trajectory[transient - 1], x, transient=0, steps=window
        )[0]
        cycles.append(cycle)
        if cycle is not None:
            own[k] = 2 * np.pi / float(cycle.period)
            where = torch.as_tensor(np.asarray(cycle.center), dtype=trajectory.dtype)
        else:
            own[k] = _spectral_peak(outputs[0, 0, : task.steps, 0].double().cpu().numpy())
            where = trajectory[-1]
        if len(found) == 0:
            continue
        pick = int((found.points.to(where.dtype) - where).norm(dim=-1).argmin())
        eig = found.eigenvalues[pick]
        rotating = eig.imag.abs() > 1e-9
        if bool(rotating.any()):
            mags = torch.where(rotating, eig.abs(), torch.zeros_like(eig.abs()))
            predicted[k] = float(eig[int(mags.argmax())].angle().abs())
    cues = np.array([float(task.input_level(j)) for j in indices])
    signature = compare.sine_signature(cues, per_level, cycles)
    return {
        "sine_target_frequency": target,
        "sine_own_frequency": own,
        "sine_linearized_frequency": predicted,
        "sine_has_cycle": np.array([c is not None for c in cycles]),
        **signature_arrays(signature),
    }


def _spectral_peak(y: np.ndarray, pad: int = 8192) -> float:
    """The angular frequency (rad/step) of the largest peak of ``y``'s spectrum (DC
    removed, zero-padded for a finer grid); NaN for a flat signal."""
    y = y - y.mean()
    if not np.isfinite(y).all() or np.abs(y).max() < 1e-6:
        return float("nan")
    power = np.abs(np.fft.rfft(y * np.hanning(len(y)), n=pad)) ** 2
    return float(2 * np.pi * (1 + int(np.argmax(power[1:]))) / pad)


def context(
    task, net, params, step, fps, states, graph=None, candidates: int = 256
) -> dict[str, np.ndarray]:
    dims, near, align, counts, per_context = [], [], [], [], []
    for ctx in range(2):
        x = torch.zeros(task.input_size)
        x[2 + ctx] = 1.0
        cands = dynamics.sample_candidates(states, candidates, noise=0.0, seed=ctx)
        found = dynamics.find_fixed_points(step, cands, x, tol_q=1e-8, tol_slow=1e-5, outliers=None)
        counts.append(len(found))
        per_context.append(found)
        if len(found) < 2:
            dims.append(0), near.append(np.nan), align.append(np.nan)
            continue
        hidden = net.hidden_size
        line = dynamics.fit_line_attractor(
            found.points[:, :hidden],
            eigenvalues=found.eigenvalues,
            readout=params["W_out"][0, :, 0],
        )
        dims.append(line.dimension)
        near.append(float(np.median(line.n_near_one)))
        align.append(float(line.readout_alignment[0]))
    evidence = np.eye(task.input_size)[:2]  # context c integrates evidence channel c
    signature = compare.context_signature(
        per_context, params["W_out"][0].detach().cpu(), evidence, steps=task.steps
    )
    return {
        **signature_arrays(signature),
        "context_points": np.array(counts),
        "context_line_dimension": np.array(dims),
        "context_near_one": np.array(near),
        "context_readout_alignment": np.array(align),
    }


READOUTS = {"flipflop": flipflop, "sine": sine, "context": context}

#: the per-network arrays the read-outs above store (the report looks for these)
READOUT_KEYS = (
    "readout_corners",
    "sine_target_frequency",
    "sine_own_frequency",
    "sine_linearized_frequency",
    "sine_has_cycle",
    "context_line_dimension",
    "context_near_one",
    "context_readout_alignment",
)


def summary(task_name: str, frame) -> list[str]:
    """Report lines from the per-network read-out columns (a DataFrame of arrays)."""
    lines = []
    if task_name == "flipflop" and "readout_corners" in frame:
        for arch, corners in frame.groupby("architecture")["readout_corners"]:
            counts = pd.Series([int(c) for c in corners]).value_counts().sort_index(ascending=False)
            told = ", ".join(f"{c} corners: {n}" for c, n in counts.items())
            lines.append(f"  {arch}: output corners reached by stable points (networks): {told}")
    if task_name == "sine" and "sine_own_frequency" in frame:
        for arch, rows in frame.groupby("architecture"):
            solved = rows[rows["status"] == "solved"] if "status" in rows else rows
            if solved.empty:
                lines.append(f"  {arch}: no network solved the task (0 of {len(rows)})")
                continue
            target = np.stack(solved["sine_target_frequency"].to_list())
            own = np.stack(solved["sine_own_frequency"].to_list())
            pred = np.stack(solved["sine_linearized_frequency"].to_list())
            cycles = np.stack(solved["sine_has_cycle"].to_list())
            lines.append(
                f"  {arch} ({len(solved)} of {len(rows)} solved): own oscillation vs target, median "
                f"relative error {_median_error(own, target)}; linearized vs own "
                f"{_median_error(pred, own)}; limit cycles at {int(cycles.sum())} of {cycles.size} cues"
            )
    if task_name == "context" and "context_line_dimension" in frame:
        for arch, rows in frame.groupby("architecture"):
            dims = np.stack(rows["context_line_dimension"].to_list())
            near = np.stack(rows["context_near_one"].to_list())
            align = np.stack(rows["context_readout_alignment"].to_list())
            lines.append(
                f"  {arch}: per context, fixed-point set dimension {dims.tolist()}, "
                f"eigenvalues near 1 (median) {np.round(near, 1).tolist()}, readout alignment "
                f"{np.round(align, 2).tolist()}"
            )
    return lines


def _median_error(estimate: np.ndarray, reference: np.ndarray) -> str:
    err = np.abs(estimate - reference) / reference
    err = err[np.isfinite(err)]
    return f"{np.median(err):.3f}" if err.size else "n/a"
