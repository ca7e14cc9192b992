"""Fixed and slow points of a step function, for one network or a whole population.

The search minimises ``q(h) = ½‖F(h, x*) − h‖²`` from every candidate at once:

1. **Optional Adam phase** (``adam_iters > 0``, e.g. 30 at ``lr`` 0.02; first order,
   cheap per iteration): moves candidates into the basins of other points before the
   second-order phase, which then reaches more of the higher-index saddles (on the
   flip-flop GRU of ``bench/fixed_points.py``: the face saddles and the centre). Each
   candidate stops on its own when ``q < adam_tol`` or when ``q`` has not fallen by 1%
   over ``stall_window`` iterations. Off by default: the second-order phase alone found
   all 8 stable points and all 12 edge saddles of that network in 16 of 16 candidate
   draws.
2. **Newton / Levenberg–Marquardt** on ``G(h) = F(h) − h = 0`` with the step's
   Jacobian, in the candidates' dtype: a Newton step (or half or quarter of it) where it
   lowers ``q``, else a damped Gauss–Newton step with a damping per candidate; each candidate leaves the
   working batch when ``q ≤ coarse_tol``, when it is stuck at a local minimum of ``q`` (damping
   above 1e8: a slow point), or when it leaves the state bound.
3. **Merge**: converged candidates within ``tol_unique · scale`` of each other are merged
   (lowest ``q`` kept), so the polish works on distinct points.
4. **Polish**: the same iteration in float64 when the step supports it, run until
   ``q`` stops falling: true fixed points reach round-off (``q`` ~ 1e-30); slow points
   stop where ``q`` has its local minimum and keep their ``q`` and speed.
5. **Classify**: ``fixed`` (``q ≤ tol_q``), ``slow`` (``q ≤ tol_slow``); rejected as
   ``outside`` (beyond the cell's state bound, e.g. ``|h| > 1`` for a GRU, where a
   saturated update gate makes ``F(h) ≈ h``), ``unconverged`` or ``failed`` (non-finite).
6. **Deduplicate** with tolerance ``tol_unique · scale`` (lowest ``q`` kept), where
   ``scale`` is the RMS distance of a network's candidates from their centroid, so the
   tolerance follows the size of the visited region rather than absolute units.
7. **Outliers**: ``"centroid"`` (default, as FixedPointFinder): drop points farther than
   ``outlier_distance`` (default 10) × the candidates' mean distance from their
   centroid; ``"nearest"`` (as computation-thru-dynamics): drop points whose nearest
   other point is farther than ``outlier_distance`` (default 1) × ``scale``; ``None``.
8. **Linearize** every kept point (Jacobians, eigenvalues, stability).

Convention: ``q`` is half the squared norm of the step, ``½‖F(h) − h‖²``, as in
FixedPointFinder (the sentiment paper's ``q`` is this divided by ``S/2``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from .._progress import progress_bar
from ._steps import Step, call_step, default_inputs, jacobians, step_in_dtype
from ._unique import greedy_unique
from .linearize import Linearization, linearize

OUTLIER_POLICIES = ("centroid", "nearest", None)
_DEFAULT_OUTLIER_DISTANCE = {"centroid": 10.0, "nearest": 1.0}


@dataclass
class FixedPoints:
    """Fixed and slow points found by :func:`find_fixed_points`, one row per point.

    Attributes:
        points: ``[M, S]`` states.
        q: ``[M]`` ``½‖F(h) − h‖²`` at each point.
        inputs: ``[M, I]`` the constant input ``x*`` each point belongs to.
        network: ``[M]`` index of the source network (flattened over the leading axes
            of the candidates; 0 for a single network).
        kind: ``[M]`` ``"fixed"`` or ``"slow"``.
        linearization: eigenmodes at every point (``None`` if not computed).
        rejected: how many candidates were dropped, by reason.
        info: options used, timings, dtype of the polish.
    """

    points: torch.Tensor
    q: torch.Tensor
    inputs: torch.Tensor
    network: torch.Tensor
    kind: np.ndarray
    linearization: Linearization | None
    rejected: dict[str, int] = field(default_factory=dict)
    info: dict[str, object] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.points.shape[0]

    def __repr__(self) -> str:
        kinds = ", ".join(f"{k}: {int((self.kind == k).sum())}" for k in ("fixed", "slow"))
        stable = "" if self.linearization is None else f", stable: {int(self.is_stable.sum())}"
        return f"FixedPoints({len(self)} points; {kinds}{stable}; rejected {self.rejected})"

    @property
    def speed(self) -> torch.Tensor:
        """``‖F(h) − h‖ = sqrt(2q)`` ``[M]``."""
        return torch.sqrt(2 * self.q)

    def _lin(self) -> Linearization:
        if self.linearization is None:
            raise ValueError(
                "Jacobians were not computed; call find_fixed_points(..., linearize=True)."
            )
        return self.linearization

    @property
    def jacobians(self) -> torch.Tensor:
        """Recurrent Jacobians ``[M, S, S]``."""
        return self._lin().jacobian

    @property
    def input_jacobians(self) -> torch.Tensor:
        """Input Jacobians ``[M, S, I]``."""
        return self._lin().input_jacobian

    @property
    def eigenvalues(self) -> torch.Tensor:
        """``[M, S]`` complex, sorted by ``|λ|``, largest first."""
        return self._lin().eigenvalues

    @property
    def is_stable(self) -> torch.Tensor:
        """``[M]`` bool: every ``|λ| < 1``."""
        return self._lin().is_stable

    @property
    def n_unstable(self) -> torch.Tensor:
        """``[M]`` number of eigenvalues with ``|λ| > 1``."""
        return self._lin().n_unstable

    def select(self, mask: torch.Tensor | np.ndarray) -> FixedPoints:
        """The subset of points where ``mask [M]`` is true (or at the given indices)."""
        index = torch.as_tensor(np.asarray(mask))
        if index.dtype == torch.bool:
            index = index.nonzero().flatten()
        lin = None if self.linearization is None else self.linearization.select(index)
        return FixedPoints(
            self.points[index],
            self.q[index],
            self.inputs[index],
            self.network[index],
            self.kind[index.numpy()],
            lin,
            dict(self.rejected),
            dict(self.info),
        )

    def for_network(self, network: int) -> FixedPoints:
        """The points of one network of the population."""
        return self.select(self.network == network)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per point: network, kind, q, speed, stability, |λ|max, n_unstable."""
        frame = pd.DataFrame(
            {
                "network": self.network.numpy(),
                "kind": self.kind,
                "q": self.q.double().numpy(),
                "speed": self.speed.double().numpy(),
            }
        )
        if self.linearization is not None:
            frame["is_stable"] = self.is_stable.numpy()
            frame["n_unstable"] = self.n_unstable.numpy()
            frame["max_abs_eigenvalue"] = self.eigenvalues.abs()[:, 0].numpy()
        return frame


def find_fixed_points(
    step: Step,
    initial_states: torch.Tensor,
    inputs: torch.Tensor | None = None,
    *,
    tol_q: float = 1e-12,
    tol_slow: float = 1e-6,
    tol_unique: float = 1e-3,
    outliers: str | None = "centroid",
    outlier_distance: float | None = None,
    max_iters: int = 200,
    coarse_tol: float | None = None,
    polish_iters: int = 20,
    dtype: torch.dtype | None = None,
    adam_iters: int = 0,
    lr: float = 0.02,
    adam_tol: float = 1e-7,
    stall_window: int = 100,
    state_bound: float | str | None = "auto",
    linearize_points: bool = True,
    progress: bool = False,
) -> FixedPoints:
    """Find fixed and slow points of ``h' = F(h, x*)`` from candidate states.

    Args:
        step: ``F(h, x)``, batched over leading axes (see ``rnnscope.dynamics._steps``);
            for a population, the first axis of ``h`` indexes networks. ``rnnscope``
            cells give one with ``cell.bind(params)``.
        initial_states: candidates ``[K, S]``, or ``[N, K, S]`` for a population
            (any number of leading network axes before ``K``).
        inputs: the constant input ``x*``, broadcastable to ``[..., K, I]`` (``[I]``
            for one input shared by all; ``[N, 1, I]`` per network). Default zeros.
        tol_q: a point is ``fixed`` when ``q ≤ tol_q`` after polishing (default 1e-12).
        tol_slow: a point with ``tol_q < q ≤ tol_slow`` is kept as a ``slow`` point.
        tol_unique: deduplication distance, relative to each network's candidate
            cloud (RMS distance from its centroid). Default 1e-3.
        outliers: ``"centroid"`` (default), ``"nearest"`` or ``None`` (module docs).
        outlier_distance: threshold for the outlier policy (defaults 10 and 1).
        max_iters: Levenberg–Marquardt iterations in the candidates' dtype.
        coarse_tol: ``q`` at which a candidate leaves that phase (default 1e-10 for
            float32 candidates, ``tol_q`` otherwise).
        polish_iters: Levenberg–Marquardt iterations of the polish (0: none).
        dtype: dtype of the polish; default float64 when the step can be cast
            (``step.to``), else the candidates' dtype.
        adam_iters, lr, adam_tol, stall_window: the optional Adam phase (default off).
        state_bound: candidates with ``max|h| > bound`` are rejected as ``outside``;
            ``"auto"`` takes ``step.state_bound`` (``None``: no bound).
        linearize_points: compute Jacobians and eigenvalues at the kept points.
        progress: show how many candidates have finished (rich, on stderr).

    Returns:
        :class:`FixedPoints`.
    """
    started = time.perf_counter()
    h0 = _check_candidates(step, initial_states)
    net_shape, n_cand, size = h0.shape[:-2], h0.shape[-2], h0.shape[-1]
    n_net = math.prod(net_shape)
    x = _check_inputs(step, inputs, h0)
    low_precision = h0.dtype in (torch.float32, torch.float16, torch.bfloat16)
    if coarse_tol is None:
        coarse_tol = max(tol_q, 1e-10) if low_precision else tol_q
    _check_positive(
        tol_q=tol_q,
        tol_slow=tol_slow,
        tol_unique=tol_unique,
        lr=lr,
        adam_tol=adam_tol,
        coarse_tol=coarse_tol,
    )
    if tol_slow < tol_q:
        raise ValueError(f"tol_slow ({tol_slow}) must be >= tol_q ({tol_q}).")
    for name, value in (
        ("max_iters", max_iters),
        ("polish_iters", polish_iters),
        ("adam_iters", adam_iters),
        ("stall_window", stall_window),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")
    if stall_window == 0:
        raise ValueError("stall_window must be a positive integer.")
    if outliers not in OUTLIER_POLICIES:
        raise ValueError(
            f"unknown outlier policy {outliers!r}; choose 'centroid', 'nearest' or None."
        )
    if outlier_distance is None and outliers is not None:
        outlier_distance = _DEFAULT_OUTLIER_DISTANCE[outliers]
    bound = getattr(step, "state_bound", None) if state_bound == "auto" else state_bound
    outside_at = None if bound is None else bound * (1 + 1e-6)

    # work on [B, K, ...] with B = all network axes flattened
    flat_h = h0.reshape(n_net, n_cand, size)
    flat_x = x.reshape(n_net, n_cand, x.shape[-1])
    system = _System(step, net_shape, size)
    with torch.no_grad():
        first = system.run(flat_h, flat_x)
    broken = ~torch.isfinite(first).all(-1)
    if bool(broken.all()):
        raise ValueError(
            "the step function returned NaN/inf at every candidate state; check its "
            "parameters and inputs."
        )

    # per-network geometry of the candidate cloud
    centroid = flat_h.mean(dim=1, keepdim=True)
    radius = (flat_h - centroid).norm(dim=-1)  # [B, K]
    scale = radius.pow(2).mean(dim=1).sqrt().clamp_min(1e-12)  # [B]

    timings = {"setup": time.perf_counter() - started}
    clock = time.perf_counter()
    h = flat_h.clone()
    if adam_iters > 0:
        h = _adam_phase(system.run, h, flat_x, lr, adam_iters, adam_tol, stall_window, broken)
    timings["adam"] = time.perf_counter() - clock
    clock = time.perf_counter()
    with _Progress(progress, n_net * n_cand) as report:
        h, q = _levenberg_marquardt(
            system, h, flat_x, ~broken, coarse_tol, max_iters, outside_at, tol_slow, report=report
        )
    timings["coarse"] = time.perf_counter() - clock

    # merge converged candidates before the float64 polish; the rest go on as they are
    clock = time.perf_counter()
    finite = torch.isfinite(q) & torch.isfinite(h).all(-1)
    outside = (
        finite & (h.abs().amax(-1) > outside_at)
        if outside_at is not None
        else torch.zeros_like(finite)
    )
    survivors = []
    for b in range(n_net):
        converged = (finite[b] & ~outside[b] & (q[b] <= coarse_tol)).nonzero().flatten()
        others = (finite[b] & ~outside[b] & (q[b] > coarse_tol)).nonzero().flatten()
        tol = tol_unique * float(scale[b])
        keep = converged[greedy_unique(h[b, converged].double(), q[b, converged].double(), tol)]
        survivors.append(torch.cat([keep, others]))
    counts = {
        "duplicates": int((finite & ~outside).sum()) - sum(len(r) for r in survivors),
        "outside": int(outside.sum()),
        "unconverged": 0,
        "failed": int((~finite).sum()),
        "outliers": 0,
    }
    index, valid = _pad(survivors)
    polish_dtype = dtype or (torch.float64 if hasattr(step, "to") else h0.dtype)
    polish_system = _System(step_in_dtype(step, polish_dtype), net_shape, size, polish_dtype)
    hp = _take(h, index).to(polish_dtype)
    xp = _take(flat_x, index).to(polish_dtype)
    timings["merge"] = time.perf_counter() - clock
    clock = time.perf_counter()
    if polish_iters > 0:
        # to round-off: stop when q no longer falls (or is at float64's floor)
        floor = 1e-30 if polish_dtype == torch.float64 else tol_q
        hp, qp = _levenberg_marquardt(polish_system, hp, xp, valid, min(tol_q, floor), polish_iters)
    else:
        with torch.no_grad():
            qp = 0.5 * (polish_system.run(hp, xp) - hp).pow(2).sum(-1)
    timings["polish"] = time.perf_counter() - clock

    clock = time.perf_counter()
    rows = []
    for b in range(n_net):
        ok = valid[b] & torch.isfinite(qp[b]) & torch.isfinite(hp[b]).all(-1)
        counts["failed"] += int((valid[b] & ~ok).sum())
        if outside_at is not None:
            outside = ok & (hp[b].abs().amax(-1) > outside_at)
            counts["outside"] += int(outside.sum())
            ok &= ~outside
        unconverged = ok & (qp[b] > tol_slow)
        counts["unconverged"] += int(unconverged.sum())
        ok &= ~unconverged
        idx = ok.nonzero().flatten()
        keep = idx[greedy_unique(hp[b, idx], qp[b, idx], tol_unique * float(scale[b]))]
        counts["duplicates"] += len(idx) - len(keep)
        keep = _drop_outliers(
            hp[b, keep], keep, outliers, outlier_distance, centroid[b], radius[b], scale[b], counts
        )
        rows.append((b, keep))

    points = torch.cat([hp[b, k] for b, k in rows])
    q_out = torch.cat([qp[b, k] for b, k in rows])
    x_out = torch.cat([xp[b, k] for b, k in rows])
    network = torch.cat([torch.full((len(k),), b, dtype=torch.long) for b, k in rows])
    kind = np.where(q_out.numpy() <= tol_q, "fixed", "slow")
    lin = None
    if linearize_points and len(points):
        lin = _linearize_rows(polish_system.step, points, x_out, network, net_shape)
    timings["classify_and_linearize"] = time.perf_counter() - clock
    timings["total"] = time.perf_counter() - started
    info = {
        "candidates": n_net * n_cand,
        "networks": n_net,
        "network_shape": tuple(net_shape),
        "polish_dtype": str(polish_dtype).replace("torch.", ""),
        "tol_q": tol_q,
        "tol_slow": tol_slow,
        "tol_unique": tol_unique,
        "outliers": outliers,
        "outlier_distance": outlier_distance,
        "state_bound": bound,
        "scale": scale.tolist(),
        "seconds": timings,
    }
    return FixedPoints(points, q_out, x_out, network, kind, lin, counts, info)


class _System:
    """A step and its Jacobian on flattened ``[B, K, S]`` batches."""

    def __init__(self, step: Step, net_shape, size: int, dtype: torch.dtype | None = None) -> None:
        self.step, self.net_shape, self.size, self.dtype = step, net_shape, size, dtype

    def _shape(self, t: torch.Tensor) -> torch.Tensor:
        return t.reshape(*self.net_shape, t.shape[1], t.shape[-1])

    def run(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        try:
            out = call_step(self.step, self._shape(h), self._shape(x))
        except RuntimeError as err:
            if self.dtype is None:
                raise
            raise ValueError(
                f"the step function failed on {self.dtype} states ({err}); pass dtype=<the "
                "step's dtype> to find_fixed_points, or give the step a .to(dtype) method."
            ) from None
        return out.reshape(h.shape)

    def jacobian(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        j_rec, _ = jacobians(self.step, self._shape(h), self._shape(x))
        return j_rec.reshape(*h.shape, self.size)


# --------------------------------------------------------------------------- checks
def _check_candidates(step: Step, initial_states) -> torch.Tensor:
    h = (
        initial_states
        if torch.is_tensor(initial_states)
        else torch.as_tensor(np.asarray(initial_states))
    )
    if not h.is_floating_point():
        raise TypeError(f"initial_states must be floating point, got {h.dtype}.")
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
    return h.detach()


def _check_inputs(step: Step, inputs, h: torch.Tensor) -> torch.Tensor:
    if inputs is None:
        inputs = default_inputs(step, h)
    x = inputs if torch.is_tensor(inputs) else torch.as_tensor(np.asarray(inputs), dtype=h.dtype)
    x = x.to(h.dtype)
    size = getattr(step, "input_size", None)
    if size is not None and x.shape[-1] != size:
        raise ValueError(
            f"inputs have width {x.shape[-1]} but the step takes {size} input channels."
        )
    try:
        return torch.broadcast_to(x, (*h.shape[:-1], x.shape[-1]))
    except RuntimeError:
        raise ValueError(
            f"inputs of shape {list(x.shape)} do not broadcast to the candidates {list(h.shape[:-1])} + [I]; "
            "use [I] for one input, [N, 1, I] for one per network."
        ) from None


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{name} must be positive, got {value!r}.")


# --------------------------------------------------------------------------- phases
def _take(t: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows ``index [B, K']`` of ``t [B, K, ...]``."""
    shaped = index.reshape(*index.shape, *([1] * (t.dim() - 2)))
    return torch.gather(t, 1, shaped.expand(*index.shape, *t.shape[2:]))


def _put(t: torch.Tensor, index: torch.Tensor, mask: torch.Tensor, values: torch.Tensor) -> None:
    """``t[b, index[b, k]] = values[b, k]`` where ``mask[b, k]``, in place."""
    b_idx, k_idx = mask.nonzero(as_tuple=True)
    t[b_idx, index[b_idx, k_idx]] = values[b_idx, k_idx]


def _levenberg_marquardt(
    system: _System,
    h,
    x,
    active,
    tol,
    iters,
    outside_at=None,
    spurious_q=1e-6,
    max_elements=1 << 24,
    report=None,
):
    """Levenberg–Marquardt on ``G(h) = F(h) − h`` with one damping per candidate.

    Each iteration works on the candidates still running only (gathered per network,
    padded), so finished candidates cost nothing. A candidate stops when ``q ≤ tol``,
    when its damping exceeds 1e8 (a local minimum of ``q``: a slow point, or no
    progress), when ``q`` has not halved over 10 iterations (drifting, not converging),
    when its iterate is non-finite, or when it is outside the state bound,
    its step took it farther out and its ``q`` fell below ``spurious_q``: fixed points
    of a cell lie inside its bound, and out there a GRU's saturated gates make ``q``
    shrink without end. Candidates may start outside the bound and move in.

    Returns:
        states ``[B, K, S]`` and ``q [B, K]`` (``inf`` where the iterate failed).
    """
    size = h.shape[-1]
    eye = torch.eye(size, dtype=h.dtype)
    h = h.clone()
    with torch.no_grad():
        g_all = system.run(h, x) - h
        q = 0.5 * g_all.pow(2).sum(-1)
        q = torch.where(
            torch.isfinite(q) & torch.isfinite(h).all(-1), q, torch.full_like(q, float("inf"))
        )
        damping = torch.full(q.shape, 1e-3, dtype=h.dtype)
        running = active & torch.isfinite(q) & (q > tol)
        checkpoint = q.clone()
        for it in range(1, iters + 1):
            if not bool(running.any()):
                break
            index, valid = _pad([r.nonzero().flatten() for r in running])
            # bound the Jacobians' memory: chunks of candidates, all networks at once
            chunk = max(1, max_elements // (index.shape[0] * size * size))
            for start in range(0, index.shape[1], chunk):
                part, ok = index[:, start : start + chunk], valid[:, start : start + chunk]
                _lm_step(
                    system, h, x, g_all, q, damping, running, part, ok, eye, outside_at, spurious_q
                )
            running &= (q > tol) & (damping < 1e8)
            if it % 10 == 0:  # q must at least halve every 10 iterations
                running &= q < 0.5 * checkpoint
                checkpoint = q.clone()
            if report is not None:
                report(int((~running).sum()))
    return h, q


def _lm_step(
    system,
    h,
    x,
    g_all,
    q,
    damping,
    running,
    index,
    valid,
    eye,
    outside_at,
    spurious_q,
):
    """One step for the candidates at ``index``, in place: a Newton step
    ``(J − I) Δ = −G`` where it lowers ``q``, else a damped Gauss–Newton step
    ``((J − I)ᵀ(J − I) + μ I) Δ = −(J − I)ᵀ G`` (Levenberg–Marquardt) for the rest."""
    hw, xw, gw, qw = (_take(t, index) for t in (h, x, g_all, q))
    a = system.jacobian(hw, xw) - eye  # ∂G/∂h
    # right-hand sides as explicit columns: measured 25% faster than vectors
    newton, info = torch.linalg.solve_ex(a, -gw.unsqueeze(-1))
    newton = newton.squeeze(-1)
    ok = valid & (info == 0) & torch.isfinite(newton).all(-1)
    better = _try_step(
        system, h, x, g_all, q, running, index, ok, hw, xw, qw, newton, outside_at, spurious_q
    )
    # backtrack along the Newton direction first: a step evaluation costs far less than
    # the damped solve below
    for fraction in (0.5, 0.25):
        again = ok & ~better
        if not bool(again.any()):
            break
        better |= _try_step(
            system,
            h,
            x,
            g_all,
            q,
            running,
            index,
            again,
            hw,
            xw,
            qw,
            fraction * newton,
            outside_at,
            spurious_q,
        )
    _put(damping, index, better, _take(damping, index) / 3)
    retry = valid & ~better
    if not bool(retry.any()):
        return
    sub, sub_valid = _pad([r.nonzero().flatten() for r in retry])
    a, hw, xw, gw, qw = (_take(t, sub) for t in (a, hw, xw, gw, qw))
    rows = _take(index, sub)
    dw = _take(damping, rows)
    a_t = a.transpose(-1, -2)
    normal = a_t @ a
    grad = a_t @ gw.unsqueeze(-1)
    mu = dw * normal.diagonal(dim1=-2, dim2=-1).mean(-1).clamp_min(1e-30)
    delta, info = torch.linalg.solve_ex(normal + mu[..., None, None] * eye, -grad)
    delta = delta.squeeze(-1)
    ok = sub_valid & (info == 0) & torch.isfinite(delta).all(-1)
    better = _try_step(
        system, h, x, g_all, q, running, rows, ok, hw, xw, qw, delta, outside_at, spurious_q
    )
    _put(damping, rows, sub_valid, torch.where(better, dw / 3, dw * 10))


def _try_step(
    system, h, x, g_all, q, running, index, ok, hw, xw, qw, delta, outside_at, spurious_q
):
    """Accept ``hw + delta`` where it lowers ``q``; return the accepted mask."""
    delta = torch.where(ok.unsqueeze(-1), delta, torch.zeros_like(delta))
    trial = hw + delta
    g_trial = system.run(trial, xw) - trial
    q_trial = 0.5 * g_trial.pow(2).sum(-1)
    better = ok & torch.isfinite(q_trial) & (q_trial < qw)
    if outside_at is not None:
        extent = hw.abs().amax(-1)
        leaving = (
            better
            & (extent > outside_at)
            & (trial.abs().amax(-1) > extent)
            & (q_trial < spurious_q)
        )
        _put(running, index, leaving, torch.zeros_like(leaving))
    _put(h, index, better, trial)
    _put(g_all, index, better, g_trial)
    _put(q, index, better, q_trial)
    return better


def _adam_phase(run, h0, x, lr, iters, adam_tol, stall_window, broken):
    """Adam on ``q`` per candidate; returns the lowest-``q`` state each one visited."""
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    h = h0.clone()
    best_q = torch.full(h0.shape[:2], float("inf"), dtype=h.dtype)
    work = h0.clone()
    m = torch.zeros_like(work)
    v = torch.zeros_like(work)
    running = ~broken
    checkpoint = best_q.clone()
    for it in range(1, iters + 1):
        with torch.enable_grad():
            work.requires_grad_(True)
            qw = 0.5 * (run(work, x) - work).pow(2).sum(-1)
            (grad,) = torch.autograd.grad(qw.sum(), work)
        work, qw = work.detach(), qw.detach()
        finite = torch.isfinite(qw) & torch.isfinite(grad).all(-1)
        improved = running & finite & (qw < best_q)
        h = torch.where(improved.unsqueeze(-1), work, h)
        best_q = torch.where(improved, qw, best_q)
        running &= finite & (qw >= adam_tol)
        move = running.unsqueeze(-1)
        grad = torch.where(move, grad, torch.zeros_like(grad))
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad * grad
        update = lr * (m / (1 - beta1**it)) / ((v / (1 - beta2**it)).sqrt() + eps)
        work = torch.where(move, work - update, work)
        if it % stall_window == 0:
            running &= best_q < 0.99 * checkpoint  # no 1% progress: stalled
            checkpoint = best_q.clone()
        if not bool(running.any()):
            break
    return h


class _Progress:
    """``report(finished)`` for a rich progress bar, or a no-op."""

    def __init__(self, show: bool, total: int) -> None:
        self.show, self.total, self.bar = show, total, None

    def __enter__(self):
        if not self.show:
            return None
        self.bar = progress_bar()
        self.bar.__enter__()
        task = self.bar.add_task("fixed points", total=self.total)
        return lambda finished: self.bar.update(task, completed=finished)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False


def _pad(rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Ragged index lists -> ``index [B, K']`` (padded by repeating) and ``valid [B, K']``."""
    width = max(1, max((len(r) for r in rows), default=1))
    index = torch.zeros(len(rows), width, dtype=torch.long)
    valid = torch.zeros(len(rows), width, dtype=torch.bool)
    for b, r in enumerate(rows):
        if len(r):
            index[b, : len(r)] = r
            index[b, len(r) :] = r[0]
            valid[b, : len(r)] = True
    return index, valid


def _drop_outliers(points, keep, policy, distance, centroid, radius, scale, counts):
    if policy is None or len(keep) == 0:
        return keep
    if policy == "centroid":
        far = (points - centroid).norm(dim=-1) > distance * radius.mean()
    else:  # nearest other point
        if len(keep) < 2:
            return keep
        d = torch.cdist(points, points)
        d.fill_diagonal_(float("inf"))
        far = d.amin(dim=1) > distance * scale
    counts["outliers"] += int(far.sum())
    return keep[~far]


def _linearize_rows(step, points, inputs, network, net_shape) -> Linearization:
    """Linearize points of several networks with a population step, network by network."""
    if not net_shape:
        return linearize(step, points, inputs)
    n_net = math.prod(net_shape)
    counts = torch.bincount(network, minlength=n_net)
    width = int(counts.max())
    order = torch.argsort(network, stable=True)
    slot = torch.arange(len(points)) - torch.repeat_interleave(
        torch.cumsum(counts, 0) - counts, counts
    )
    grid_h = points.new_zeros(n_net, width, points.shape[-1])
    grid_x = inputs.new_zeros(n_net, width, inputs.shape[-1])
    grid_h[network[order], slot] = points[order]
    grid_x[network[order], slot] = inputs[order]
    lin = linearize(
        step,
        grid_h.reshape(*net_shape, width, points.shape[-1]),
        grid_x.reshape(*net_shape, width, inputs.shape[-1]),
    )

    def take(t):
        flat = t.reshape(n_net, width, *t.shape[len(net_shape) + 1 :])
        out = torch.empty((len(points), *flat.shape[2:]), dtype=t.dtype)
        out[order] = flat[network[order], slot]
        return out

    return Linearization(
        points,
        inputs,
        take(lin.jacobian),
        take(lin.input_jacobian),
        take(lin.eigenvalues),
        lin.continuous_time,
    )
