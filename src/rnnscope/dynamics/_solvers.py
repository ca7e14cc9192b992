"""Solver phases of the fixed-point search, as small option objects.

``Newton`` (Newton / Levenberg–Marquardt on ``G(h) = F(h) − h``) is the main phase;
``Adam`` an optional first-order warm-up; ``Polish`` the same Newton iteration in
float64 to round-off, which the certificate reads. Each works on ``[B, K, S]``
batches of a :class:`~rnnscope.dynamics._system.System` and keeps per-candidate state.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._system import Region, System, pad_mask, put, take


@dataclass(frozen=True)
class Newton:
    """Newton / Levenberg–Marquardt in the candidates' dtype.

    A Newton step ``(J − I) Δ = −G`` (or half or quarter of it) where it lowers ``q``,
    else a damped Gauss–Newton step with a damping per candidate. A candidate leaves the
    working batch when ``q ≤ tol``; when stuck at a local minimum of ``q`` (damping above
    1e8: a slow point); when ``q`` has not halved over 10 iterations; or when it is
    outside the region, moving farther out, with ``q`` below ``spurious_q`` (out there
    saturated gates make ``q`` shrink without end).

    Attributes:
        max_iters: iterations (default 200).
        tol: ``q`` at which a candidate stops (default: 1e-10 for float32 candidates,
            ``tol_q`` otherwise).
        spurious_q: see above (default 1e-6).
    """

    max_iters: int = 200
    tol: float | None = None
    spurious_q: float = 1e-6
    max_elements: int = 1 << 24

    def __post_init__(self) -> None:
        _check_count("max_iters", self.max_iters)
        if self.tol is not None and not self.tol > 0:
            raise ValueError(f"tol must be positive, got {self.tol!r}.")

    def run(self, system: System, h, x, active, tol, region: Region | None = None, report=None):
        """Iterate; returns ``(h [B, K, S], q [B, K], history)`` with ``history`` the
        list of ``q`` after every iteration (``inf`` where the iterate failed)."""
        return levenberg_marquardt(
            system, h, x, active, tol, self.max_iters, region, self.spurious_q,
            self.max_elements, report,
        )  # fmt: skip


@dataclass(frozen=True)
class Polish:
    """The Newton iteration again in ``dtype`` (default float64 when the step can be
    cast with ``step.to``), run until ``q`` stops falling: true fixed points reach
    round-off; slow points stop at their local minimum of ``q``.

    Attributes:
        max_iters: iterations (default 20; 0: no polish and no certificate).
        dtype: the polish dtype (default float64, or the candidates' dtype when the step
            cannot be cast).
    """

    max_iters: int = 20
    dtype: torch.dtype | None = None

    def __post_init__(self) -> None:
        _check_count("max_iters", self.max_iters)


@dataclass(frozen=True)
class Adam:
    """Adam on ``q`` per candidate before the Newton phase (optional; e.g. 30
    iterations at ``lr`` 0.02 move candidates into other points' basins and reach more
    higher-index saddles). Each candidate stops when ``q < tol`` or when ``q`` has not
    fallen by 1% over ``stall_window`` iterations; it keeps the lowest-``q`` state seen.
    """

    iters: int = 30
    lr: float = 0.02
    tol: float = 1e-7
    stall_window: int = 100

    def __post_init__(self) -> None:
        _check_count("iters", self.iters)
        _check_count("stall_window", self.stall_window)
        if self.stall_window == 0:
            raise ValueError("stall_window must be a positive integer.")
        for name in ("lr", "tol"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}.")

    def run(self, run, h0, x, broken):
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        h, work = h0.clone(), h0.clone()
        best_q = torch.full(h0.shape[:2], float("inf"), dtype=h.dtype, device=h.device)
        m, v = torch.zeros_like(work), torch.zeros_like(work)
        running = ~broken
        checkpoint = best_q.clone()
        for it in range(1, self.iters + 1):
            with torch.enable_grad():
                work.requires_grad_(True)
                qw = 0.5 * (run(work, x) - work).pow(2).sum(-1)
                (grad,) = torch.autograd.grad(qw.sum(), work)
            work, qw = work.detach(), qw.detach()
            finite = torch.isfinite(qw) & torch.isfinite(grad).all(-1)
            improved = running & finite & (qw < best_q)
            h = torch.where(improved.unsqueeze(-1), work, h)
            best_q = torch.where(improved, qw, best_q)
            running &= finite & (qw >= self.tol)
            move = running.unsqueeze(-1)
            grad = torch.where(move, grad, torch.zeros_like(grad))
            m = beta1 * m + (1 - beta1) * grad
            v = beta2 * v + (1 - beta2) * grad * grad
            update = self.lr * (m / (1 - beta1**it)) / ((v / (1 - beta2**it)).sqrt() + eps)
            work = torch.where(move, work - update, work)
            if it % self.stall_window == 0:
                running &= best_q < 0.99 * checkpoint  # no 1% progress: stalled
                checkpoint = best_q.clone()
            if not bool(running.any()):
                break
        return h


def _check_count(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")


# ------------------------------------------------------------------ the iteration
def levenberg_marquardt(
    system: System, h, x, active, tol, iters, region=None, spurious_q=1e-6,
    max_elements=1 << 24, report=None,
):  # fmt: skip
    size = h.shape[-1]
    eye = torch.eye(size, dtype=h.dtype, device=h.device)
    h = h.clone()
    history = []
    with torch.no_grad():
        g_all, q = system.residual(h, x)
        damping = torch.full(q.shape, 1e-3, dtype=h.dtype, device=h.device)
        running = active & torch.isfinite(q) & (q > tol)
        checkpoint = q.clone()
        for it in range(1, iters + 1):
            if not bool(running.any()):
                break
            index, valid = pad_mask(running)
            # bound the Jacobians' memory: chunks of candidates, all networks at once
            chunk = max(1, max_elements // (index.shape[0] * size * size))
            for start in range(0, index.shape[1], chunk):
                part, ok = index[:, start : start + chunk], valid[:, start : start + chunk]
                state = (h, x, g_all, q, damping, running)
                _lm_step(system, state, part, ok, eye, region, spurious_q)
            running &= (q > tol) & (damping < 1e8)
            if it % 10 == 0:  # q must at least halve every 10 iterations
                running &= q < 0.5 * checkpoint
                checkpoint = q.clone()
            history.append(q.clone())
            if report is not None:
                report(int((~running).sum()))
    return h, q, history


def _lm_step(system, state, index, valid, eye, region, spurious_q):
    """One step for the candidates at ``index``, in place: a Newton step where it lowers
    ``q`` (full, half or quarter), else a damped Gauss–Newton step
    ``((J − I)ᵀ(J − I) + μ I) Δ = −(J − I)ᵀ G`` (Levenberg–Marquardt)."""
    h, x, g_all, q, damping, _running = state
    hw, xw, gw, qw = (take(t, index) for t in (h, x, g_all, q))
    a = system.jacobian(hw, xw) - eye  # ∂G/∂h
    newton, info = torch.linalg.solve_ex(a, -gw.unsqueeze(-1))  # columns: 25% faster
    newton = newton.squeeze(-1)
    ok = valid & (info == 0) & torch.isfinite(newton).all(-1)
    sub_region = None if region is None else region
    better = _try_step(system, state, index, ok, hw, xw, qw, newton, sub_region, spurious_q)
    # backtrack along the Newton direction first: cheaper than the damped solve
    for fraction in (0.5, 0.25):
        again = ok & ~better
        if not bool(again.any()):
            break
        better |= _try_step(
            system, state, index, again, hw, xw, qw, fraction * newton, region, spurious_q
        )
    put(damping, index, better, take(damping, index) / 3)
    retry = valid & ~better
    if not bool(retry.any()):
        return
    sub, sub_valid = pad_mask(retry)
    a, hw, xw, gw, qw = (take(t, sub) for t in (a, hw, xw, gw, qw))
    rows = take(index, sub)
    dw = take(damping, rows)
    a_t = a.transpose(-1, -2)
    normal = a_t @ a
    grad = a_t @ gw.unsqueeze(-1)
    mu = dw * normal.diagonal(dim1=-2, dim2=-1).mean(-1).clamp_min(1e-30)
    delta, info = torch.linalg.solve_ex(normal + mu[..., None, None] * eye, -grad)
    delta = delta.squeeze(-1)
    ok = sub_valid & (info == 0) & torch.isfinite(delta).all(-1)
    better = _try_step(system, state, rows, ok, hw, xw, qw, delta, region, spurious_q)
    put(damping, rows, sub_valid, torch.where(better, dw / 3, dw * 10))


def _try_step(system, state, index, ok, hw, xw, qw, delta, region, spurious_q):
    """Accept ``hw + delta`` where it lowers ``q``; return the accepted mask."""
    h, _x, g_all, q, _damping, running = state
    delta = torch.where(ok.unsqueeze(-1), delta, torch.zeros_like(delta))
    trial = hw + delta
    g_trial = system.run(trial, xw) - trial
    q_trial = 0.5 * g_trial.pow(2).sum(-1)
    better = ok & torch.isfinite(q_trial) & (q_trial < qw)
    if region is not None and region.source != "none":
        before = region.excess(hw)
        leaving = better & (before > 0) & (region.excess(trial) > before) & (q_trial < spurious_q)
        put(running, index, leaving, torch.zeros_like(leaving))
    put(h, index, better, trial)
    put(g_all, index, better, g_trial)
    put(q, index, better, q_trial)
    return better
