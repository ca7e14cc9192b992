"""Metric axioms for every measure documented as a metric: symmetry, identity (d(x, x) = 0)
and the triangle inequality, on populations built to be hard (near-equal members, very
different ones, different widths)."""

import itertools

import numpy as np
import pytest

import rnnscope as rs
from rnnscope.compare import pairwise_dsa, procrustes, shape_metric

from ._systems import tanh_network

TOL = 1e-7


def _assert_metric(d, tol=TOL):
    n = len(d)
    assert np.allclose(d, d.T, atol=tol), "not symmetric"
    assert np.abs(np.diag(d)).max() <= tol, "d(x, x) != 0"
    assert (d >= -tol).all()
    worst = max(d[i, k] - d[i, j] - d[j, k] for i, j, k in itertools.permutations(range(n), 3))
    assert worst <= tol, f"triangle inequality violated by {worst:.2e}"


def _geometry_population():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((300, 4))
    mats = []
    for i in range(8):
        units = 5 + i % 3
        noise = [0.01, 0.3, 1.0, 3.0][i % 4]
        mats.append(z @ rng.standard_normal((4, units)) + noise * rng.standard_normal((300, units)))
    mats.append(mats[0] + 1e-3 * rng.standard_normal(mats[0].shape))  # a near-twin
    return mats


@pytest.mark.parametrize(
    "name, f",
    [
        ("procrustes", procrustes),
        ("shape alpha=0.5", lambda x, y: shape_metric(x, y, alpha=0.5)),
        ("shape alpha=0 (CCA end)", lambda x, y: shape_metric(x, y, alpha=0.0)),
        ("shape euclidean", lambda x, y: shape_metric(x, y, kind="euclidean")),
    ],
)
def test_shape_metrics_are_metrics(name, f):
    mats = _geometry_population()
    d = np.array([[f(a, b) for b in mats] for a in mats])
    _assert_metric(d, tol=1e-6)  # arccos near 1 loses half the digits: d(x, x) ~ 1e-8


@pytest.mark.parametrize("metric, options", [("procrustes", {}), ("shape", {"alpha": 0.3})])
def test_population_shape_distances_are_metrics(metric, options):
    d = rs.compare.pairwise(metric, _geometry_population(), **options)
    _assert_metric(d, tol=1e-6)


@pytest.mark.parametrize("score", ["angular", "wasserstein"])
def test_dsa_scores_are_metrics(score):
    """DSA angular is a metric on operators up to orthogonal conjugation *if* each pair's
    optimum is the global one; this checks the batched optimiser finds it well enough."""
    nets = [tanh_network(seed=s, gain=0.6 + 0.15 * s, steps=60) for s in range(7)]
    nets.append(nets[0] @ np.linalg.qr(np.random.default_rng(1).standard_normal((8, 8)))[0])
    nets.append(nets[1] + 1e-3 * np.random.default_rng(2).standard_normal(nets[1].shape))
    d = pairwise_dsa(nets, score=score, n_delays=3, rank=6)
    _assert_metric(d, tol=1e-6)
    assert d[0, 7] < 1e-6  # an orthogonal map of the same network
