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
    python bench/compare_scale.py --networks 10000 --max-blocks 40   # sample, extrapolate
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=1000)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--block", type=int, default=256, help="networks per block side")
    parser.add_argument("--chunk", type=int, default=250, help="networks per state chunk")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-blocks", type=int, default=0,
                        help="score this many blocks (a seeded sample) and extrapolate; 0: all")  # fmt: skip
    parser.add_argument("--smacof-max", type=int, default=1024, help="largest N to run SMACOF at")
    parser.add_argument("--scratch", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    n = args.networks
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="compare_scale-"))
    scratch.mkdir(parents=True, exist_ok=True)
    print(f"rnnscope compare at scale: {n} networks, {args.threads} threads, torch "
          f"{torch.__version__}, load average {os.getloadavg()[0]:.2f} (shared machine)")  # fmt: skip

    peak = matmul_peak()
    print(f"matmul peak (float32, [6400, 2048]ᵀ[6400, 2048]): {peak:.1f} GFLOP/s")

    probe = rs.tasks.FlipFlop(bits=3).sample(64, seed=1).inputs  # [64, 100, 3]
    samples = probe.shape[0] * probe.shape[1]
    configs = {"svcca (variance 0.99)": {}, "svcca (keep=10)": {"keep": 10}}
    files = {name: BasisFile(scratch / f"bases-{i}.f32", samples) for i, name in enumerate(configs)}

    # ---------------------------------------------------------------- states + prepare
    t_states = 0.0
    t_prepare = dict.fromkeys(configs, 0.0)
    baseline_mats: list[np.ndarray] = []
    start = time.perf_counter()
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
    print(f"states: {t_states:.1f} s ({1e3 * t_states / n:.1f} ms/network), "
          f"wall {time.perf_counter() - start:.1f} s, peak RSS so far {rss_mb():.0f} MB")  # fmt: skip
    for name in configs:
        widths = np.array(files[name].widths)
        print(f"prepare {name}: {t_prepare[name]:.1f} s ({1e3 * t_prepare[name] / n:.1f} ms/"
              f"network); widths k mean {widths.mean():.1f} [min {widths.min()}, max "
              f"{widths.max()}], {4 * samples * widths.mean() / 1e3:.0f} KB/network")  # fmt: skip

    # ------------------------------------------------------- baseline: per-pair definition
    f = single_pair("svcca")
    pairs = [(i, j) for i in range(len(baseline_mats)) for j in range(i + 1, len(baseline_mats))]
    t0 = time.perf_counter()
    for i, j in pairs:
        f(baseline_mats[i], baseline_mats[j])
    per_pair_baseline = (time.perf_counter() - t0) / len(pairs)
    print(f"baseline svcca(x, y) per pair (two SVDs + CCA): {1e3 * per_pair_baseline:.2f} ms")

    # ---------------------------------------------------------------------------- blocks
    starts = list(range(0, n, args.block))
    all_blocks = [(i, j) for i in starts for j in starts if j >= i]
    rng = np.random.default_rng(0)
    chosen = all_blocks
    if args.max_blocks and args.max_blocks < len(all_blocks):
        chosen = [
            all_blocks[k]
            for k in sorted(rng.choice(len(all_blocks), args.max_blocks, replace=False))
        ]
    distances = np.zeros((n, n), dtype=np.float64) if chosen is all_blocks else None
    total_pairs = n * (n - 1) / 2
    for name, opts in configs.items():
        file = files[name]
        widths = np.array(file.widths)
        t_read = t_block = 0.0
        pairs_done = flops = 0.0
        cpu0 = time.process_time()
        for i, j in chosen:
            ra, rb = range(i, min(n, i + args.block)), range(j, min(n, j + args.block))
            t0 = time.perf_counter()
            a, b = file.read(ra), (file.read(rb) if j != i else None)
            t1 = time.perf_counter()
            d = block("svcca", a, b if b is not None else a, **opts)
            t_block += time.perf_counter() - t1
            t_read += t1 - t0
            wa, wb = widths[ra.start : ra.stop], widths[rb.start : rb.stop]
            flops += 2 * samples * wa.sum() * wb.sum()
            pairs_done += len(ra) * len(rb) if j != i else len(ra) * (len(ra) - 1) / 2
            if distances is not None and name == "svcca (variance 0.99)":
                distances[ra.start : ra.stop, rb.start : rb.stop] = d
                distances[rb.start : rb.stop, ra.start : ra.stop] = d.T
        cpu = time.process_time() - cpu0
        per_pair = t_block / pairs_done
        block_seconds = t_block + t_read
        scale = total_pairs / pairs_done
        kind = (
            "measured"
            if chosen is all_blocks
            else f"extrapolated from {len(chosen)}/{len(all_blocks)} blocks"
        )
        print(f"{name}: blocks {block_seconds:.1f} s for {pairs_done:.0f} pairs "
              f"({1e6 * per_pair:.1f} µs/pair computed, read {t_read:.1f} s); "
              f"matmul {flops / t_block / 1e9:.1f} GFLOP/s = {100 * flops / t_block / 1e9 / peak:.0f}% of peak")  # fmt: skip
        total = block_seconds * scale + t_prepare[name] + t_states
        print(f"    whole compare at N={n}: {total / 60:.1f} min ({kind}; states + prepare + "
              f"blocks); vs per-pair definition {per_pair_baseline / per_pair:.0f}× faster per pair")  # fmt: skip
        print(f"    blocks used {cpu:.1f} CPU s for {block_seconds:.1f} wall s "
              f"({cpu / block_seconds:.2f} cores busy): on {args.threads} free cores the blocks "
              f"of N={n} would take ≈ {cpu * scale / args.threads / 60:.1f} min")  # fmt: skip
    print(f"peak RSS after blocks: {rss_mb():.0f} MB")

    # ------------------------------------------------------------------------------- MDS
    if distances is None:  # blocks were sampled: time MDS on a Euclidean matrix of that size
        points = np.random.default_rng(1).standard_normal((n, 8))
        distances = np.empty((n, n))
        for s in range(0, n, 1000):
            distances[s : s + 1000] = np.linalg.norm(
                points[s : s + 1000, None] - points[None], axis=-1
            )
        print(f"(MDS below on a random {n}×{n} Euclidean matrix: the blocks were sampled)")
    np.fill_diagonal(distances, 0.0)
    before = rss_mb()
    t0 = time.perf_counter()
    emb = mds(distances)
    t_mds = time.perf_counter() - t0
    print(f"classical MDS {n}×{n}: {t_mds:.2f} s, peak RSS {rss_mb():.0f} MB (before MDS {before:.0f}"
          f" MB; the matrix itself {distances.nbytes / 2**20:.0f} MB)")  # fmt: skip
    if n <= args.smacof_max:
        t0 = time.perf_counter()
        emb_s = mds(distances, method="smacof")
        t_smacof = time.perf_counter() - t0
        d_true = distances[np.triu_indices(n, 1)]

        def stress(e):
            de = np.linalg.norm(e[:, None] - e[None], axis=-1)[np.triu_indices(n, 1)]
            return math.sqrt(((de - d_true) ** 2).sum() / (d_true**2).sum())

        print(f"SMACOF (scikit-learn) {n}×{n}: {t_smacof:.2f} s → classical is "
              f"{t_smacof / t_mds:.0f}× faster; normalised stress classical {stress(emb):.3f}, "
              f"SMACOF {stress(emb_s):.3f}")  # fmt: skip
    for f in files.values():
        f.path.unlink()
    print(f"peak RSS: {rss_mb():.0f} MB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
