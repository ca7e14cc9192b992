"""Distance matrices for whole populations: prepare each network once, then blocks.

:func:`prepare` turns one network's matrix into its representation for a metric (for
the geometry metrics an orthonormal or normalised basis ``R_i [samples, k_i]``; plain
NumPy arrays, float32 by default) — the SVD or whitening runs once per network.
:func:`block` scores every pair of two lists of prepared networks: a pair's score
depends only on ``M_ij = R_iᵀ R_j``, so a block is one large matrix product of the
concatenated bases, ``[Σk_a, samples] @ [samples, Σk_b]``, cut into the per-pair
``M_ij`` (networks grouped by width, no padding) and scored with one batched
``svdvals`` per group. :func:`pairwise` and :func:`cross` are prepare-all + blocks.

Metrics live in a small registry (name → :class:`Metric`), so others (``"dsa"``) plug
in their own prepare/block pair with :func:`register`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .._progress import track
from ._prepare import DEFAULT_EPS, centered, check_matrix, svd_reduced, whitened_basis
from .cka import linear_cka_representation
from .shape import shape_representation

#: options every registered metric takes (handled here, not by the metric)
COMMON_OPTIONS = frozenset({"dtype"})
DTYPES = {"float32": np.float32, "float64": np.float64}


@dataclass(frozen=True)
class Metric:
    """A metric's two halves.

    ``prepare(matrix, **options) -> dict[str, np.ndarray]``: one network, validated by the
    metric itself. ``block(a, b, *, device, memory_mb, **options) -> np.ndarray
    [len(a), len(b)]`` of distances. ``options``: the option names it accepts.
    ``check_population(name, matrices) -> list``: validation of a whole population
    (``pairwise``/``cross``), e.g. same samples for every network.
    """

    prepare: Callable[..., dict[str, np.ndarray]]
    block: Callable[..., np.ndarray]
    options: frozenset[str] = field(default_factory=frozenset)
    check_population: Callable[[str, object], list] | None = None


_REGISTRY: dict[str, Metric] = {}


def register(name: str, metric: Metric) -> None:
    """Make ``name`` available to :func:`prepare`, :func:`block`, :func:`pairwise`,
    :func:`cross` (replacing an earlier registration of that name)."""
    _REGISTRY[name] = metric
    global METRICS
    METRICS = tuple(_REGISTRY)


# ------------------------------------------------------------------------ public API
def prepare(metric: str, matrix, **options) -> dict[str, np.ndarray]:
    """One network's representation for ``metric``, computed once.

    Args:
        metric: a registered metric (see :data:`METRICS`).
        matrix: for the geometry metrics a state matrix ``[samples, units]``.
        **options: the metric's options (``variance``/``keep`` for svcca, ``alpha`` for
            shape, ``eps``) and ``dtype`` (``"float32"`` or ``"float64"``; default
            float32, except pwcca: float64, its weights are sensitive to rounding).

    Returns:
        Plain NumPy arrays (storable with ``np.savez``, shippable to a worker): for the
        geometry metrics ``"basis" [samples, k]`` (svcca: ``k`` = the kept directions),
        plus ``"projection" [k, units]`` for pwcca.
    """
    spec = _metric(metric, options)
    return spec.prepare(matrix, **options)


def block(
    metric: str,
    a: Sequence[Mapping[str, np.ndarray]],
    b: Sequence[Mapping[str, np.ndarray]],
    *,
    device: str | torch.device | None = None,
    memory_mb: float = 256.0,
    **options,
) -> np.ndarray:
    """Distances ``[len(a), len(b)]`` (float64) between prepared networks.

    Args:
        a, b: outputs of :func:`prepare` with the same metric and options.
        device: where to compute (default CPU; e.g. ``"cuda"``).
        memory_mb: bound on the working memory of one piece of the block (the block is
            computed in pieces when larger).
        **options: the same options :func:`prepare` was given (``dtype`` decides the
            precision of the large product; small SVDs run in float64).
    """
    spec = _metric(metric, options)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    return spec.block(list(a), list(b), device=_device(device), memory_mb=memory_mb, **options)


def pairwise(
    metric: str,
    matrices: Sequence,
    *,
    memory_mb: float = 256.0,
    progress: bool = False,
    device: str | torch.device | None = None,
    **options,
) -> np.ndarray:
    """Distance matrix ``[N, N]`` between networks' state matrices.

    Args:
        metric: ``"cca"``, ``"svcca"``, ``"pwcca"`` and ``"cka"`` give ``1 −
            similarity``; ``"procrustes"`` and ``"shape"`` (with ``alpha=``) give the
            angular shape distance in radians.
        matrices: ``N`` arrays ``[samples, units]`` collected on the same probe inputs
            (same samples; units may differ).
        memory_mb: budget for one block.
        progress: show progress over blocks.
        device: where blocks are computed (default CPU).
        **options: the metric's options (``variance``/``keep`` for svcca, ``alpha`` for
            shape, ``eps``; ``dtype``).

    ``metric="dsa"`` takes trajectories ``[trials, time, units]`` instead and is
    :func:`rnnscope.compare.pairwise_dsa` (its options: ``score``, ``n_delays``, ...).

    Returns:
        Symmetric ``[N, N]`` float64 array with a zero diagonal.
    """
    if metric == "dsa":
        from .dsa import pairwise_dsa

        return pairwise_dsa(matrices, progress=progress, **options)
    spec = _metric(metric, options)
    mats = _population(spec, "matrices", matrices)
    reps = [spec.prepare(m, **options) for m in mats]
    n = len(reps)
    out = np.zeros((n, n))
    chunks = _chunks(n, reps, reps, memory_mb)
    pairs = [(i, j) for i in chunks for j in chunks if j.start >= i.start]
    for ia, ib in _maybe_track(pairs, progress, f"pairwise {metric}"):
        d = block(metric, reps[ia], reps[ib], device=device, memory_mb=memory_mb, **options)
        out[ia, ib] = d
        out[ib, ia] = d.T
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
    device: str | torch.device | None = None,
    **options,
) -> np.ndarray:
    """Distances ``[N_a, N_b]`` between two populations (e.g. models vs recordings),
    as :func:`pairwise`. A single matrix may be passed in place of a list."""
    if metric == "dsa":
        from .dsa import cross_dsa

        return cross_dsa(a, b, progress=progress, **options)
    spec = _metric(metric, options)
    mats_a = _population(spec, "a", a)
    mats_b = _population(spec, "b", b)
    if mats_a[0].shape[0] != mats_b[0].shape[0]:
        raise ValueError(
            f"a has {mats_a[0].shape[0]} samples but b has {mats_b[0].shape[0]}; both must be "
            "collected on the same probe inputs."
        )
    ra = [spec.prepare(m, **options) for m in mats_a]
    rb = [spec.prepare(m, **options) for m in mats_b]
    out = np.zeros((len(ra), len(rb)))
    rows, cols = _chunks(len(ra), ra, rb, memory_mb), _chunks(len(rb), rb, ra, memory_mb)
    pairs = [(i, j) for i in rows for j in cols]
    for ia, ib in _maybe_track(pairs, progress, f"cross {metric}"):
        out[ia, ib] = block(metric, ra[ia], rb[ib], device=device, memory_mb=memory_mb, **options)
    return out


# ------------------------------------------------------------- the geometry metrics
#: pwcca's weights come from singular *vectors*, which float32 products move (~1e-4 on
#: 6,400-sample states); the other metrics' float32 distances agree to ~1e-7
_DEFAULT_DTYPE = {"pwcca": "float64"}


def _dtype(options, kind: str = "") -> type:
    name = options.get("dtype", _DEFAULT_DTYPE.get(kind, "float32"))
    if name not in DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {name!r}.")
    return DTYPES[name]


def _geometry_prepare(kind: str) -> Callable[..., dict[str, np.ndarray]]:
    def prepare_one(matrix, **options) -> dict[str, np.ndarray]:
        m = check_matrix("matrix", matrix)
        dtype = _dtype(options, kind)
        eps = options.get("eps", DEFAULT_EPS)
        out: dict[str, torch.Tensor]
        if kind in ("cca", "pwcca"):
            basis = whitened_basis(centered(m), eps)
            out = {"basis": basis}
            if kind == "pwcca":
                out["projection"] = basis.T @ centered(m)
        elif kind == "svcca":
            out = {
                "basis": svd_reduced(
                    centered(m), options.get("variance", 0.99), options.get("keep")
                )
            }
        elif kind == "cka":
            out = {"basis": linear_cka_representation(m)}
        else:  # procrustes / shape
            alpha = 1.0 if kind == "procrustes" else options.get("alpha", 1.0)
            out = {"basis": shape_representation(m, alpha, eps)}
        return {
            k: np.ascontiguousarray(v.numpy().astype(dtype, copy=False)) for k, v in out.items()
        }

    return prepare_one


def _score(kind: str, m: torch.Tensor, pa=None, pb=None) -> torch.Tensor:
    """Distances from ``M = R_aᵀ R_b`` ``[na, nb, ka, kb]`` (float64)."""
    if kind in ("cca", "svcca"):
        return 1 - torch.linalg.svdvals(m).clamp(0, 1).mean(-1)
    if kind == "pwcca":  # pa [na, ka, units_a], pb [nb, kb, units_b]
        u, rho, vh = torch.linalg.svd(m, full_matrices=False)
        rho = rho.clamp(0, 1)
        wx = (u.transpose(-1, -2) @ pa[:, None]).abs().sum(-1)
        wy = (vh @ pb[None, :]).abs().sum(-1)
        forward = (wx * rho).sum(-1) / wx.sum(-1).clamp_min(1e-300)
        backward = (wy * rho).sum(-1) / wy.sum(-1).clamp_min(1e-300)
        return 1 - 0.5 * (forward + backward)
    if kind == "cka":
        return 1 - m.pow(2).sum((-1, -2))
    nuclear = torch.linalg.svdvals(m).sum(-1)  # procrustes / shape: angular distance
    return torch.arccos(nuclear.clamp(-1, 1))


def _geometry_block(kind: str) -> Callable[..., np.ndarray]:
    def block_of(a, b, *, device, memory_mb, **options) -> np.ndarray:
        dtype = torch.float64 if _dtype(options, kind) is np.float64 else torch.float32
        n = {r["basis"].shape[0] for r in a} | {r["basis"].shape[0] for r in b}
        if len(n) > 1:
            raise ValueError(
                f"prepared networks with different sample counts {sorted(n)}; every network "
                "must be prepared from states on the same probe inputs."
            )
        out = np.empty((len(a), len(b)))
        for ia in _chunks(len(a), a, b, memory_mb):
            for ib in _chunks(len(b), b, a, memory_mb):
                out[ia, ib] = _piece(kind, a[ia], b[ib], device, dtype)
        return out

    return block_of


def _piece(kind, a, b, device, dtype) -> np.ndarray:
    """One piece of a block: one product of concatenated bases, scored per width group."""
    groups_a, basis_a = _by_width(a, device, dtype)
    groups_b, basis_b = _by_width(b, device, dtype)
    gram = basis_a.T @ basis_b  # [Σk_a, Σk_b]
    out = torch.empty(len(a), len(b), dtype=torch.float64, device=device)
    for rows, ka, idx_a in groups_a:
        for cols, kb, idx_b in groups_b:
            na, nb = len(idx_a), len(idx_b)
            m = gram[rows, cols].reshape(na, ka, nb, kb).permute(0, 2, 1, 3).to(torch.float64)
            pa = pb = None
            if kind == "pwcca":
                pa = _stack([a[i]["projection"] for i in idx_a.tolist()], device)
                pb = _stack([b[j]["projection"] for j in idx_b.tolist()], device)
            out[idx_a[:, None], idx_b[None, :]] = _score(kind, m, pa, pb)
    return out.cpu().numpy()


def _by_width(reps, device, dtype):
    """Bases concatenated ``[samples, Σk]`` with networks of equal width adjacent;
    groups ``(column slice, width, network indices)``."""
    widths = np.array([r["basis"].shape[1] for r in reps])
    order = np.argsort(widths, kind="stable")
    basis = np.concatenate([reps[i]["basis"] for i in order], axis=1)
    groups, start = [], 0
    for width in np.unique(widths):
        idx = order[widths[order] == width]
        stop = start + len(idx) * int(width)
        groups.append((slice(start, stop), int(width), torch.as_tensor(idx, device=device)))
        start = stop
    return groups, torch.as_tensor(basis, device=device).to(dtype)


def _stack(arrays, device) -> torch.Tensor:
    units = max(x.shape[1] for x in arrays)
    out = np.zeros((len(arrays), arrays[0].shape[0], units))
    for i, x in enumerate(arrays):
        out[i, :, : x.shape[1]] = x  # zero units add nothing to the weights
    return torch.as_tensor(out, device=device)


def _check_geometry_population(name: str, matrices) -> list[torch.Tensor]:
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


_GEOMETRY_OPTIONS = {
    "cca": {"eps"},
    "svcca": {"variance", "keep"},
    "pwcca": {"eps"},
    "cka": set(),
    "procrustes": {"eps"},
    "shape": {"alpha", "eps"},
}
for _name, _options in _GEOMETRY_OPTIONS.items():
    register(
        _name,
        Metric(
            _geometry_prepare(_name),
            _geometry_block(_name),
            frozenset(_options),
            _check_geometry_population,
        ),
    )
METRICS: tuple[str, ...] = tuple(_REGISTRY)


# ------------------------------------------------------------------------- helpers
def _metric(metric: str, options: dict) -> Metric:
    spec = _REGISTRY.get(metric) if isinstance(metric, str) else None
    if spec is None:
        raise ValueError(
            f"unknown metric {metric!r}; choose one of {', '.join(map(repr, _REGISTRY))}."
        )
    unknown = set(options) - spec.options - COMMON_OPTIONS
    if unknown:
        raise TypeError(
            f"metric {metric!r} takes no option(s) {sorted(unknown)}; it takes "
            f"{sorted(spec.options | COMMON_OPTIONS)}."
        )
    return spec


def _population(spec: Metric, name: str, matrices) -> list:
    if spec.check_population is not None:
        return spec.check_population(name, matrices)
    matrices = list(matrices)
    if not matrices:
        raise ValueError(f"{name} is an empty list: give at least one network.")
    return matrices


def _device(device) -> torch.device:
    return torch.device("cpu") if device is None else torch.device(device)


def _chunks(n: int, reps_a: Sequence, reps_b: Sequence, memory_mb: float) -> list[slice]:
    """Contiguous slices of ``n`` networks such that a square piece of pairs fits
    ``memory_mb``: per pair its entries of the product (float32/64), a float64 copy and
    the SVD's workspace (~24 bytes per entry at the mean widths); per network its basis.
    Pieces as large as the budget allows: fewer, larger width groups per piece."""
    ka = max(1.0, float(np.mean([_width(r) for r in reps_a])))
    kb = max(1.0, float(np.mean([_width(r) for r in reps_b])))
    samples = max(1, _samples(reps_a[0]))
    per_pair = 24 * ka * kb
    per_net = 8 * samples * (ka + kb) / 2
    budget = memory_mb * 2**20
    size = max(1, int((-per_net + math.sqrt(per_net**2 + 4 * per_pair * budget)) / (2 * per_pair)))
    return [slice(s, min(n, s + size)) for s in range(0, n, size)]


def _width(rep: Mapping) -> int:
    basis = rep.get("basis")
    return int(basis.shape[1]) if basis is not None and basis.ndim == 2 else 1


def _samples(rep: Mapping) -> int:
    basis = rep.get("basis")
    return int(basis.shape[0]) if basis is not None and basis.ndim == 2 else 1


def _maybe_track(items: list, show: bool, label: str):
    if not show:
        return items
    return track(items, total=len(items), label=label, unit="blocks")


def single_pair(metric: str, **options) -> Callable:
    """The function computing one pair's *distance* for ``metric`` (as ``pairwise``),
    straight from the per-pair definitions (the reference the blocks are tested on)."""
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
