"""Embeddings of distance matrices and scores of how well they separate groups."""

from __future__ import annotations

import numpy as np


def _check_distances(d) -> np.ndarray:
    d = np.asarray(d, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"a distance matrix must be square [N, N], got shape {list(d.shape)}.")
    if not np.isfinite(d).all():
        raise ValueError("the distance matrix contains NaN or inf.")
    if not np.allclose(d, d.T, atol=1e-9):
        raise ValueError("the distance matrix is not symmetric.")
    return d


def mds(distances, n_components: int = 2, *, seed: int = 0) -> np.ndarray:
    """Metric MDS of a precomputed distance matrix (scikit-learn): ``[N, n_components]``."""
    from sklearn.manifold import MDS

    d = _check_distances(distances)
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
