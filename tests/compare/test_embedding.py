import numpy as np
import pytest

from rnnscope.compare import mds, silhouette


def test_mds_recovers_a_planar_configuration():
    rng = np.random.default_rng(0)
    points = rng.standard_normal((12, 2))
    d = np.linalg.norm(points[:, None] - points[None], axis=-1)
    emb = mds(d, seed=0)
    d_emb = np.linalg.norm(emb[:, None] - emb[None], axis=-1)
    assert np.abs(d_emb - d).max() < 1e-2 * d.max()


def test_silhouette_separated_and_mixed_groups():
    rng = np.random.default_rng(1)
    points = np.vstack([rng.normal(0, 0.1, (10, 2)), rng.normal(5, 0.1, (10, 2))])
    d = np.linalg.norm(points[:, None] - points[None], axis=-1)
    labels = ["gru"] * 10 + ["lstm"] * 10
    assert silhouette(d, labels) > 0.9
    mixed = rng.permutation(labels)
    assert abs(silhouette(d, mixed)) < 0.3


def test_bad_distance_matrices_are_named():
    with pytest.raises(ValueError, match="must be square"):
        silhouette(np.zeros((3, 2)), [0, 1, 1])
    with pytest.raises(ValueError, match="not symmetric"):
        mds(np.array([[0.0, 1.0], [2.0, 0.0]]))
    with pytest.raises(ValueError, match="at least two groups"):
        silhouette(np.zeros((3, 3)), [1, 1, 1])
    with pytest.raises(ValueError, match="3 labels for a 2"):
        silhouette(np.zeros((2, 2)), [0, 1, 1])
