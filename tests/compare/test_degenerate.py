"""Degenerate inputs get a clear error (or a documented warning), never a similarity.

Each case below was measured on the code before these checks: svcca of a constant network
against data 0.11, of two constant networks 1.0 (cka 0.0), pairwise svcca distance 0
between two dead networks, random 3 × 2 matrices cca/svcca 1.000 (cka 0.81), 11 × 10 cca
1.000.
"""

import warnings

import numpy as np
import pytest

import rnnscope as rs
from rnnscope.compare import FewSamplesWarning, cca, cka, procrustes, pwcca, shape_metric, svcca

SINGLE = {
    "cca": cca,
    "svcca": svcca,
    "pwcca": pwcca,
    "cka": cka,
    "procrustes": procrustes,
    "shape0": lambda x, y: shape_metric(x, y, alpha=0.0),
}


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((400, 6)), rng.standard_normal((400, 5))


@pytest.mark.parametrize("metric", list(SINGLE))
@pytest.mark.parametrize(
    "constant",
    [
        lambda n: np.zeros((n, 5)),  # silent network
        lambda n: np.full((n, 5), 0.7),  # saturated network
        lambda n: 1.0 + 1e-9 * np.random.default_rng(1).standard_normal((n, 5)),  # near-constant
    ],
    ids=["zeros", "saturated", "near-constant"],
)
def test_constant_network_is_refused(metric, constant, data):
    x, _ = data
    f = SINGLE[metric]
    with pytest.raises(ValueError, match="is constant across samples"):
        f(constant(len(x)), x)
    with pytest.raises(ValueError, match="is constant across samples"):
        f(x, constant(len(x)))
    with pytest.raises(ValueError, match="is constant across samples"):
        f(constant(len(x)), constant(len(x)))


def test_a_dead_unit_among_live_ones_is_fine(data):
    x, y = data
    y = np.hstack([y, np.zeros((len(y), 1))])
    assert 0 <= svcca(x, y) <= 1 and 0 <= cca(x, y) <= 1


@pytest.mark.parametrize("metric", ["svcca", "cca", "cka", "procrustes"])
def test_pairwise_names_the_dead_network(metric, data):
    x, y = data
    dead = np.zeros_like(y)
    with pytest.raises(ValueError, match=r"matrices\[1\] is constant"):
        rs.compare.pairwise(metric, [x[:, :5], dead, dead])
    with pytest.raises(ValueError, match=r"b\[0\] is constant"):
        rs.compare.cross(metric, [x], [dead])


@pytest.mark.parametrize("shape", [(3, 2), (11, 10), (20, 10)])
@pytest.mark.parametrize("metric", list(SINGLE))
def test_too_few_samples_per_unit_is_refused(shape, metric):
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal(shape), rng.standard_normal(shape)
    with pytest.raises(ValueError, match="more than twice as many samples as units"):
        SINGLE[metric](x, y)


@pytest.mark.parametrize("metric", ["cca", "svcca", "pwcca"])
def test_cca_family_warns_below_ten_samples_per_unit(metric):
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((50, 10)), rng.standard_normal((50, 10))  # 5 per unit
    with pytest.warns(FewSamplesWarning, match="5.0 per unit"):
        value = SINGLE[metric](x, y)
    assert value > 0.3  # the bias the warning is about: unrelated data look similar
    x, y = rng.standard_normal((100, 10)), rng.standard_normal((100, 10))  # 10 per unit
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewSamplesWarning)
        SINGLE[metric](x, y)


def test_rank_deficient_inputs_are_numbers_from_their_span():
    """Repeated units add no direction: the value is that of the spanned columns."""
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((500, 4)), rng.standard_normal((500, 4))
    y = y + x  # related
    dup = np.hstack([y, y[:, :2]])
    assert cca(x, dup) == pytest.approx(cca(x, y), abs=1e-9)
    assert svcca(x, dup, variance=0.999999) == pytest.approx(
        svcca(x, y, variance=0.999999), abs=1e-9
    )
