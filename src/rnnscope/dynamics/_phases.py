"""The pieces :func:`~rnnscope.dynamics.find_fixed_points` strings together: the checked
problem, one local search (solver → merge → polish), saddle seeds, and the final
selection (deduplicate → linearize → certify → outliers)."""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from .._progress import progress_bar
from ._result import FixedPoints
from ._select import Certify, Outliers
from ._solvers import Newton, Polish, levenberg_marquardt
from ._steps import Step, prepare, step_in_dtype
from ._system import Region, System, pad, region_for, take
from ._unique import greedy_unique
from .linearize import Linearization, linearize


# ------------------------------------------------------------------------ problem
@dataclass
class Problem:
    """A checked search: the step in both dtypes on flattened ``[B, K, S]`` batches,
    the candidates, the region and the tolerances."""

    step: Step
    net_shape: tuple
    h0: torch.Tensor
    x0: torch.Tensor
    broken: torch.Tensor
    system: System
    polish_system: System
    region: Region
    polish_region: Region
    centroid: torch.Tensor
    radius: torch.Tensor
    scale: torch.Tensor
    tol_q: float
    tol_slow: float
    tol_unique: float
    coarse_tol: float
    solver: Newton
    polish: Polish
    certify: Certify

    @property
    def n_net(self) -> int:
        return self.h0.shape[0]

    @property
    def n_cand(self) -> int:
        return self.h0.shape[1]

    @classmethod
    def build(
        cls, step, initial_states, inputs, *, tol_q, tol_slow, tol_unique, solver, polish,
        certify, state_bound, trust_region, trust_margin,
    ) -> Problem:  # fmt: skip
        for name, value in (("tol_q", tol_q), ("tol_slow", tol_slow), ("tol_unique", tol_unique)):
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value!r}.")
        if tol_slow < tol_q:
            raise ValueError(f"tol_slow ({tol_slow}) must be >= tol_q ({tol_q}).")
        if not trust_margin >= 0:
            raise ValueError(f"trust_margin must be >= 0, got {trust_margin!r}.")
        step, h, x = prepare(step, initial_states, inputs)
        h = _check_candidates(step, h)
        x = _check_inputs(step, x, h)
        net_shape, n_cand, size = h.shape[:-2], h.shape[-2], h.shape[-1]
        n_net = math.prod(net_shape)
        h0 = h.reshape(n_net, n_cand, size)
        x0 = x.reshape(n_net, n_cand, x.shape[-1])
        system = System(step, net_shape, size)
        with torch.no_grad():
            first = system.run(h0, x0)
        broken = ~torch.isfinite(first).all(-1)
        if bool(broken.all()):
            raise ValueError(
                "the step function returned NaN/inf at every candidate state; check its "
                "parameters and inputs."
            )
        centroid = h0.mean(dim=1, keepdim=True)
        radius = (h0 - centroid).norm(dim=-1)  # [B, K]
        scale = radius.pow(2).mean(dim=1).sqrt().clamp_min(1e-12)  # [B]
        low = h0.dtype in (torch.float32, torch.float16, torch.bfloat16)
        coarse_tol = solver.tol or (max(tol_q, 1e-10) if low else tol_q)
        dtype = polish.dtype or (torch.float64 if hasattr(step, "to") else h0.dtype)
        polish_step = step_in_dtype(step, dtype) if dtype != h0.dtype else step
        region = region_for(step, state_bound, trust_region, h0, trust_margin)
        return cls(
            step, tuple(net_shape), h0, x0, broken, system,
            System(polish_step, net_shape, size, dtype), region,
            Region(region.lo.to(dtype), region.hi.to(dtype), region.source),
            centroid, radius, scale, tol_q, tol_slow, tol_unique, coarse_tol, solver, polish,
            certify,
        )  # fmt: skip


def _check_candidates(step, h: torch.Tensor) -> torch.Tensor:
    if h.dim() < 2:
        raise ValueError(f"initial_states must be [K, S] or [N, K, S], got shape {list(h.shape)}.")
    if h.shape[-2] == 0 or h.numel() == 0:
        raise ValueError("initial_states is empty: give at least one candidate state.")
    width = getattr(step, "state_size", None)
    if width is not None and h.shape[-1] != width:
        raise ValueError(
            f"initial_states have width {h.shape[-1]} but the step's states have {width}."
        )
    if not bool(torch.isfinite(h).all()):
        raise ValueError("initial_states contain NaN or inf.")
    return h


def _check_inputs(step, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    size = getattr(step, "input_size", None)
    if x.dim() == 0 or (size is not None and x.shape[-1] != size):
        raise ValueError(
            f"inputs have width {x.shape[-1] if x.dim() else 0} but the step takes {size} "
            "input channels."
        )
    try:
        return torch.broadcast_to(x, (*h.shape[:-1], x.shape[-1]))
    except RuntimeError:
        raise ValueError(
            f"inputs of shape {list(x.shape)} do not broadcast to the candidates "
            f"{list(h.shape[:-1])} + [I]; use [I] for one input, [N, 1, I] for one per network."
        ) from None


# ------------------------------------------------------------------------ rows
@dataclass
class Rows:
    """Polished points of all networks, one row each: network ``b [R]``, ``h [R, S]``,
    ``q [R]``, ``x [R, I]``, the polish's ``q`` history ``[R, L]``, and counts of
    rejected candidates."""

    b: torch.Tensor
    h: torch.Tensor
    q: torch.Tensor
    x: torch.Tensor
    history: torch.Tensor
    counts: dict[str, int] = field(default_factory=dict)

    def subset(self, index: torch.Tensor) -> Rows:
        return Rows(
            self.b[index], self.h[index], self.q[index], self.x[index], self.history[index],
            dict(self.counts),
        )  # fmt: skip

    @staticmethod
    def cat(parts: list[Rows]) -> Rows:
        width = max(p.history.shape[1] for p in parts)
        hist = [
            torch.cat([p.history, p.history[:, -1:].expand(-1, width - p.history.shape[1])], 1)
            for p in parts
        ]
        counts = {k: sum(p.counts.get(k, 0) for p in parts) for k in parts[0].counts}
        return Rows(
            torch.cat([p.b for p in parts]), torch.cat([p.h for p in parts]),
            torch.cat([p.q for p in parts]), torch.cat([p.x for p in parts]),
            torch.cat(hist), counts,
        )  # fmt: skip


def search(problem: Problem, h, x, active, timings, report, count: bool = True) -> Rows:
    """Newton phase, merge of converged candidates, float64 polish, and the rejection of
    failed, outside and unconverged ones."""
    clock = time_now()
    h, q, _ = problem.solver.run(
        problem.system, h, x, active, problem.coarse_tol, problem.region, report
    )
    _add(timings, "newton", clock)
    clock = time_now()
    finite = active & torch.isfinite(q) & torch.isfinite(h).all(-1)
    outside = finite & problem.region.outside(h)
    inside = finite & ~outside
    survivors = []
    for b in range(problem.n_net):
        converged = (inside[b] & (q[b] <= problem.coarse_tol)).nonzero().flatten()
        others = (inside[b] & (q[b] > problem.coarse_tol)).nonzero().flatten()
        tol = problem.tol_unique * float(problem.scale[b])
        keep = converged[greedy_unique(h[b, converged].double(), q[b, converged].double(), tol)]
        survivors.append(torch.cat([keep, others]))
    counts = {
        "duplicates": int(inside.sum()) - sum(len(r) for r in survivors),
        "outside": int(outside.sum()),
        "unconverged": 0,
        "failed": int((~finite).sum()),
        "flat": 0,
        "outliers": 0,
    }
    index, valid = pad(survivors, device=h.device)
    dtype = problem.polish_system.dtype
    hp, xp = take(h, index).to(dtype), take(x, index).to(dtype)
    _add(timings, "merge", clock)
    clock = time_now()
    with torch.no_grad():
        _, q0 = problem.polish_system.residual(hp, xp)
    if problem.polish.max_iters > 0:
        floor = 1e-30 if dtype == torch.float64 else problem.tol_q
        hp, qp, history = levenberg_marquardt(
            problem.polish_system, hp, xp, valid, min(problem.tol_q, floor),
            problem.polish.max_iters, problem.polish_region,
        )  # fmt: skip
    else:
        qp, history = q0, []
    hist = torch.stack([q0, *history], dim=-1)  # [B, K', L]
    _add(timings, "polish", clock)
    ok = valid & torch.isfinite(qp) & torch.isfinite(hp).all(-1)
    counts["failed"] += int((valid & ~ok).sum())
    out = ok & problem.polish_region.outside(hp)
    counts["outside"] += int(out.sum())
    ok &= ~out
    slow = ok & (qp > problem.tol_slow)
    counts["unconverged"] += int(slow.sum())
    ok &= ~slow
    nb, nk = ok.nonzero(as_tuple=True)
    if not count:
        counts = {k: 0 for k in counts}
    return Rows(nb, hp[nb, nk], qp[nb, nk], xp[nb, nk], hist[nb, nk], counts)


def dedupe(problem: Problem, rows: Rows) -> Rows:
    """Each network's rows deduplicated at ``tol_unique · scale`` (lowest ``q`` kept)."""
    keep = []
    for b in range(problem.n_net):
        idx = (rows.b == b).nonzero().flatten()
        tol = problem.tol_unique * float(problem.scale[b])
        keep.append(idx[greedy_unique(rows.h[idx], rows.q[idx], tol)])
    index = torch.cat(keep) if keep else torch.zeros(0, dtype=torch.long)
    out = rows.subset(index)
    out.counts["duplicates"] = rows.counts.get("duplicates", 0) + len(rows.b) - len(index)
    return out


# ------------------------------------------------------------------------ saddles
def seeds_between(problem: Problem, rows: Rows, saddles):
    """Seeds ``[B, K', S]`` (working dtype), their inputs and validity from the stable
    points among ``rows`` (``None`` when no network has two)."""
    if len(rows.b) == 0:
        return None, None, None
    lin = linearize_rows(problem, rows)
    x_net = problem.x0[:, 0]  # each network's (first) input
    same = ((rows.x - x_net.to(rows.x)[rows.b]).abs() <= 0).all(-1)
    stable = lin.is_stable.to(same.device) & same & (rows.q <= problem.tol_q)
    index = [((rows.b == b) & stable).nonzero().flatten() for b in range(problem.n_net)]
    if max(len(i) for i in index) < 2:
        return None, None, None
    slot, valid = pad(index, device=rows.h.device)
    points = rows.h[slot].to(problem.h0.dtype)
    seeds, ok = saddles.seeds(problem.system, points, valid, x_net, problem.scale)
    seed_x = x_net.unsqueeze(1).expand(-1, seeds.shape[1], -1)
    return seeds, seed_x, ok & torch.isfinite(seeds).all(-1)


# ------------------------------------------------------------------------ selection
def select(problem: Problem, rows: Rows, outliers: Outliers, keep_linearization: bool):
    """Deduplicate, linearize, certify, reject flat points and outliers, classify."""
    rows = dedupe(problem, rows)
    counts = rows.counts
    lin = linearize_rows(problem, rows) if len(rows.b) else None
    certificate = None
    if lin is not None:
        with torch.no_grad():
            g = grid_apply(problem, rows, lambda h, x: problem.polish_system.run(h, x) - h)
            scale = problem.scale[rows.b].to(rows.h)
            gen = torch.Generator().manual_seed(0)
            u = torch.randn(rows.h.shape, generator=gen, dtype=rows.h.dtype).to(rows.h.device)
            shifted = rows.h + problem.certify.near * scale.unsqueeze(-1) * u / u.norm(
                dim=-1, keepdim=True
            ).clamp_min(1e-300)
            near = grid_apply(
                problem,
                Rows(rows.b, shifted, rows.q, rows.x, rows.history),
                problem.polish_system.jacobian,
            )
        certificate = problem.certify(rows.h, g, lin.jacobian, near, scale, rows.history)
        flat = torch.as_tensor(certificate["flat"], device=rows.b.device)
        counts["flat"] += int(flat.sum())
        keep = ~flat
        for b in range(problem.n_net):
            mine = ((rows.b == b) & keep).nonzero().flatten()
            far = outliers.far(
                rows.h[mine].to(problem.h0.dtype),
                problem.centroid[b, 0],
                problem.radius[b],
                problem.scale[b],
            )
            counts["outliers"] += int(far.sum())
            keep[mine[far]] = False
        order = torch.argsort(rows.b[keep], stable=True)
        index = keep.nonzero().flatten()[order]
        rows = rows.subset(index)
        lin = lin.select(index)
        certificate = {k: v[index.cpu().numpy()] for k, v in certificate.items()}
    fixed = (
        certificate["certified"] & (rows.q.cpu().numpy() <= problem.tol_q)
        if certificate is not None
        else np.zeros(0, dtype=bool)
    )
    kind = np.where(fixed, "fixed", "slow")
    info = {
        "candidates": problem.n_net * problem.n_cand,
        "networks": problem.n_net,
        "network_shape": problem.net_shape,
        "polish_dtype": str(problem.polish_system.dtype).replace("torch.", ""),
        "state_bound": getattr(problem.step, "state_bound", None)
        if problem.region.source == "state_bound"
        else None,
        "region": problem.region.source,
        "scale": problem.scale.tolist(),
    }
    if certificate is not None:
        certificate.pop("flat")
    empty_x = problem.x0.new_zeros(0, problem.x0.shape[-1]).to(rows.h.dtype)
    return FixedPoints(
        rows.h,
        rows.q,
        rows.x if len(rows.b) else empty_x,
        rows.b,
        kind,
        lin if keep_linearization else None,
        counts,
        info,
        certificate,
    )


def grid_apply(problem: Problem, rows: Rows, fn):
    """``fn(h [B, W, S], x [B, W, I])`` evaluated on rows laid out per network
    (padded), returned per row (``fn`` returns ``[B, W, ...]`` tensors)."""
    n_net = problem.n_net
    counts = torch.bincount(rows.b, minlength=n_net)
    width = max(1, int(counts.max()))
    order = torch.argsort(rows.b, stable=True)
    slot = torch.empty_like(rows.b)
    slot[order] = torch.arange(len(rows.b), device=rows.b.device) - torch.repeat_interleave(
        torch.cumsum(counts, 0) - counts, counts
    )
    grid_h = rows.h.new_zeros(n_net, width, rows.h.shape[-1])
    grid_x = rows.x.new_zeros(n_net, width, rows.x.shape[-1])
    grid_h[rows.b, slot] = rows.h
    grid_x[rows.b, slot] = rows.x
    out = fn(grid_h, grid_x)
    if isinstance(out, tuple):
        return tuple(o[rows.b, slot] for o in out)
    return out[rows.b, slot]


def linearize_rows(problem: Problem, rows: Rows) -> Linearization:
    """Linearization of every row with the polish-dtype step (one call for all
    networks)."""
    step = problem.polish_system.step
    if not problem.net_shape:
        return linearize(step, rows.h, rows.x)

    shaped = problem.polish_system._shape
    lead = len(problem.net_shape) + 1

    def lin(h, x):
        result = linearize(step, shaped(h), shaped(x))
        return tuple(
            t.reshape(*h.shape[:2], *t.shape[lead:])
            for t in (result.jacobian, result.input_jacobian, result.eigenvalues)
        )

    jac, jac_in, eig = grid_apply(problem, rows, lin)
    return Linearization(rows.h, rows.x, jac, jac_in, eig, getattr(step, "continuous_time", None))


# ------------------------------------------------------------------------ progress
@contextmanager
def progress(show: bool, total: int):
    """``report(finished)`` for a rich progress bar, or ``None``."""
    if not show:
        yield None
        return
    with progress_bar() as bar:
        task = bar.add_task("fixed points", total=total)
        yield lambda finished: bar.update(task, completed=finished)


def time_now() -> float:
    import time

    return time.perf_counter()


def _add(timings: dict, name: str, since: float) -> None:
    timings[name] = timings.get(name, 0.0) + time_now() - since
