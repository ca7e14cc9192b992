"""Geometry metrics: invariances (both directions), known answers, pairwise = loop."""

import math

import numpy as np
import pytest
from scipy.stats import ortho_group

import rnnscope as rs
from rnnscope.compare import (
    canonical_correlations,
    cca,
    cka,
    procrustes,
    pwcca,
    shape_metric,
    svcca,
)
from rnnscope.compare.pairwise import single_pair

RNG = np.random.default_rng(0)


def latent_pair(n=2000, p=12, q=15, rank=4, noise=0.1, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, rank))
    x = z @ rng.standard_normal((rank, p)) + noise * rng.standard_normal((n, p))
    y = z @ rng.standard_normal((rank, q)) + noise * rng.standard_normal((n, q))
    return x, y


def similarity(metric, x, y):
    """Each metric as a number where equality means 'same' (similarities, or −distance)."""
    return {
        "cca": lambda: cca(x, y),
        "svcca": lambda: svcca(x, y),
        "pwcca": lambda: pwcca(x, y),
        "cka": lambda: cka(x, y),
        "cka_rbf": lambda: cka(x, y, kernel="rbf"),
        "procrustes": lambda: -procrustes(x, y),
        "shape0": lambda: -shape_metric(x, y, alpha=0.0),
    }[metric]()


ALL = ["cca", "svcca", "pwcca", "cka", "cka_rbf", "procrustes", "shape0"]


@pytest.mark.parametrize("metric", ALL)
def test_invariant_to_rotation_scaling_translation_permutation(metric):
    x, y = latent_pair(n=600)
    base = similarity(metric, x, y)
    q = ortho_group.rvs(y.shape[1], random_state=1)
    perm = RNG.permutation(y.shape[1])
    for transformed in (y @ q, 3.7 * y, y + 5.0, y[:, perm]):
        assert similarity(metric, x, transformed) == pytest.approx(base, abs=1e-6)


@pytest.mark.parametrize(
    "metric, invariant",
    [("cca", True), ("pwcca", True), ("shape0", True), ("procrustes", False), ("cka", False)],
)
def test_invertible_linear_maps(metric, invariant):
    x, y = latent_pair(n=800, noise=0.3)
    a = np.eye(y.shape[1]) + 0.8 * RNG.standard_normal(
        (y.shape[1], y.shape[1])
    )  # invertible, not orthogonal
    assert abs(np.linalg.det(a)) > 1e-3
    base, mapped = similarity(metric, x, y), similarity(metric, x, y @ a)
    if invariant:
        assert mapped == pytest.approx(base, abs=1e-6)
    else:
        assert abs(mapped - base) > 1e-3


def test_cca_recovers_planted_canonical_correlations():
    rng = np.random.default_rng(3)
    n, rhos = 50_000, np.array([0.9, 0.6, 0.3])
    z = rng.standard_normal((n, 3))
    x_latent = z
    y_latent = rhos * z + np.sqrt(1 - rhos**2) * rng.standard_normal((n, 3))
    # embed in more units through invertible maps, plus independent extra units
    x = np.hstack([x_latent, rng.standard_normal((n, 2))]) @ rng.standard_normal((5, 5))
    y = np.hstack([y_latent, rng.standard_normal((n, 3))]) @ rng.standard_normal((6, 6))
    got = canonical_correlations(x, y)
    assert got.shape == (5,)
    np.testing.assert_allclose(got[:3], rhos, atol=1e-2)
    assert (got[3:] < 0.03).all()


def test_identical_and_independent_inputs():
    x, _ = latent_pair(n=3000)
    for metric in ("cca", "svcca", "pwcca", "cka"):
        assert similarity(metric, x, x) == pytest.approx(1.0, abs=1e-6)
    assert procrustes(x, x) == pytest.approx(0.0, abs=1e-6)
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((20_000, 5)), rng.standard_normal((20_000, 5))
    assert cca(a, b) < 0.03 and svcca(a, b) < 0.03 and cka(a, b) < 0.01
    assert procrustes(a, b) > 1.4  # close to π/2: orthogonal shapes


def test_rank_deficiency_gives_numbers_not_nan():
    x, y = latent_pair(n=500)
    dup = np.hstack([y, y[:, :3]])  # rank-deficient: repeated units
    zero = np.hstack([y, np.zeros((500, 2))])  # a dead unit
    for m in (dup, zero):
        for f in (cca, svcca, pwcca, cka, procrustes):
            value = f(x, m)
            assert math.isfinite(value)
    # repeated units add no direction: the same column space, the same canonical correlations
    assert cca(x, dup) == pytest.approx(cca(x, y), abs=1e-6)


@pytest.mark.parametrize("metric", ["cca", "svcca", "pwcca", "cka", "procrustes", "shape"])
def test_pairwise_equals_the_per_pair_loop(metric):
    mats = []
    rng = np.random.default_rng(7)
    z = rng.standard_normal((400, 4))
    for i in range(9):
        units = 8 + i % 3  # different widths
        mats.append(z @ rng.standard_normal((4, units)) + 0.2 * rng.standard_normal((400, units)))
    options = {"alpha": 0.5} if metric == "shape" else {}
    d = rs.compare.pairwise(metric, mats, memory_mb=0.05, **options)  # tiny budget: many blocks
    f = single_pair(metric, **options)
    ref = np.array(
        [[0.0 if i == j else f(a, b) for j, b in enumerate(mats)] for i, a in enumerate(mats)]
    )
    np.testing.assert_allclose(d, ref, atol=1e-6, rtol=0)
    assert (d == d.T).all() and (np.diag(d) == 0).all()
    cross = rs.compare.cross(metric, mats[:3], mats[3:], **options)
    np.testing.assert_allclose(cross, ref[:3, 3:], atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda x, y: cca(x, y[:-1]), "has 400 samples but Y has 399"),
        (lambda x, y: svcca(x * np.nan, y), "contains NaN or inf"),
        (lambda x, y: cka(x[:5], y[:5]), "5 samples for 10 units"),
        (lambda x, y: rs.compare.pairwise("cca", []), "empty list"),
        (lambda x, y: rs.compare.pairwise("cca", [x, y[:-1]]), "different sample counts"),
        (lambda x, y: rs.compare.pairwise("euclid", [x, y]), "unknown metric 'euclid'"),
        (lambda x, y: cca(x[:, 0], y), "must be a \\[samples, units\\] matrix"),
        (lambda x, y: shape_metric(x, y, alpha=2.0), "alpha must lie in \\[0, 1\\]"),
        (lambda x, y: cka(x, y, kernel="poly"), "unknown kernel 'poly'"),
    ],
)
def test_bad_input_is_named(call, match):
    x, y = latent_pair(n=400, p=10, q=10)
    with pytest.raises(ValueError, match=match):
        call(x, y)


def test_unknown_option_is_refused():
    x, y = latent_pair(n=400)
    with pytest.raises(TypeError, match="takes no option"):
        rs.compare.pairwise("cca", [x, y], variance=0.9)
