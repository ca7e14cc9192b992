"""Compare at population scale: prepare + distance blocks + MDS for N networks.

States of initialised (untrained: the cost is the same) flip-flop networks — GRU, LSTM,
UGRNN, vanilla tanh and vanilla ReLU in turn, 64 units, 3-bit flip-flop probe of
64 trials × 100 steps (6,400 samples) — are generated a chunk at a time and prepared
once per network (``rs.compare.prepare``); the prepared bases go to a scratch file, and
blocks of ``--block`` × ``--block`` networks are read back and scored with
``rs.compare.block``, as a study's workers would. The driver never holds all states.

Prints, side by side in one run: the per-pair cost of the per-pair definition
(``svcca(x, y)`` on two state matrices: what one pair costs without preparation) vs a
pair inside a block, the block's matmul rate vs the machine's float32 matmul peak, and
classical MDS vs SMACOF (scikit-learn) at sizes SMACOF can do.

    python bench/compare_scale.py --networks 1000
    python bench/compare_scale.py --networks 10000 --measure 1000   # extrapolate blocks
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import rnnscope as rs
from rnnscope.compare import block, mds, prepare
from rnnscope.compare.pairwise import single_pair

KINDS = [
    ("gru", lambda h: rs.cells.GRU(hidden_size=h, input_size=3)),
    ("lstm", lambda h: rs.cells.LSTM(hidden_size=h, input_size=3)),
    ("ugrnn", lambda h: rs.cells.UGRNN(hidden_size=h, input_size=3)),
    ("vanilla-tanh", lambda h: rs.cells.VanillaRNN(hidden_size=h, input_size=3, activation="tanh")),
    ("vanilla-relu", lambda h: rs.cells.VanillaRNN(hidden_size=h, input_size=3, activation="relu")),
]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def matmul_peak(n: int = 6400, k: int = 2048) -> float:
    a, b = torch.randn(n, k), torch.randn(n, k)
    a.T @ b
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        a.T @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n * k * k / best / 1e9


def states_in_chunks(n_networks: int, chunk: int, hidden: int, inputs: torch.Tensor):
    """Yield ``(first_id, [n, samples, hidden] float32)`` for consecutive networks; network
    ``i`` is of kind ``i % 5`` with seed ``i`` (one population call per kind per chunk)."""
    for start in range(0, n_networks, chunk):
        ids = np.arange(start, min(n_networks, start + chunk))
        out = np.empty((len(ids), inputs.shape[0] * inputs.shape[1], hidden), np.float32)
        for k, (_, make) in enumerate(KINDS):
            members = ids[ids % len(KINDS) == k]
            if not len(members):
                continue
            net = rs.RNN(make(hidden), output_size=3)
            params = net.init(population=len(members), seed=int(members[0]))
            with torch.no_grad():
                states, _ = net.run(params, inputs)
            out[members - start] = states[..., :hidden].reshape(len(members), -1, hidden).numpy()
        yield start, out


class BasisFile:
    """Prepared bases of N networks in one file, rows ``[Σk, samples]`` (each network's
    ``basisᵀ`` contiguous), read back per block with one ``pread``-like call."""

    def __init__(self, path: Path, samples: int) -> None:
        self.path, self.samples = path, samples
        self.handle = open(path, "wb")
        self.widths: list[int] = []

    def append(self, rep: dict) -> None:
        basis = rep["basis"]
        self.handle.write(np.ascontiguousarray(basis.T).tobytes())
        self.widths.append(basis.shape[1])

    def finish(self) -> None:
        self.handle.close()
        self.offsets = np.concatenate([[0], np.cumsum(self.widths)])

    def read(self, ids: range) -> list[dict]:
        lo, hi = self.offsets[ids.start], self.offsets[ids.stop]
        rows = np.fromfile(self.path, np.float32, count=(hi - lo) * self.samples,
                           offset=int(lo) * self.samples * 4).reshape(hi - lo, self.samples)  # fmt: skip
        return [{"basis": rows[self.offsets[i] - lo : self.offsets[i + 1] - lo].T} for i in ids]


def rss_now_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=1000, help="population size N")
    parser.add_argument("--measure", type=int, default=0,
                        help="generate, prepare and score only this many networks (all their "
                             "blocks) and extrapolate the rest to N (pairs scale as N²); 0: N")  # fmt: skip
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--block", type=int, default=256, help="networks per block side")
    parser.add_argument("--chunk", type=int, default=100, help="networks per state chunk")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: the cost of one of the two Dask worker cores)")  # fmt: skip
    parser.add_argument("--smacof-max", type=int, default=1024, help="largest N to run SMACOF at")
    parser.add_argument("--scratch", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    n_total = args.networks
    n = min(args.measure or n_total, n_total)
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="compare_scale-"))
    scratch.mkdir(parents=True, exist_ok=True)
    print(f"rnnscope compare at scale: N = {n_total} networks ({n} measured), {args.threads} "
          f"torch thread(s), torch {torch.__version__}, load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (shared machine)")  # fmt: skip

    peak = matmul_peak()
    print(f"matmul peak now (float32, [6400, 2048]ᵀ[6400, 2048], {args.threads} thread(s)): "
          f"{peak:.1f} GFLOP/s")  # fmt: skip

    probe = rs.tasks.FlipFlop(bits=3).sample(64, seed=1).inputs  # [64, 100, 3]
    samples = probe.shape[0] * probe.shape[1]
    configs = {"svcca (variance 0.99)": {}, "svcca (keep=10)": {"keep": 10}}
    files = {name: BasisFile(scratch / f"bases-{i}.f32", samples) for i, name in enumerate(configs)}

    # ---------------------------------------------------------------- states + prepare
    t_states = 0.0
    t_prepare = dict.fromkeys(configs, 0.0)
    baseline_mats: list[np.ndarray] = []
    chunks = states_in_chunks(n, args.chunk, args.hidden, probe)
    while True:
        t0 = time.perf_counter()
        try:
            _, states = next(chunks)
        except StopIteration:
            break
        t_states += time.perf_counter() - t0
        if len(baseline_mats) < 10:
            baseline_mats += list(states[: 10 - len(baseline_mats)])
        for name, opts in configs.items():
            t0 = time.perf_counter()
            for x in states:
                files[name].append(prepare("svcca", x, **opts))
            t_prepare[name] += time.perf_counter() - t0
        del states
    for f in files.values():
        f.finish()
    per_net = n_total / n
    print(f"states (the bench's, not compare's): {1e3 * t_states / n:.1f} ms/network; peak RSS "
          f"so far {rss_mb():.0f} MB")  # fmt: skip
    for name in configs:
        widths = np.array(files[name].widths)
        print(f"prepare {name}: {1e3 * t_prepare[name] / n:.1f} ms/network → "
              f"{t_prepare[name] * per_net / 60:.1f} min for N; widths k mean {widths.mean():.1f} "
              f"[min {widths.min()}, max {widths.max()}], {4 * samples * widths.mean() / 1e3:.0f} "
              "KB/network (float32)")  # fmt: skip

    # ------------------------------------------------------- baseline: per-pair definition
    f = single_pair("svcca")
    pairs = [(i, j) for i in range(len(baseline_mats)) for j in range(i + 1, len(baseline_mats))]
    t0 = time.perf_counter()
    for i, j in pairs:
        f(baseline_mats[i], baseline_mats[j])
    per_pair_baseline = (time.perf_counter() - t0) / len(pairs)
    print(
        f"baseline svcca(x, y), one pair from two state matrices: {1e3 * per_pair_baseline:.2f} ms"
    )

    # ---------------------------------------------------------------------------- blocks
    starts = list(range(0, n, args.block))
    blocks = [(i, j) for i in starts for j in starts if j >= i]
    distances = np.zeros((n, n), dtype=np.float64)
    scale = (n_total * (n_total - 1)) / (n * (n - 1))
    rss_blocks = 0.0
    for name, opts in configs.items():
        file = files[name]
        widths = np.array(file.widths)
        t_read = t_block = pairs_done = flops = 0.0
        cpu0 = time.process_time()
        for i, j in blocks:
            ra, rb = range(i, min(n, i + args.block)), range(j, min(n, j + args.block))
            t0 = time.perf_counter()
            a = file.read(ra)
            b = file.read(rb) if j != i else a
            t1 = time.perf_counter()
            d = block("svcca", a, b, **opts)
            t_block += time.perf_counter() - t1
            t_read += t1 - t0
            wa, wb = widths[ra.start : ra.stop], widths[rb.start : rb.stop]
            flops += 2 * samples * wa.sum() * wb.sum()
            pairs_done += len(ra) * len(rb) if j != i else len(ra) * (len(ra) - 1) / 2
            if name == "svcca (variance 0.99)":
                distances[ra.start : ra.stop, rb.start : rb.stop] = d
                distances[rb.start : rb.stop, ra.start : ra.stop] = d.T
            rss_blocks = max(rss_blocks, rss_now_mb())
        cpu = time.process_time() - cpu0
        wall = t_block + t_read
        per_pair = t_block / pairs_done
        rate = flops / t_block / 1e9
        print(f"{name}: {len(blocks)} blocks, {pairs_done:.0f} pairs in {wall:.1f} s wall "
              f"({cpu:.1f} CPU s; read {t_read:.1f} s): {1e6 * per_pair:.1f} µs/pair, "
              f"{rate:.1f} GFLOP/s = {100 * rate / peak:.0f}% of the matmul peak now; "
              f"{per_pair_baseline / per_pair:.0f}× faster per pair than the baseline")  # fmt: skip
        one_core = (cpu * scale + t_prepare[name] * per_net) / 60
        print(f"    N = {n_total}: prepare + blocks ≈ {one_core:.1f} CPU-min at today's load → "
              f"{one_core / 2:.1f} min on 2 workers (measured {n} networks, "
              f"{'measured' if scale == 1 else f'×{scale:.0f} pairs extrapolated'})")  # fmt: skip
    print(f"RSS during blocks (sampled after each): ≤ {rss_blocks:.0f} MB, of which the "
          f"{n}×{n} distance matrix {distances.nbytes / 2**20:.0f} MB")  # fmt: skip

    # ------------------------------------------------------------------------------- MDS
    np.fill_diagonal(distances, 0.0)
    t0 = time.perf_counter()
    emb = mds(distances)
    t_mds = time.perf_counter() - t0
    print(f"classical MDS of the measured {n}×{n} svcca distances: {t_mds:.2f} s")
    if n <= args.smacof_max:
        t0 = time.perf_counter()
        emb_s = mds(distances, method="smacof")
        t_smacof = time.perf_counter() - t0
        iu = np.triu_indices(n, 1)
        d_true = distances[iu]

        def stress(e):
            de = np.linalg.norm(e[:, None] - e[None], axis=-1)[iu]
            return math.sqrt(((de - d_true) ** 2).sum() / (d_true**2).sum())

        print(f"    SMACOF (scikit-learn, 4 inits, the previous default): {t_smacof:.2f} s → "
              f"classical {t_smacof / t_mds:.0f}× faster; normalised stress classical "
              f"{stress(emb):.3f}, SMACOF {stress(emb_s):.3f}")  # fmt: skip
    if n < n_total:  # MDS at the full size: a Euclidean matrix of random 8-d points
        del distances
        points = np.random.default_rng(1).standard_normal((n_total, 8))
        distances = np.empty((n_total, n_total))
        for s in range(0, n_total, 500):
            distances[s : s + 500] = np.linalg.norm(
                points[s : s + 500, None] - points[None], axis=-1
            )
        np.fill_diagonal(distances, 0.0)
        before = rss_now_mb()
        t0 = time.perf_counter()
        mds(distances)
        t_mds = time.perf_counter() - t0
        print(f"classical MDS {n_total}×{n_total} (random 8-d Euclidean): {t_mds:.2f} s; RSS "
              f"{before:.0f} MB before (the matrix {distances.nbytes / 2**20:.0f} MB), "
              f"peak {rss_mb():.0f} MB")  # fmt: skip
    for f in files.values():
        f.path.unlink()
    print(f"peak RSS of the run: {rss_mb():.0f} MB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
