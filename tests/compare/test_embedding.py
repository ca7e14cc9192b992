import numpy as np
import pytest

from rnnscope.compare import embedding, mds, silhouette


def euclidean(points: np.ndarray) -> np.ndarray:
    d = np.linalg.norm(points[:, None] - points[None], axis=-1)
    return 0.5 * (d + d.T)


def aligned(emb: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``emb`` after the best orthogonal map onto centred ``target`` (Procrustes)."""
    target = target - target.mean(0)
    u, _, vt = np.linalg.svd(emb.T @ target)
    return emb @ (u @ vt)


def stress(emb: np.ndarray, d: np.ndarray) -> float:
    i, j = np.triu_indices(len(d), 1)
    de = np.linalg.norm(emb[i] - emb[j], axis=-1)
    return float(np.sqrt(((de - d[i, j]) ** 2).sum() / (d[i, j] ** 2).sum()))


@pytest.mark.parametrize("n", [12, 700])  # dense eigh, and ARPACK on the row-block operator
def test_classical_mds_recovers_planted_coordinates_up_to_rotation(n):
    rng = np.random.default_rng(0)
    points = rng.standard_normal((n, 2)) * [3.0, 1.0]
    emb = mds(euclidean(points))
    assert emb.shape == (n, 2)
    np.testing.assert_allclose(emb.mean(0), 0, atol=1e-8)
    np.testing.assert_allclose(aligned(emb, points), points - points.mean(0), atol=1e-7)
    # planted in 3-D, embedded in 3-D: exact too
    points3 = rng.standard_normal((n, 3)) * [3.0, 2.0, 1.0]
    emb3 = mds(euclidean(points3), n_components=3)
    np.testing.assert_allclose(aligned(emb3, points3), points3 - points3.mean(0), atol=1e-7)


def test_row_block_operator_matches_the_dense_solution(monkeypatch):
    rng = np.random.default_rng(3)
    d = euclidean(rng.standard_normal((80, 6))) ** 0.8  # not Euclidean: negative eigenvalues
    dense = mds(d, n_components=3)
    monkeypatch.setattr(embedding, "_DENSE_MAX", 10)
    monkeypatch.setattr(embedding, "_ROW_BYTES", 80 * 8 * 7)  # 7 rows at a time
    np.testing.assert_allclose(mds(d, n_components=3), dense, atol=1e-8)
    np.testing.assert_allclose(mds(d.astype(np.float32), n_components=3), dense, atol=1e-4)


def test_agrees_with_scikit_learns_classical_mds():
    from sklearn.manifold import ClassicalMDS

    rng = np.random.default_rng(4)
    d = euclidean(rng.standard_normal((40, 5))) ** 0.7
    ours = mds(d, n_components=2)
    ref = ClassicalMDS(n_components=2, metric="precomputed").fit_transform(d)
    ref = ref * np.sign(ref[np.abs(ref).argmax(0), [0, 1]])  # the same sign convention
    np.testing.assert_allclose(ours, ref, atol=1e-8)


def test_quality_is_that_of_smacof_on_small_cases():
    rng = np.random.default_rng(5)
    points = rng.standard_normal((60, 2)) * [2.0, 1.0]
    d = euclidean(points) + 0.05 * np.abs(euclidean(rng.standard_normal((60, 2))))  # noisy
    d = 0.5 * (d + d.T)
    np.fill_diagonal(d, 0.0)
    classical, smacof = mds(d), mds(d, method="smacof")
    # classical minimises strain, not stress: close to SMACOF, not below it (1.26× here)
    assert stress(classical, d) < 1.5 * stress(smacof, d)
    assert stress(classical, d) < 0.1


def test_smacof_recovers_a_planar_configuration():
    rng = np.random.default_rng(0)
    points = rng.standard_normal((12, 2))
    d = euclidean(points)
    emb = mds(d, method="smacof", seed=0)
    d_emb = euclidean(emb)
    assert np.abs(d_emb - d).max() < 1e-2 * d.max()


def test_degenerate_sizes():
    assert mds(np.zeros((1, 1))).shape == (1, 2)
    two = mds(np.array([[0.0, 2.0], [2.0, 0.0]]))
    assert two.shape == (2, 2) and abs(np.linalg.norm(two[0] - two[1]) - 2.0) < 1e-12
    assert (mds(np.zeros((5, 5))) == 0).all()  # all points alike


def test_silhouette_separated_and_mixed_groups():
    rng = np.random.default_rng(1)
    points = np.vstack([rng.normal(0, 0.1, (10, 2)), rng.normal(5, 0.1, (10, 2))])
    d = euclidean(points)
    labels = ["gru"] * 10 + ["lstm"] * 10
    assert silhouette(d, labels) > 0.9
    mixed = rng.permutation(labels)
    assert abs(silhouette(d, mixed)) < 0.3


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="must be square"):
        silhouette(np.zeros((3, 2)), [0, 1, 1])
    with pytest.raises(ValueError, match="not symmetric"):
        mds(np.array([[0.0, 1.0], [2.0, 0.0]]))
    with pytest.raises(ValueError, match="NaN or inf"):
        mds(np.array([[0.0, np.nan], [np.nan, 0.0]]))
    with pytest.raises(ValueError, match="unknown method 'tsne'"):
        mds(np.zeros((3, 3)), method="tsne")
    with pytest.raises(ValueError, match="n_components must be a positive integer"):
        mds(np.zeros((3, 3)), n_components=0)
    with pytest.raises(ValueError, match="at least two groups"):
        silhouette(np.zeros((3, 3)), [1, 1, 1])
    with pytest.raises(ValueError, match="3 labels for a 2"):
        silhouette(np.zeros((2, 2)), [0, 1, 1])
