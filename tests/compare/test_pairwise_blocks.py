"""prepare/block: per-network representations computed once, blocks of pairs from them.

pairwise()/cross() are prepare-all + blocks: they must give the per-pair definitions'
numbers (float64 to rounding; the float32 default to ~1e-7 on these sizes), and a block
must not depend on how the pairs are cut into pieces or ordered.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

import rnnscope as rs
from rnnscope.compare import block, prepare
from rnnscope.compare.pairwise import _REGISTRY, Metric, register, single_pair

METRICS = ["cca", "svcca", "pwcca", "cka", "procrustes", "shape"]


def population(n=7, samples=300, seed=3):
    """Networks sharing a latent signal, with different widths and ranks."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((samples, 5))
    mats = []
    for i in range(n):
        units = 6 + i % 4
        mix = rng.standard_normal((5, units)) * rng.uniform(0.2, 2.0, units)
        mats.append(z @ mix + 0.3 * rng.standard_normal((samples, units)))
    return mats


def options_for(metric):
    return {"alpha": 0.5} if metric == "shape" else {}


@pytest.mark.parametrize("metric", METRICS)
def test_float64_blocks_give_the_per_pair_numbers(metric):
    mats = population()
    opts = options_for(metric)
    f = single_pair(metric, **opts)
    ref = np.array(
        [[0.0 if i == j else f(a, b) for j, b in enumerate(mats)] for i, a in enumerate(mats)]
    )
    d = rs.compare.pairwise(metric, mats, dtype="float64", **opts)
    np.testing.assert_allclose(d, ref, atol=1e-10, rtol=0)
    d32 = rs.compare.pairwise(metric, mats, **opts)
    np.testing.assert_allclose(d32, ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize("metric", METRICS)
def test_cross_is_prepare_then_block(metric):
    mats = population()
    opts = options_for(metric)
    reps = [prepare(metric, m, **opts) for m in mats]
    got = block(metric, reps[:3], reps[3:], **opts)
    assert got.shape == (3, 4) and got.dtype == np.float64
    np.testing.assert_array_equal(got, rs.compare.cross(metric, mats[:3], mats[3:], **opts))
    # the same numbers whatever the pieces: a tiny memory budget cuts the block into many
    # (float32 products of other shapes round differently: equal to ~1e-7, not bitwise)
    np.testing.assert_allclose(
        block(metric, reps[:3], reps[3:], memory_mb=1e-3, **opts), got, atol=1e-6, rtol=0
    )
    r64 = [prepare(metric, m, dtype="float64", **opts) for m in mats]
    np.testing.assert_allclose(
        block(metric, r64[:3], r64[3:], memory_mb=1e-3, dtype="float64", **opts),
        block(metric, r64[:3], r64[3:], dtype="float64", **opts),
        atol=1e-12,
        rtol=0,
    )


@pytest.mark.parametrize("metric", ["svcca", "pwcca", "shape"])
def test_block_follows_the_order_of_its_networks(metric):
    reps = [prepare(metric, m, **options_for(metric)) for m in population(n=8)]
    d = block(metric, reps[:5], reps, **options_for(metric))
    perm_a, perm_b = [3, 0, 4, 1, 2], [7, 2, 5, 0, 1, 6, 3, 4]
    shuffled = block(metric, [reps[i] for i in perm_a], [reps[j] for j in perm_b],
                     **options_for(metric))  # fmt: skip
    np.testing.assert_allclose(shuffled, d[np.ix_(perm_a, perm_b)], atol=1e-12, rtol=0)


def test_prepared_networks_are_small_plain_arrays_that_round_trip():
    mats = population()
    rep = prepare("svcca", mats[0], keep=3)
    assert set(rep) == {"basis"} and isinstance(rep["basis"], np.ndarray)
    assert rep["basis"].shape == (300, 3) and rep["basis"].dtype == np.float32
    gram = rep["basis"].astype(np.float64).T @ rep["basis"]
    np.testing.assert_allclose(gram, np.eye(3), atol=1e-5)  # an orthonormal basis
    # the variance rule keeps the fewest directions explaining 99%
    s = np.linalg.svd(mats[0] - mats[0].mean(0), compute_uv=False)
    k = int(np.searchsorted(np.cumsum(s**2) / (s**2).sum(), 0.99 - 1e-12)) + 1
    assert prepare("svcca", mats[0])["basis"].shape == (300, k)
    pw = prepare("pwcca", mats[1])
    assert set(pw) == {"basis", "projection"} and pw["basis"].dtype == np.float64
    assert prepare("cca", mats[0], dtype="float64")["basis"].dtype == np.float64
    # stored with np.savez (no pickle) and loaded back: the same distances
    reps = [prepare("svcca", m) for m in mats]
    loaded = []
    for r in reps:
        buf = io.BytesIO()
        np.savez(buf, **r)
        buf.seek(0)
        with np.load(buf, allow_pickle=False) as z:
            loaded.append({k: z[k] for k in z.files})
    np.testing.assert_array_equal(block("svcca", loaded, loaded), block("svcca", reps, reps))


def test_block_on_an_explicit_device():
    reps = [prepare("svcca", m) for m in population()]
    cpu = block("svcca", reps, reps)
    np.testing.assert_array_equal(block("svcca", reps, reps, device="cpu"), cpu)
    np.testing.assert_array_equal(block("svcca", reps, reps, device=torch.device("cpu")), cpu)
    mats = population()
    np.testing.assert_array_equal(
        rs.compare.pairwise("svcca", mats, device="cpu"), rs.compare.pairwise("svcca", mats)
    )
    np.testing.assert_array_equal(
        rs.compare.cross("cka", mats[:2], mats, device="cpu"),
        rs.compare.cross("cka", mats[:2], mats),
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_block_on_cuda_agrees_with_cpu():  # pragma: no cover - needs a GPU
    reps = [prepare("svcca", m) for m in population()]
    np.testing.assert_allclose(
        block("svcca", reps, reps, device="cuda"), block("svcca", reps, reps), atol=1e-5
    )


def test_block_errors_are_named():
    mats = population()
    a = [prepare("svcca", mats[0])]
    b = [prepare("svcca", mats[1][:200])]
    with pytest.raises(ValueError, match="different sample counts \\[200, 300\\]"):
        block("svcca", a, b)
    with pytest.raises(ValueError, match="unknown metric 'euclid'"):
        block("euclid", a, a)
    with pytest.raises(TypeError, match="takes no option"):
        prepare("cka", mats[0], keep=3)
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64'"):
        prepare("svcca", mats[0], dtype="float16")
    assert block("svcca", [], a).shape == (0, 1)


def test_a_registered_metric_is_dispatched_everywhere():
    """Room for metrics with their own prepare/block (e.g. "dsa" on trajectories)."""

    def prep(x, **options):
        return {"mean": np.atleast_1d(np.asarray(x, dtype=np.float64).mean())}

    def blk(a, b, *, device, memory_mb, **options):
        return np.abs(np.array([r["mean"] for r in a]) - np.array([r["mean"] for r in b]).T)

    register("toy-mean", Metric(prep, blk, frozenset()))
    try:
        xs = [np.full((3, 4, 2), v) for v in (0.0, 1.0, 3.0)]  # not [samples, units]
        assert prepare("toy-mean", xs[1])["mean"].tolist() == [1.0]
        np.testing.assert_array_equal(
            rs.compare.pairwise("toy-mean", xs), [[0, 1, 3], [1, 0, 2], [3, 2, 0]]
        )
        np.testing.assert_array_equal(rs.compare.cross("toy-mean", xs[:1], xs), [[0, 1, 3]])
    finally:
        _REGISTRY.pop("toy-mean")


def test_blocks_group_networks_of_many_widths_without_padding():
    """svcca widths vary per network; every (width_a, width_b) group is scored apart."""
    rng = np.random.default_rng(0)
    mats = [rng.standard_normal((200, 12)) @ np.diag(rng.uniform(0.01, 1, 12) ** 3)
            for _ in range(10)]  # fmt: skip
    widths = {prepare("svcca", m, variance=0.9)["basis"].shape[1] for m in mats}
    assert len(widths) > 2
    f = single_pair("svcca", variance=0.9)
    ref = np.array(
        [[0.0 if i == j else f(a, b) for j, b in enumerate(mats)] for i, a in enumerate(mats)]
    )
    np.testing.assert_allclose(
        rs.compare.pairwise("svcca", mats, variance=0.9, dtype="float64"), ref, atol=1e-10, rtol=0
    )
