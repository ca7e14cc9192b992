"""SVCCA distance matrix of 1,000 networks: ``pairwise`` vs the per-pair loop.

Synthetic population: 1,000 state matrices of 2,000 samples × 64 units sharing latent
structure: ``X_i = tanh(g_i Z A_i) + noise`` with shared latents ``Z [2000, 10]``, random
mixing ``A_i`` and a per-network gain ``g_i`` in [0.3, 3] (how nonlinear the code is), so
distances spread.

Baseline: the straightforward per-pair loop, as google/svcca's ``cca_core`` computes it:
for every pair, centre both matrices, SVD each and keep the directions explaining 99%
of the variance, then CCA from covariance matrices with inverse square roots by
eigendecomposition; distance ``1 − mean canonical correlation``. All
``N (N − 1) / 2 = 499,500`` pairs would take the loop tens of minutes, so it runs on a
random sample of pairs and its total is extrapolated from its mean time per pair; the
same sample checks that both agree.

Run: ``python bench/compare.py [--networks 1000] [--sample-pairs 300]``

``--metric dsa``: population DSA (angular score, pinned defaults n_delays=10, rank=10) of
``--networks`` (default 100) synthetic networks' trajectories against the reference
package's per-pair loop (``dsa-metric``: ``DSA([X_i, X_j], score_method="angular")``, its
per-pair Adam optimisation), timed on ``--sample-pairs`` random pairs and extrapolated;
the same pairs give the agreement. ``--scale 1000`` also times fitting 1,000 networks and
their full Wasserstein matrix, and extrapolates the angular matrix from the measured rate.
Population: random tanh RNNs, 16 units, 20 trials × 100 steps driven by small noise,
gains in [0.6, 1.6] (from contracting to self-sustained), so distances spread.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

import rnnscope as rs


def population(
    n_networks: int, samples: int = 2000, units: int = 64, latents: int = 10, seed: int = 0
):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((samples, latents))
    mats = []
    for _ in range(n_networks):
        a = rng.standard_normal((latents, units)) / np.sqrt(latents)
        gain = rng.uniform(0.3, 3.0)
        x = np.tanh(gain * z @ a) + 0.05 * rng.standard_normal((samples, units))
        mats.append(x.astype(np.float32))
    return mats


def svcca_loop_pair(x: np.ndarray, y: np.ndarray, variance: float = 0.99) -> float:
    """One pair from scratch, as cca_core does: SVD-reduce each, covariance CCA."""

    def reduce(m):
        m = m.astype(np.float64)
        m = m - m.mean(axis=0)
        u, s, _ = np.linalg.svd(m, full_matrices=False)
        share = np.cumsum(s**2) / np.sum(s**2)
        k = int(np.searchsorted(share, variance - 1e-12) + 1)
        return u[:, :k] * s[:k]

    def inv_sqrt(c, eps=1e-10):
        w, v = np.linalg.eigh(c)
        return (v / np.sqrt(np.maximum(w, eps))) @ v.T

    xr, yr = reduce(x), reduce(y)
    sxx, syy, sxy = xr.T @ xr, yr.T @ yr, xr.T @ yr
    m = inv_sqrt(sxx) @ sxy @ inv_sqrt(syy)
    rho = np.clip(np.linalg.svd(m, compute_uv=False), 0, 1)[: min(xr.shape[1], yr.shape[1])]
    return 1.0 - float(rho.mean())


def dsa_population(n_networks: int, units: int = 16, trials: int = 20, steps: int = 100, seed=0):
    rng = np.random.default_rng(seed)
    nets = []
    for _ in range(n_networks):
        gain = rng.uniform(0.6, 1.6)
        w = rng.standard_normal((units, units)) * gain / np.sqrt(units)
        x = rng.standard_normal((trials, units))
        out = []
        for _ in range(steps):
            x = np.tanh(x @ w.T) + 0.01 * rng.standard_normal((trials, units))
            out.append(x)
        nets.append(np.stack(out, 1))
    return nets


def dsa_main(args) -> None:
    import torch
    from scipy.stats import spearmanr

    torch.set_num_threads(1)
    nets = dsa_population(args.networks)
    n = len(nets)
    total = n * (n - 1) // 2
    print(f"{n} networks, trajectories {list(nets[0].shape)}; {total:,} pairs; angular score")
    t0 = time.perf_counter()
    prepared = [rs.compare.prepare_dsa(x) for x in nets]
    fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    ia, ib = np.triu_indices(n, 1)
    dist = rs.compare.pairwise_dsa(nets)
    ours = time.perf_counter() - t0
    print(f"pairwise_dsa (fit + align):    {ours:8.1f} s for all pairs (fit alone {fit:.1f} s)")
    print(f"                               {ours / total * 1e3:8.2f} ms per pair")

    from DSA import DSA  # the reference (dev extra)

    rng = np.random.default_rng(1)
    pairs = set()
    while len(pairs) < min(args.sample_pairs, total):
        i, j = sorted(rng.choice(n, size=2, replace=False).tolist())
        pairs.add((i, j))
    pairs = sorted(pairs)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    ref = np.array(
        [
            DSA([nets[i], nets[j]], n_delays=10, rank=10, score_method="angular").fit_score()[0, 1]
            for i, j in pairs
        ]
    )
    per_pair = (time.perf_counter() - t0) / len(pairs)
    estimate = per_pair * total
    got = np.array([dist[i, j] for i, j in pairs])
    print(
        f"reference per-pair loop:       {per_pair:8.2f} s per pair on {len(pairs)} sampled pairs "
        f"-> {estimate:,.0f} s for all pairs (extrapolated)"
    )
    print(f"speed-up: {estimate / ours:.0f}×   (target ≥ 50×)")
    excess = got - ref
    print(
        f"agreement on the sampled pairs: ours − reference: max {excess.max():+.1e} "
        f"(ours never above the reference's optimum if ≤ ~1e-4), median {np.median(excess):+.4f}, "
        f"min {excess.min():+.4f} rad; Spearman ρ {spearmanr(got, ref).statistic:.3f}"
    )
    ref_w = np.array(
        [
            float(
                DSA(
                    [nets[i], nets[j]], n_delays=10, rank=10, score_method="wasserstein"
                ).fit_score()
            )
            for i, j in pairs
        ]
    )
    ours_w = rs.compare.dsa_block(prepared, prepared, score="wasserstein")
    w_diff = np.abs(np.array([ours_w[i, j] ** 2 for i, j in pairs]) - ref_w).max()
    print(f"wasserstein: max |ours² − reference| on the sampled pairs {w_diff:.1e}")
    print(
        f"distances: median {np.median(dist[ia, ib]):.3f}, range "
        f"[{dist[ia, ib].min():.3f}, {dist[ia, ib].max():.3f}]"
    )
    if args.scale:
        big = dsa_population(args.scale, seed=2)
        t0 = time.perf_counter()
        prep = [rs.compare.prepare_dsa(x) for x in big]
        fit_big = time.perf_counter() - t0
        t0 = time.perf_counter()
        rs.compare.dsa_block(prep, prep, score="wasserstein")
        w_big = time.perf_counter() - t0
        pairs_big = args.scale * (args.scale - 1) // 2
        print(
            f"{args.scale} networks: fit {fit_big:.1f} s; full Wasserstein matrix {w_big:.1f} s "
            f"({args.scale**2:,} entries); angular matrix ≈ {ours / total * pairs_big:,.0f} s "
            f"(extrapolated from the rate above, {pairs_big:,} pairs)"
        )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metric", choices=["svcca", "dsa"], default="svcca")
    parser.add_argument("--networks", type=int, default=None, help="1000 (svcca), 100 (dsa)")
    parser.add_argument("--sample-pairs", type=int, default=None, help="300 (svcca), 10 (dsa)")
    parser.add_argument("--scale", type=int, default=0, help="dsa: also time this many networks")
    args = parser.parse_args()
    if args.metric == "dsa":
        args.networks = args.networks or 100
        args.sample_pairs = args.sample_pairs or 10
        dsa_main(args)
        return
    args.networks = args.networks or 1000
    args.sample_pairs = args.sample_pairs or 300

    mats = population(args.networks)
    n = len(mats)
    total_pairs = n * (n - 1) // 2
    rss_data = peak_rss_mb()
    print(
        f"{n} networks, {mats[0].shape[0]} samples × {mats[0].shape[1]} units; {total_pairs:,} pairs"
    )
    print(f"peak RSS with the data loaded: {rss_data:.0f} MB")

    t0 = time.perf_counter()
    dist = rs.compare.pairwise("svcca", mats, progress=False)
    ours = time.perf_counter() - t0
    rss_ours = peak_rss_mb()
    print(
        f"pairwise('svcca'):  {ours:8.1f} s for all pairs   (peak RSS {rss_ours:.0f} MB, +{rss_ours - rss_data:.0f} MB)"
    )

    rng = np.random.default_rng(1)
    pairs = set()
    while len(pairs) < min(args.sample_pairs, total_pairs):
        i, j = sorted(rng.choice(n, size=2, replace=False).tolist())
        pairs.add((i, j))
    pairs = sorted(pairs)
    t0 = time.perf_counter()
    loop = np.array([svcca_loop_pair(mats[i], mats[j]) for i, j in pairs])
    per_pair = (time.perf_counter() - t0) / len(pairs)
    estimate = per_pair * total_pairs
    diff = np.abs(loop - np.array([dist[i, j] for i, j in pairs])).max()
    print(
        f"per-pair loop:      {per_pair * 1e3:8.2f} ms per pair on {len(pairs)} sampled pairs "
        f"-> {estimate:,.0f} s for all pairs (extrapolated)"
    )
    print(f"speed-up: {estimate / ours:.0f}×   (target ≥ 20×)")
    print(f"max |pairwise − loop| over the sampled pairs: {diff:.1e}   (target ≤ 1e-6)")
    print(
        f"symmetric: {bool((dist == dist.T).all())}, zero diagonal: {bool((np.diag(dist) == 0).all())}; "
        f"distances: median {np.median(dist[np.triu_indices(n, 1)]):.4f}"
    )


if __name__ == "__main__":
    main()
