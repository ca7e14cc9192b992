"""Dynamical Similarity Analysis (Ostrow et al., NeurIPS 2023), batched over populations.

Each network's trajectories ``[trials, time, units]`` are delay-embedded (``n_delays``
copies, ``delay_interval`` steps apart; newest first, as the reference package), the
Hankel matrix ``H [trials·(time − (n_delays − 1)·delay_interval), units·n_delays]`` is
reduced to its top ``rank`` left singular vectors ``V`` (HAVOK-style "eigen-time-delay"
coordinates, each of unit norm over the samples), and the one-step map of those
coordinates is fitted by ridge regression within each trial,
``V[t + 1] ≈ A V[t]`` → the operator ``A [rank, rank]``.

Two scores compare operators ``A``, ``B``:

- ``"angular"`` — Procrustes over vector fields: ``θ = arccos max_C ⟨A, C B Cᵀ⟩ /
  (‖A‖ ‖B‖)`` over orthogonal ``C`` (radians in [0, π]; 0 = the same dynamics up to an
  orthogonal change of coordinates and a scale). A metric on operators up to orthogonal
  conjugation (the group acts by isometries of the unit sphere).
- ``"wasserstein"`` — the 2-Wasserstein distance between the two eigenvalue sets (points
  in the complex plane, uniform weights): ``sqrt(min_π mean_i |λ_i − μ_π(i)|²)``. A
  metric on spectra; invariant to any invertible change of coordinates. The reference
  package (``dsa-metric``) reports the *square* of this number.

The input-aware variant (``inputs=``: DMD with control) fits ``V[t + 1] ≈ A V[t] +
B u[t + 1 + (n_delays − 1)·delay_interval]`` (``u`` the input that produced the newest
state of the next row, rnnscope's convention ``h_t = F(h_{t−1}, x_t)``) and compares the
intrinsic ``A`` only, so networks driven by different inputs, or reading them in through
different weights, are compared on their own dynamics.

Pinned defaults (the reference changed its own over time): ``n_delays=10``,
``delay_interval=1``, ``rank=10``, ``ridge=1e-8`` (the reference DMD's ``lamb``),
``score="angular"``. No centring or scaling of the data (as the reference).

Population use: :func:`prepare_dsa` fits one network's operator (plain NumPy arrays),
:func:`dsa_block` scores blocks of prepared networks, solving the orthogonal alignments
of all pairs at once (a monotone, batched polar iteration from several starts), and
:func:`pairwise_dsa` / :func:`cross_dsa` do both with a progress bar.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from .._progress import progress_bar

SCORES = ("angular", "wasserstein")

#: singular values of the Hankel matrix below ``rank_tol · s_max`` are not spanned
DEFAULT_RANK_TOL = 1e-6
#: trajectories whose spread around their mean is below this share of their size are constant
CONSTANT_TOL = 1e-6


@dataclass(frozen=True)
class Alignment:
    """Options of the batched orthogonal alignment (angular score).

    Attributes:
        restarts: starts per pair: two spectral starts (the symmetric parts' eigenvectors
            matched, with the best signs), the identity, a reflection, then seeded random
            rotations.
        iters: most Newton iterations per start.
        gtol: a start stops once its Riemannian gradient norm is below this.
        prune: after 10 and 20 iterations, starts whose alignment is this much below
            their pair's best so far stop (``None``, the default: never; 0.05 halves the
            time on rank-10 operators but lost the optimum on 11 of 66 pairs instead of 4).
        seed: seed of the random starts (the result is deterministic).
        pairs_per_batch: pairs solved together (memory ~ pairs · restarts · 2 r⁴ · 8 bytes).
    """

    restarts: int = 16
    iters: int = 50
    prune: float | None = None
    gtol: float = 1e-10
    seed: int = 0
    pairs_per_batch: int = 32


# ----------------------------------------------------------------------------- prepare
def prepare_dsa(
    trajectories,
    *,
    inputs=None,
    n_delays: int = 10,
    rank: int = 10,
    ridge: float = 1e-8,
    delay_interval: int = 1,
    rank_tol: float = DEFAULT_RANK_TOL,
    name: str = "trajectories",
) -> dict[str, np.ndarray]:
    """Fit one network's DSA operator once.

    Args:
        trajectories: ``[trials, time, units]`` (or ``[time, units]``, one trial) states.
        inputs: optional ``[trials, time, input_size]`` inputs on the same time steps, for
            the input-aware variant (DMD with control; only the intrinsic ``A`` is kept).
        n_delays, delay_interval: the delay embedding.
        rank: number of Hankel singular directions kept (the operator is ``rank × rank``).
        ridge: ridge penalty of the regression (on unit-norm coordinates).
        rank_tol: directions with singular value below ``rank_tol · s_max`` count as not
            spanned; fewer than ``rank`` spanned directions is an error.

    Returns:
        ``{"operator": A [rank, rank] float64, "eigenvalues": [rank] complex128,
        "singular_values": [rank] float64}`` — plain arrays (``np.savez``-able).

    Raises:
        ValueError: naming the problem and the fix, for constant trajectories, too few
            samples, or fewer spanned directions than ``rank``.
    """
    x = _check_trajectories(name, trajectories)
    _check_int("n_delays", n_delays)
    _check_int("delay_interval", delay_interval)
    _check_int("rank", rank)
    if not ridge >= 0:
        raise ValueError(f"ridge must be >= 0, got {ridge!r}.")
    trials, steps, units = x.shape
    span = (n_delays - 1) * delay_interval
    rows = steps - span  # Hankel rows per trial
    if rows < 2:
        raise ValueError(
            f"{name} has {steps} time steps; n_delays={n_delays} with delay_interval="
            f"{delay_interval} needs at least {span + 2} (use fewer delays or longer trials)."
        )
    pairs = trials * (rows - 1)
    if rank > units * n_delays:
        raise ValueError(
            f"rank={rank} exceeds the {units * n_delays} delay-embedded dimensions of {name} "
            f"({units} units × {n_delays} delays); lower rank or add delays."
        )
    if pairs < 2 * rank:
        raise ValueError(
            f"{name} gives {pairs} one-step pairs for a rank-{rank} operator; DSA needs at least "
            f"2·rank = {2 * rank} (collect more trials or time steps, or lower rank)."
        )
    flat = x.reshape(-1, units)
    spread = (flat - flat.mean(0)).norm()
    if spread <= CONSTANT_TOL * flat.norm() or spread == 0:
        raise ValueError(
            f"{name} is constant over trials and time (a dead or saturated network?): it has no "
            "dynamics to compare; drop it from the comparison."
        )
    u = None
    if inputs is not None:
        u = _check_trajectories(f"inputs for {name}", inputs)
        if u.shape[:2] != x.shape[:2]:
            raise ValueError(
                f"inputs for {name} have shape {list(u.shape)}; they must share [trials, time] "
                f"{list(x.shape[:2])} with the trajectories."
            )
    h = hankel(x, n_delays, delay_interval)  # [trials, rows, units·n_delays]
    hf = h.reshape(-1, h.shape[-1])
    # top left singular vectors of H from its Gram matrix (width units·n_delays)
    values, vectors = torch.linalg.eigh(hf.T @ hf)
    values, vectors = values.flip(0), vectors.flip(1)
    s = values.clamp_min(0).sqrt()
    spanned = int((s > rank_tol * s[0]).sum()) if s[0] > 0 else 0
    if spanned < rank:
        raise ValueError(
            f"{name}'s delay-embedded trajectories span only {spanned} directions (singular "
            f"values above {rank_tol:g}·max), fewer than rank={rank}: the operator would be "
            f"fitted on rounding noise. Lower rank to <= {spanned}, or probe with richer inputs."
        )
    v = (hf @ vectors[:, :rank]) / s[:rank]  # [samples, rank], unit-norm columns
    v = v.reshape(trials, rows, rank)
    past, future = v[:, :-1].reshape(-1, rank), v[:, 1:].reshape(-1, rank)
    if u is not None:
        drive = u[:, span + 1 :].reshape(-1, u.shape[-1])
        design = torch.cat([past, drive], 1)
    else:
        design = past
    gram = design.T @ design + ridge * torch.eye(design.shape[1], dtype=design.dtype)
    coef = torch.linalg.solve(gram, design.T @ future)  # [features, rank]
    a = coef[:rank].T.contiguous()
    if a.norm() <= 1e-12:
        raise ValueError(
            f"{name}'s fitted operator is zero (no linear dependence of one step on the last: "
            "white noise?); DSA cannot compare it."
        )
    return {
        "operator": a.numpy(),
        "eigenvalues": torch.linalg.eigvals(a).numpy(),
        "singular_values": s[:rank].numpy(),
    }


def hankel(x: torch.Tensor, n_delays: int, delay_interval: int = 1) -> torch.Tensor:
    """Delay embedding ``[trials, time, units] → [trials, time − (d−1)τ, units·d]``, newest
    copy first (the reference's ``embed_signal_torch`` order)."""
    span = (n_delays - 1) * delay_interval
    steps = x.shape[1]
    return torch.cat(
        [x[:, span - k * delay_interval : steps - k * delay_interval] for k in range(n_delays)],
        dim=-1,
    )


# ----------------------------------------------------------------------------- scores
def dsa(
    x,
    y,
    *,
    score: str = "angular",
    inputs_x=None,
    inputs_y=None,
    n_delays: int = 10,
    rank: int = 10,
    ridge: float = 1e-8,
    delay_interval: int = 1,
    alignment: Alignment | None = None,
) -> float:
    """DSA distance between two networks' trajectories ``[trials, time, units]`` (units may
    differ; trials and time need not match).

    ``score="angular"``: radians in [0, π]; ``"wasserstein"``: eigenvalue 2-Wasserstein
    distance. ``inputs_x``/``inputs_y`` ``[trials, time, input_size]``: the input-aware
    variant (both or neither). See the module docstring for the definitions and defaults.
    """
    if (inputs_x is None) != (inputs_y is None):
        raise ValueError("give inputs for both networks (inputs_x and inputs_y) or for neither.")
    fit = {
        "n_delays": n_delays,
        "rank": rank,
        "ridge": ridge,
        "delay_interval": delay_interval,
    }
    a = prepare_dsa(x, inputs=inputs_x, name="X", **fit)
    b = prepare_dsa(y, inputs=inputs_y, name="Y", **fit)
    return float(dsa_block([a], [b], score=score, alignment=alignment)[0, 0])


def dsa_block(
    a: Sequence[dict],
    b: Sequence[dict],
    *,
    score: str = "angular",
    alignment: Alignment | None = None,
    device: str | torch.device | None = None,
    memory_mb: float | None = None,
) -> np.ndarray:
    """Distances ``[len(a), len(b)]`` between prepared networks (:func:`prepare_dsa`).

    ``memory_mb`` bounds the angular score's batched alignment (fewer pairs per batch
    than ``alignment.pairs_per_batch`` when needed); it runs on the CPU, and a
    ``device`` other than ``"cpu"`` is refused. The Wasserstein score is a small
    assignment problem per pair."""
    _check_score(score)
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    ia, ib = np.meshgrid(np.arange(len(a)), np.arange(len(b)), indexing="ij")
    values = _score_pairs(
        list(a), list(b), ia.ravel(), ib.ravel(), score, alignment, device, memory_mb
    )
    return values.reshape(len(a), len(b))


def _score_pairs(a, b, ia, ib, score, alignment, device=None, memory_mb=None) -> np.ndarray:
    if score == "wasserstein":
        return np.array([eigenvalue_wasserstein(a[i], b[j]) for i, j in zip(ia, ib, strict=True)])
    ops_a = _stack([p["operator"] for p in a])
    ops_b = _stack([p["operator"] for p in b])
    return align(ops_a[ia], ops_b[ib], alignment, device=device, memory_mb=memory_mb)[0].numpy()


def eigenvalue_wasserstein(a: dict, b: dict) -> float:
    """2-Wasserstein distance between the eigenvalue sets of two prepared networks (the
    smaller set padded with zeros, as the reference does)."""
    ea, eb = np.asarray(a["eigenvalues"]), np.asarray(b["eigenvalues"])
    n = max(len(ea), len(eb))
    ea = np.concatenate([ea, np.zeros(n - len(ea))])
    eb = np.concatenate([eb, np.zeros(n - len(eb))])
    cost = np.abs(ea[:, None] - eb[None, :]) ** 2
    rows, cols = linear_sum_assignment(cost)
    return float(math.sqrt(cost[rows, cols].mean()))


def align(
    a: torch.Tensor,
    b: torch.Tensor,
    alignment: Alignment | None = None,
    *,
    device: str | torch.device | None = None,
    memory_mb: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Best orthogonal alignment of operator pairs, batched.

    Args:
        a, b: ``[P, r, r]`` operators (any scale; compared after unit Frobenius scaling).
        device: ``None`` or ``"cpu"``: the alignment runs on the CPU (any other device
            is refused rather than ignored).
        memory_mb: bound on one batch's working memory (about ``pairs · restarts · 2 r⁴ ·
            8`` bytes): fewer pairs per batch than ``alignment.pairs_per_batch`` if needed.

    Returns:
        ``(angles [P], C [P, r, r])``: ``angle = arccos ⟨Â, C B̂ Cᵀ⟩``, the largest alignment
        found over orthogonal ``C`` from ``alignment.restarts`` starts.

    The problem is not convex (several local optima), so each pair is solved from several
    starts at once; each start runs a damped (Levenberg–Marquardt) Riemannian Newton
    method on the orthogonal group: in the chart ``C exp(Ω)`` the objective's gradient and
    Hessian in the ``r(r−1)/2`` coordinates of the skew matrix ``Ω`` are exact closed
    forms, a step is kept only if it raises the alignment, and the damping falls to zero
    near a maximum (quadratic convergence). All starts of all pairs run as one batch.
    """
    opt = alignment or Alignment()
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    if a.shape != b.shape or a.dim() != 3 or a.shape[-1] != a.shape[-2]:
        raise ValueError(
            f"operators of shapes {list(a.shape)} and {list(b.shape)}; give [P, r, r] pairs "
            "fitted with the same rank."
        )
    n_pairs, r = a.shape[0], a.shape[-1]
    per = opt.pairs_per_batch
    if memory_mb is not None:
        if not memory_mb > 0:
            raise ValueError(f"memory_mb must be positive, got {memory_mb!r}.")
        per_pair = max(1, opt.restarts) * 2 * r**4 * 8
        per = max(1, min(per, int(memory_mb * 2**20 // per_pair)))
    if device is not None and torch.device(device).type != "cpu":
        raise ValueError(
            f"DSA's alignment runs on the CPU only, got device={str(device)!r}; drop device= "
            "(its batches are small dense solves)."
        )
    angles = torch.empty(n_pairs, dtype=torch.float64)
    best_c = torch.empty(n_pairs, r, r, dtype=torch.float64)
    for lo in range(0, n_pairs, per):
        hi = min(n_pairs, lo + per)
        angles[lo:hi], best_c[lo:hi] = _align_batch(a[lo:hi], b[lo:hi], opt)
    return angles, best_c


def _align_batch(a, b, opt: Alignment):
    a = a / torch.linalg.matrix_norm(a)[:, None, None]
    b = b / torch.linalg.matrix_norm(b)[:, None, None]
    p, r = a.shape[0], a.shape[-1]
    c = _starts(a, b, opt.restarts, opt.seed)  # [P, R, r, r]
    n_starts = c.shape[1]
    A = a.repeat_interleave(n_starts, 0)
    B = b.repeat_interleave(n_starts, 0)
    c = c.reshape(-1, r, r)
    if r > 1:
        c = _newton(A, B, c, opt, n_starts)
    value = _objective(A, B, c).reshape(p, n_starts)
    best = value.argmax(1)
    rows = torch.arange(p)
    c = c.reshape(p, n_starts, r, r)[rows, best]
    return torch.arccos(value[rows, best].clamp(-1, 1)), c


def _newton(A, B, c, opt: Alignment, n_starts: int):
    r = A.shape[-1]
    sk = _Skew(r)
    value = _objective(A, B, c)
    damping = torch.full_like(value, 1e-2)
    active = torch.arange(len(c))
    for it in range(opt.iters):
        if not len(active):
            break
        if opt.prune is not None and it in (10, 20):
            # starts far below their pair's best so far rarely overtake it: stop them
            best = value.view(-1, n_starts).max(1).values.repeat_interleave(n_starts)
            active = active[value[active] >= best[active] - opt.prune]
        a, b, ci = A[active], B[active], c[active]
        ap = ci.transpose(-1, -2) @ a @ ci  # A in the chart's coordinates
        grad = sk.coords(ap @ b.transpose(-1, -2) - b.transpose(-1, -2) @ ap)  # [n, m]
        neg_hess = -sk.hessian(ap, b)
        eye = torch.eye(sk.m, dtype=A.dtype)
        mu = damping[active]
        chol, info = torch.linalg.cholesky_ex(neg_hess + mu[:, None, None] * eye)
        pd = info == 0
        step = torch.cholesky_solve(grad[..., None], chol)[..., 0]
        step = torch.where(pd[:, None], step, torch.zeros_like(step))
        step_norm = step.norm(dim=-1, keepdim=True)
        step = step * torch.clamp(1.0 / step_norm.clamp_min(1e-300), max=1.0)  # |Ω| <= 1
        new_c = ci @ torch.linalg.matrix_exp(sk.matrix(step))
        new_value = _objective(a, b, new_c)
        accept = pd & (new_value >= value[active])
        c[active] = torch.where(accept[:, None, None], new_c, ci)
        value[active] = torch.where(accept, new_value, value[active])
        damping[active] = torch.where(accept, mu / 4, torch.maximum(mu * 4, mu.new_tensor(1e-4)))
        # converged: a maximum (Hessian negative definite without damping) with tiny gradient
        done = (grad.norm(dim=-1) < opt.gtol) & pd & (mu < 1e-6)
        active = active[~done]
    return c


class _Skew:
    """Coordinates ``ω ∈ R^m`` (``m = r(r−1)/2``) of skew matrices ``Ω = Σ ω_k E_k``,
    ``E_k = e_i e_jᵀ − e_j e_iᵀ`` for ``i < j``, and the closed-form Hessian."""

    def __init__(self, r: int):
        i, j = torch.triu_indices(r, r, 1)
        self.r, self.i, self.j, self.m = r, i, j, len(i)
        # tr(X E_k Y E_l) = Y_jp X_qi − Y_jq X_pi − Y_ip X_qj + Y_iq X_pj, k = (i, j),
        # l = (p, q): four terms Y[a_k, b_l] · X[c_l, d_k], gathered from flat matrices
        terms = [(j, i, j, i), (j, j, i, i), (i, i, j, j), (i, j, i, j)]
        self.sign = torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=torch.float64)[:, None, None]
        self.y_index = torch.stack([a[:, None] * r + b[None, :] for a, b, _, _ in terms])
        self.x_index = torch.stack([c[None, :] * r + d[:, None] for _, _, c, d in terms])
        rows = torch.stack([a[:, None].expand(-1, self.m) for a, _, _, _ in terms])
        cols = torch.stack([b[None, :].expand(self.m, -1) for _, b, _, _ in terms])
        self.identity_terms = self.sign * (rows == cols).to(torch.float64)  # Y = I

    def coords(self, x):  # ⟨E_k, X⟩
        return x[..., self.i, self.j] - x[..., self.j, self.i]

    def matrix(self, w):
        out = w.new_zeros((*w.shape[:-1], self.r, self.r))
        out[..., self.i, self.j] = w
        out[..., self.j, self.i] = -w
        return out

    def _gather(self, z, index):  # z [n, r, r] -> [n, 4, m, m]
        flat = z.reshape(len(z), -1)
        return flat.index_select(1, index.reshape(-1)).view(len(z), 4, self.m, self.m)

    def hessian(self, ap, b):
        """Hessian at ``Ω = 0`` of ``⟨A', e^Ω B e^{−Ω}⟩``, whose second-order part is
        ``−tr(A'ᵀ Ω B Ω) + ½ tr(W Ω²)`` with ``W = B A'ᵀ + A'ᵀ B``."""
        apt = ap.transpose(-1, -2)
        w = b @ apt + apt @ b
        f1 = (self.sign * self._gather(b, self.y_index) * self._gather(apt, self.x_index)).sum(1)
        f2 = (self.identity_terms * self._gather(w, self.x_index)).sum(1)
        return -(f1 + f1.transpose(-1, -2)) + 0.5 * (f2 + f2.transpose(-1, -2))


def _objective(a, b, c):
    return (a * (c @ b @ c.transpose(-1, -2))).sum((-1, -2))


def _starts(a: torch.Tensor, b: torch.Tensor, restarts: int, seed: int) -> torch.Tensor:
    """``[P, R, r, r]`` starting rotations for each pair: the two best *spectral* starts
    (symmetric parts' eigenvectors matched in order, ``C = U_A D U_Bᵀ``, with the sign
    matrices ``D`` that best align the rest — exact when ``B`` is an orthogonal conjugate
    of ``A`` with distinct symmetric eigenvalues), the identity, a reflection, then seeded
    random rotations."""
    if restarts < 1:
        raise ValueError(f"restarts must be >= 1, got {restarts!r}.")
    p, r = a.shape[0], a.shape[-1]
    eye = torch.eye(r, dtype=torch.float64)
    flip = eye.clone()
    flip[0, 0] = -1
    _, ua = torch.linalg.eigh(a + a.transpose(-1, -2))
    _, ub = torch.linalg.eigh(b + b.transpose(-1, -2))
    at = ua.transpose(-1, -2) @ a @ ua
    bt = ub.transpose(-1, -2) @ b @ ub
    signs = _best_signs(at * bt, 2)  # [P, 2, r]: maximise Σ_ij Ã_ij B̃_ij d_i d_j
    spectral = (ua[:, None] * signs[..., None, :]) @ ub.transpose(-1, -2)[:, None]
    out = [spectral[:, 0], spectral[:, 1], eye.expand(p, r, r), flip.expand(p, r, r)]
    gen = torch.Generator().manual_seed(seed)
    while len(out) < restarts:
        q, rr = torch.linalg.qr(torch.randn(r, r, generator=gen, dtype=torch.float64))
        out.append((q * torch.sign(torch.diagonal(rr))).expand(p, r, r))
    return torch.stack(out[:restarts], 1)


def _best_signs(m: torch.Tensor, keep: int) -> torch.Tensor:
    """The ``keep`` best sign vectors ``d`` (``d_0 = +1``) for ``dᵀ M d``, ``M [P, r, r]``:
    exhaustive up to r = 12, otherwise greedy flips from the leading eigenvector's signs."""
    p, r = m.shape[0], m.shape[-1]
    m = 0.5 * (m + m.transpose(-1, -2))
    if r <= 12:
        codes = torch.arange(2 ** (r - 1))
        bits = (codes[:, None] >> torch.arange(r - 1)) & 1
        d = torch.cat([torch.ones(len(codes), 1), 1.0 - 2.0 * bits], 1).to(m.dtype)  # [S, r]
        score = torch.einsum("si,pij,sj->ps", d, m, d)
        top = score.topk(min(keep, len(codes)), dim=1).indices  # [P, keep]
        out = d[top]
        if out.shape[1] < keep:
            out = torch.cat([out, out[:, :1].expand(p, keep - out.shape[1], r)], 1)
        return out
    _, vec = torch.linalg.eigh(m)
    d = torch.where(vec[..., -1] >= 0, 1.0, -1.0).to(m.dtype)
    for _ in range(2 * r):
        gain = -4 * d * ((m @ d[..., None])[..., 0] - torch.diagonal(m, dim1=-2, dim2=-1) * d)
        best = gain.argmax(-1)
        improve = gain.gather(-1, best[:, None])[:, 0] > 1e-12
        if not improve.any():
            break
        d[improve, best[improve]] *= -1
    return torch.stack([d] * keep, 1)


# ----------------------------------------------------------------------------- populations
def pairwise_dsa(
    trajectories: Sequence,
    *,
    inputs: Sequence | None = None,
    score: str = "angular",
    n_delays: int = 10,
    rank: int = 10,
    ridge: float = 1e-8,
    delay_interval: int = 1,
    alignment: Alignment | None = None,
    progress: bool = False,
) -> np.ndarray:
    """DSA distance matrix ``[N, N]`` of ``N`` networks' trajectories (each
    ``[trials, time, units]``); each operator is fitted once, the alignments of all pairs
    are solved in batches. Symmetric, zero diagonal. ``inputs``: one ``[trials, time,
    input_size]`` array per network (or one for all) for the input-aware variant."""
    prepared = _prepare_population(
        "trajectories", trajectories, inputs, n_delays, rank, ridge, delay_interval, progress
    )
    n = len(prepared)
    ia, ib = np.triu_indices(n, 1)
    values = _scored_in_chunks(prepared, prepared, ia, ib, score, alignment, progress)
    out = np.zeros((n, n))
    out[ia, ib] = values
    out[ib, ia] = values
    return out


def cross_dsa(
    a: Sequence,
    b: Sequence,
    *,
    inputs_a: Sequence | None = None,
    inputs_b: Sequence | None = None,
    score: str = "angular",
    n_delays: int = 10,
    rank: int = 10,
    ridge: float = 1e-8,
    delay_interval: int = 1,
    alignment: Alignment | None = None,
    progress: bool = False,
) -> np.ndarray:
    """DSA distances ``[N_a, N_b]`` between two populations, as :func:`pairwise_dsa`."""
    fit = (n_delays, rank, ridge, delay_interval, progress)
    pa = _prepare_population("a", a, inputs_a, *fit)
    pb = _prepare_population("b", b, inputs_b, *fit)
    ia, ib = np.meshgrid(np.arange(len(pa)), np.arange(len(pb)), indexing="ij")
    values = _scored_in_chunks(pa, pb, ia.ravel(), ib.ravel(), score, alignment, progress)
    return values.reshape(len(pa), len(pb))


def _prepare_population(name, trajectories, inputs, n_delays, rank, ridge, interval, progress):
    if isinstance(trajectories, np.ndarray | torch.Tensor):
        trajectories = [trajectories] if trajectories.ndim <= 3 else list(trajectories)
    trajectories = list(trajectories)
    if not trajectories:
        raise ValueError(f"{name} is an empty list: give at least one [trials, time, units] array.")
    if inputs is None:
        inputs = [None] * len(trajectories)
    elif isinstance(inputs, np.ndarray | torch.Tensor) and inputs.ndim == 3:
        inputs = [inputs] * len(trajectories)
    inputs = list(inputs)
    if len(inputs) != len(trajectories):
        raise ValueError(
            f"{len(inputs)} input arrays for {len(trajectories)} networks in {name}; give one "
            "per network, or one shared by all."
        )
    fit = {"n_delays": n_delays, "rank": rank, "ridge": ridge, "delay_interval": interval}
    out = []
    for i in _track(range(len(trajectories)), progress, f"dsa: fit {name}", len(trajectories)):
        out.append(prepare_dsa(trajectories[i], inputs=inputs[i], name=f"{name}[{i}]", **fit))
    return out


def _scored_in_chunks(pa, pb, ia, ib, score, alignment, progress) -> np.ndarray:
    _check_score(score)
    opt = alignment or Alignment()
    chunk = opt.pairs_per_batch
    values = np.empty(len(ia))
    starts = range(0, len(ia), chunk)
    for lo in _track(starts, progress, f"dsa: {score} scores", len(starts)):
        sl = slice(lo, lo + chunk)
        values[sl] = _score_pairs(pa, pb, ia[sl], ib[sl], score, opt)
    return values


def _track(items, show: bool, label: str, total: int):
    if not show:
        yield from items
        return
    with progress_bar() as bar:
        task = bar.add_task(label, total=total)
        for item in items:
            yield item
            bar.advance(task)


# ----------------------------------------------------------------------------- checks
def _stack(ops: list) -> torch.Tensor:
    shapes = {np.shape(o) for o in ops}
    if len(shapes) > 1:
        raise ValueError(
            f"prepared operators have different shapes {sorted(shapes)}; prepare every network "
            "with the same rank."
        )
    return torch.as_tensor(np.stack(ops), dtype=torch.float64)


def _check_score(score: str) -> None:
    if score not in SCORES:
        raise ValueError(f"unknown score {score!r}; choose 'angular' or 'wasserstein'.")


def _check_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")


def _check_trajectories(name: str, x) -> torch.Tensor:
    if x is None:
        raise TypeError(f"{name} is None; pass a [trials, time, units] array.")
    t = x.detach() if torch.is_tensor(x) else torch.as_tensor(np.asarray(x))
    if not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64)):
        raise TypeError(f"{name} must hold real numbers, got dtype {t.dtype}.")
    t = t.to(torch.float64)
    if t.dim() == 2:
        t = t[None]
    if t.dim() != 3:
        raise ValueError(
            f"{name} must be [trials, time, units] (or [time, units]), got shape {list(t.shape)}."
        )
    if 0 in t.shape:
        raise ValueError(f"{name} is empty (shape {list(t.shape)}).")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or inf; drop or impute those trials first.")
    return t


# ----------------------------------------------------- as a registered metric
_PREPARE_OPTIONS = ("inputs", "n_delays", "rank", "ridge", "delay_interval", "rank_tol")
_BLOCK_OPTIONS = ("score", "alignment")


def _registered_prepare(trajectories, **options) -> dict[str, np.ndarray]:
    return prepare_dsa(trajectories, **{k: options[k] for k in _PREPARE_OPTIONS if k in options})


def _registered_block(a, b, *, device=None, memory_mb=None, **options) -> np.ndarray:
    chosen = {k: options[k] for k in _BLOCK_OPTIONS if k in options}
    return dsa_block(a, b, device=device, memory_mb=memory_mb, **chosen)


def _register() -> None:
    from .pairwise import Metric, register

    register(
        "dsa",
        Metric(
            _registered_prepare,
            _registered_block,
            frozenset(_PREPARE_OPTIONS + _BLOCK_OPTIONS),
            lambda name, trajectories: [
                _check_trajectories(f"{name}[{i}]", x) for i, x in enumerate(trajectories)
            ],
        ),
    )


_register()
