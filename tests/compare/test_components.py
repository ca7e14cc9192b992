"""A study-wide SVCCA keep from the population's task dimensionality."""

import numpy as np
import pytest

import rnnscope as rs
from rnnscope.compare import principal_count, study_keep


def network_states(units: int, dims: int, seed: int) -> np.ndarray:
    """States of a network whose activity spans ``dims`` strong directions (plus weak noise)."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(400, dims)) * np.linspace(3, 2, dims)
    mixing = np.linalg.qr(rng.normal(size=(units, units)))[0][:, :dims]
    return latent @ mixing.T + 0.01 * rng.normal(size=(400, units))


def test_one_keep_for_networks_of_every_size():
    states = [network_states(u, 3, s) for s, u in enumerate([32, 64, 32, 64, 128])]
    assert [principal_count(x, 0.9) for x in states] == [3] * 5
    # at 99.99% the weak tail takes over, and it grows with the number of units
    tail = [principal_count(x, 0.9999) for x in states]
    assert tail[-1] > tail[0] > 3
    assert study_keep(states) == 3
    assert study_keep(states, task_dimension=5) == 5
    assert study_keep(states, share=0.9999, statistic="min") == min(tail)
    # the keep is what svcca compares every pair on
    a, b = states[0][:, :32], states[1]
    assert rs.compare.svcca(a, b, keep=study_keep([a, b])) == pytest.approx(
        rs.compare.svcca(a, b, keep=3)
    )


def test_keep_is_capped_and_checked():
    small = [network_states(4, 3, 0), network_states(64, 3, 1)]
    assert study_keep(small, task_dimension=10) == 4
    with pytest.raises(ValueError, match="statistic"):
        study_keep(small, statistic="mean")
    with pytest.raises(ValueError, match="empty"):
        study_keep([])
