"""Distance matrices for whole populations.

Each network's matrix is prepared once (centred, whitened or reduced, normalised) into
a representation ``R_i [n, k_i]``; a pair's score depends only on ``R_iᵀ R_j``. Blocks of
pairs are computed as one large matrix product of stacked representations,
``[n, b·K]ᵀ [n, b·K]``, chunked to a memory budget, and scored in batches.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .._progress import progress_bar
from ._prepare import DEFAULT_EPS, centered, check_matrix, svd_reduced, whitened_basis
from .cka import linear_cka_representation
from .shape import shape_representation

METRICS = ("cca", "svcca", "pwcca", "cka", "procrustes", "shape", "dsa")


@dataclass
class _Prepared:
    reps: torch.Tensor  # [N, n, K] zero-padded
    widths: torch.Tensor  # [N] true widths k_i
    extra: torch.Tensor | None = None  # pwcca: Q_iᵀ X_i, [N, K, P]


def _prepare(metric: str, mats: list[torch.Tensor], options: dict) -> _Prepared:
    if metric in ("cca", "pwcca"):
        reps = [whitened_basis(centered(m), options.get("eps", DEFAULT_EPS)) for m in mats]
    elif metric == "svcca":
        reps = [
            svd_reduced(centered(m), options.get("variance", 0.99), options.get("keep"))
            for m in mats
        ]
    elif metric == "cka":
        reps = [linear_cka_representation(m) for m in mats]
    else:  # procrustes / shape
        alpha = 1.0 if metric == "procrustes" else options.get("alpha", 1.0)
        reps = [shape_representation(m, alpha, options.get("eps", DEFAULT_EPS)) for m in mats]
    width = max(r.shape[1] for r in reps)
    stacked = torch.zeros(len(reps), reps[0].shape[0], width, dtype=torch.float64)
    for i, r in enumerate(reps):
        stacked[i, :, : r.shape[1]] = r
    extra = None
    if metric == "pwcca":
        units = max(m.shape[1] for m in mats)
        extra = torch.zeros(len(mats), width, units, dtype=torch.float64)
        for i, (r, m) in enumerate(zip(reps, mats, strict=True)):
            extra[i, : r.shape[1], : m.shape[1]] = r.T @ centered(m)
    return _Prepared(stacked, torch.tensor([r.shape[1] for r in reps]), extra)


def _score(
    metric: str, block: torch.Tensor, a: _Prepared, ia, b: _Prepared, ib, options
) -> torch.Tensor:
    """Distances for a block of pairs from ``M_ij = R_iᵀ R_j`` ``[bi, bj, K, K]``."""
    if metric in ("cca", "svcca"):
        values = torch.linalg.svdvals(block).clamp(0, 1)  # sorted, padding adds zeros
        k = torch.minimum(a.widths[ia][:, None], b.widths[ib][None, :])  # [bi, bj]
        mask = torch.arange(values.shape[-1]) < k[..., None]
        return 1 - (values * mask).sum(-1) / k
    if metric == "pwcca":
        u, rho, vh = torch.linalg.svd(block)
        k = torch.minimum(a.widths[ia][:, None], b.widths[ib][None, :])
        mask = (torch.arange(rho.shape[-1]) < k[..., None]).to(rho.dtype)
        rho = rho.clamp(0, 1) * mask
        wx = (u.transpose(-1, -2) @ a.extra[ia][:, None]).abs().sum(-1) * mask
        wy = (vh @ b.extra[ib][None, :]).abs().sum(-1) * mask
        forward = (wx * rho).sum(-1) / wx.sum(-1).clamp_min(1e-300)
        backward = (wy * rho).sum(-1) / wy.sum(-1).clamp_min(1e-300)
        return 1 - 0.5 * (forward + backward)
    if metric == "cka":
        return 1 - block.pow(2).sum((-1, -2))
    nuclear = torch.linalg.svdvals(block).sum(-1)  # procrustes / shape: angular distance
    return torch.arccos(nuclear.clamp(-1, 1))


def pairwise(
    metric: str,
    matrices: Sequence,
    *,
    memory_mb: float = 256.0,
    progress: bool = False,
    **options,
) -> np.ndarray:
    """Distance matrix ``[N, N]`` between networks' state matrices.

    Args:
        metric: ``"cca"``, ``"svcca"``, ``"pwcca"`` and ``"cka"`` give ``1 −
            similarity``; ``"procrustes"`` and ``"shape"`` (with ``alpha=``) give the
            angular shape distance in radians.
        matrices: ``N`` arrays ``[samples, units]`` collected on the same probe inputs
            (same samples; units may differ).
        memory_mb: budget for one block of the Gram product.
        progress: show a progress bar over blocks.
        **options: the metric's options (``variance``/``keep`` for svcca, ``alpha`` for
            shape, ``eps``).

    Returns:
        Symmetric ``[N, N]`` float64 array with a zero diagonal.

    ``metric="dsa"`` takes trajectories ``[trials, time, units]`` instead and is
    :func:`rnnscope.compare.pairwise_dsa` (its options: ``score``, ``n_delays``, ...).
    """
    if metric == "dsa":
        from .dsa import pairwise_dsa

        return pairwise_dsa(matrices, progress=progress, **options)
    mats = _check_population("matrices", matrices)
    prepared = _prepare(_check_metric(metric, options), mats, options)
    n_net = len(mats)
    out = np.zeros((n_net, n_net))
    blocks = _blocks(prepared, prepared, memory_mb)
    pairs = [(i, j) for i in blocks for j in blocks if j[0] >= i[0]]
    for ia, ib in _progress(pairs, progress, f"pairwise {metric}"):
        d = _block_distances(metric, prepared, ia, prepared, ib, options)
        out[ia[0] : ia[-1] + 1, ib[0] : ib[-1] + 1] = d
        out[ib[0] : ib[-1] + 1, ia[0] : ia[-1] + 1] = d.T
    out = 0.5 * (out + out.T)  # blocks on the diagonal compute (i, j) and (j, i) apart
    np.fill_diagonal(out, 0.0)
    return out


def cross(
    metric: str,
    a: Sequence,
    b: Sequence,
    *,
    memory_mb: float = 256.0,
    progress: bool = False,
    **options,
) -> np.ndarray:
    """Distances ``[N_a, N_b]`` between two populations (e.g. models vs recordings),
    as :func:`pairwise`. A single matrix may be passed in place of a list."""
    if metric == "dsa":
        from .dsa import cross_dsa

        return cross_dsa(a, b, progress=progress, **options)
    mats_a = _check_population("a", a)
    mats_b = _check_population("b", b)
    if mats_a[0].shape[0] != mats_b[0].shape[0]:
        raise ValueError(
            f"a has {mats_a[0].shape[0]} samples but b has {mats_b[0].shape[0]}; both must be "
            "collected on the same probe inputs."
        )
    metric = _check_metric(metric, options)
    pa, pb = _prepare(metric, mats_a, options), _prepare(metric, mats_b, options)
    out = np.zeros((len(mats_a), len(mats_b)))
    for ia in _progress(_blocks(pa, pb, memory_mb), progress, f"cross {metric}"):
        for ib in _blocks(pb, pa, memory_mb):
            out[ia[0] : ia[-1] + 1, ib[0] : ib[-1] + 1] = _block_distances(
                metric, pa, ia, pb, ib, options
            )
    return out


def _block_distances(metric, a: _Prepared, ia, b: _Prepared, ib, options) -> np.ndarray:
    ra, rb = a.reps[ia[0] : ia[-1] + 1], b.reps[ib[0] : ib[-1] + 1]
    n, ka, kb = ra.shape[1], ra.shape[2], rb.shape[2]
    # one large product: [bi·Ka, n] @ [n, bj·Kb]
    gram = ra.permute(0, 2, 1).reshape(-1, n) @ rb.permute(1, 0, 2).reshape(n, -1)
    block = gram.reshape(len(ia), ka, len(ib), kb).permute(0, 2, 1, 3)
    ia_t, ib_t = torch.as_tensor(ia), torch.as_tensor(ib)
    return _score(metric, block, a, ia_t, b, ib_t, options).numpy()


def _blocks(a: _Prepared, b: _Prepared, memory_mb: float) -> list[list[int]]:
    """Contiguous index blocks whose pair block fits the memory budget."""
    per_pair = 8 * (a.reps.shape[2] * b.reps.shape[2] * 4 + a.reps.shape[1])  # gram + svd workspace
    size = max(1, int(math.sqrt(memory_mb * 2**20 / per_pair)))
    n = a.reps.shape[0]
    return [list(range(s, min(n, s + size))) for s in range(0, n, size)]


def _check_metric(metric: str, options: dict) -> str:
    if metric not in METRICS:
        raise ValueError(
            f"unknown metric {metric!r}; choose one of {', '.join(map(repr, METRICS))}."
        )
    allowed = {
        "cca": {"eps"},
        "pwcca": {"eps"},
        "svcca": {"variance", "keep"},
        "cka": set(),
        "procrustes": {"eps"},
        "shape": {"alpha", "eps"},
    }[metric]
    unknown = set(options) - allowed
    if unknown:
        raise TypeError(
            f"metric {metric!r} takes no option(s) {sorted(unknown)}; it takes {sorted(allowed)}."
        )
    return metric


def _check_population(name: str, matrices) -> list[torch.Tensor]:
    if torch.is_tensor(matrices) or isinstance(matrices, np.ndarray):
        arr = matrices
        matrices = [arr] if arr.ndim == 2 else list(arr)
    matrices = list(matrices)
    if not matrices:
        raise ValueError(f"{name} is an empty list: give at least one [samples, units] matrix.")
    mats = [check_matrix(f"{name}[{i}]", m) for i, m in enumerate(matrices)]
    samples = {m.shape[0] for m in mats}
    if len(samples) > 1:
        raise ValueError(
            f"{name} holds matrices with different sample counts {sorted(samples)}; collect every "
            "network's states on the same probe inputs."
        )
    return mats


def _progress(items, show: bool, label: str):
    if not show:
        yield from items
        return
    with progress_bar() as bar:
        task = bar.add_task(label, total=len(items))
        for item in items:
            yield item
            bar.advance(task)


def single_pair(metric: str, **options) -> Callable:
    """The function computing one pair's *distance* for ``metric`` (as ``pairwise``)."""
    from .cca import cca, pwcca, svcca
    from .shape import procrustes, shape_metric

    if metric == "cca":
        return lambda x, y: 1 - cca(x, y, **options)
    if metric == "svcca":
        return lambda x, y: 1 - svcca(x, y, **options)
    if metric == "pwcca":
        return lambda x, y: 1 - 0.5 * (pwcca(x, y, **options) + pwcca(y, x, **options))
    if metric == "cka":
        from .cka import cka

        return lambda x, y: 1 - cka(x, y)
    if metric == "procrustes":
        return procrustes
    if metric == "shape":
        return lambda x, y: shape_metric(x, y, **options)
    raise ValueError(f"unknown metric {metric!r}.")
