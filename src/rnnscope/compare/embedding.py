"""Embeddings of distance matrices and scores of how well they separate groups.

:func:`mds` defaults to classical (Torgerson) MDS: the top eigenpairs of the
double-centred squared distances ``B = −½ J D² J``, found with ARPACK (``eigsh``) on an
operator that squares and centres ``D`` a block of rows at a time — no ``N × N`` copy
beyond the caller's matrix, seconds at 10,000 networks. SMACOF (scikit-learn's metric
MDS, iterative, ``O(N²)`` per iteration over several restarts) is ``method="smacof"``.
"""

from __future__ import annotations

import numpy as np

#: rows of D squared at a time by the classical-MDS operator (bounds its scratch memory)
_ROW_BYTES = 64 * 2**20
#: below this size the dense eigendecomposition is as fast and simpler
_DENSE_MAX = 500


def _check_distances(d, *, as_float64: bool = True) -> np.ndarray:
    d = np.asarray(d, dtype=np.float64) if as_float64 else np.asarray(d)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"a distance matrix must be square [N, N], got shape {list(d.shape)}.")
    if not np.issubdtype(d.dtype, np.number):
        raise TypeError(f"a distance matrix must hold numbers, got dtype {d.dtype}.")
    for rows in _row_chunks(len(d), d.itemsize):  # no N² temporaries
        part, mirror = d[rows], d[:, rows].T
        if not np.isfinite(part).all():
            raise ValueError("the distance matrix contains NaN or inf.")
        if not np.allclose(part, mirror, atol=1e-9):
            raise ValueError("the distance matrix is not symmetric.")
    return d


def _row_chunks(n: int, itemsize: int = 8) -> list[slice]:
    size = max(1, _ROW_BYTES // max(1, n * max(itemsize, 8)))
    return [slice(s, min(n, s + size)) for s in range(0, n, size)]


def mds(
    distances,
    n_components: int = 2,
    *,
    method: str = "classical",
    seed: int = 0,
) -> np.ndarray:
    """Embed a precomputed distance matrix ``[N, N]`` in ``n_components`` dimensions.

    Args:
        distances: symmetric ``[N, N]``, zero diagonal (any float dtype; it is not copied
            for ``"classical"``).
        method: ``"classical"`` (Torgerson; exact for Euclidean distances, the best
            rank-``n_components`` fit of the double-centred matrix otherwise) or
            ``"smacof"`` (scikit-learn's metric MDS: minimises stress, slow beyond a few
            thousand points).
        seed: ARPACK's start vector / SMACOF's initialisations.

    Returns:
        ``[N, n_components]`` float64 coordinates, centred; classical: columns by
        decreasing eigenvalue, each column's largest-magnitude entry positive (the sign is
        otherwise arbitrary), zero columns where ``B`` has fewer positive eigenvalues.
    """
    if isinstance(n_components, bool) or not isinstance(n_components, int) or n_components < 1:
        raise ValueError(f"n_components must be a positive integer, got {n_components!r}.")
    if method == "smacof":
        return _smacof(_check_distances(distances), n_components, seed)
    if method != "classical":
        raise ValueError(f"unknown method {method!r}; choose 'classical' or 'smacof'.")
    d = _check_distances(distances, as_float64=False)
    n = len(d)
    if n == 1:
        return np.zeros((1, n_components))
    values, vectors = _top_eigenpairs(d, min(n_components, n - 1), seed)
    coords = vectors * np.sqrt(np.clip(values, 0.0, None))
    flip = np.sign(coords[np.abs(coords).argmax(0), np.arange(coords.shape[1])])
    coords = coords * np.where(flip == 0, 1.0, flip)
    out = np.zeros((n, n_components))
    out[:, : coords.shape[1]] = coords
    return out


def _top_eigenpairs(d: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest eigenpairs of ``B = −½ J D² J``, largest first."""
    n = len(d)
    row_means = np.empty(n)
    for rows in _row_chunks(n, d.itemsize):
        row_means[rows] = np.square(d[rows], dtype=np.float64).mean(1)
    grand = row_means.mean()
    if n <= _DENSE_MAX:
        b = -0.5 * (np.square(d, dtype=np.float64) - row_means[:, None] - row_means[None] + grand)
        values, vectors = np.linalg.eigh(b)
        return values[::-1][:k], vectors[:, ::-1][:, :k]

    from scipy.sparse.linalg import LinearOperator, eigsh

    def matmat(v: np.ndarray) -> np.ndarray:
        v = v.reshape(n, -1).astype(np.float64, copy=False)
        out = np.empty_like(v)
        for rows in _row_chunks(n, d.itemsize):
            out[rows] = np.square(d[rows], dtype=np.float64) @ v
        total = v.sum(0)
        out -= row_means[:, None] * total + (row_means @ v) - grand * total
        return -0.5 * out

    operator = LinearOperator((n, n), matvec=matmat, matmat=matmat, dtype=np.float64)
    v0 = np.random.default_rng(seed).standard_normal(n)
    values, vectors = eigsh(operator, k=k, which="LA", v0=v0, tol=1e-10)
    order = np.argsort(values)[::-1]
    return values[order], vectors[:, order]


def _smacof(d: np.ndarray, n_components: int, seed: int) -> np.ndarray:
    from sklearn.manifold import MDS

    model = MDS(
        n_components=n_components, metric="precomputed", random_state=seed, n_init=4, init="random"
    )
    return model.fit_transform(d)


def silhouette(distances, labels) -> float:
    """Silhouette score of ``labels`` under a precomputed distance matrix, in [−1, 1]:
    near 1 when the metric separates the groups (e.g. architectures), near 0 when it
    does not."""
    from sklearn.metrics import silhouette_score

    d = _check_distances(distances)
    labels = np.asarray(labels)
    if len(labels) != d.shape[0]:
        raise ValueError(f"{len(labels)} labels for a {d.shape[0]}×{d.shape[0]} distance matrix.")
    if len(set(labels.tolist())) < 2:
        raise ValueError("silhouette needs at least two groups among the labels.")
    return float(silhouette_score(d, labels, metric="precomputed"))
