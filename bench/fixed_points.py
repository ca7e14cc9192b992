"""Fixed-point finding on a trained 3-bit flip-flop GRU, measured side by side.

Network: 64-unit GRU trained with the foundation's flip-flop recipe (state noise
σ = 0.1, so its memories are true attractors). Candidates: 1,024 states sampled from its
trajectories plus Gaussian noise σ = 0.5, as FixedPointFinder's example does.

Baseline: the reference algorithm as FixedPointFinder's PyTorch path runs it, written
here in plain PyTorch on an ``nn.GRUCell`` holding the same weights: joint Adam on the
mean of ``q = ½‖F(h) − h‖²`` with initial learning rate 1.0, plateau decay ×0.95 with
patience 2, stop when every ``q < 1e-12`` or after 5,000 iterations; then Jacobians
(one backward pass per unit), deduplication at 1e-3 and eigenvalues.

Also: ``find_fixed_points`` on a population of 64 trained GRUs × 1,024 candidates in one
call.

Run: ``python bench/fixed_points.py [--population 64] [--baseline-iters 5000]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

import rnnscope as rs
from rnnscope.dynamics._unique import greedy_unique

H = 64


def train(seeds: list[int]):
    task = rs.tasks.FlipFlop(bits=3)
    grid = rs.make_grid(architectures=["gru"], hidden_sizes=[H], seeds=seeds)
    result = rs.train_population(task, grid, rs.TrainConfig(max_steps=3000))
    assert (result.networks["status"] == "solved").all(), result.networks
    return task, result.groups[0]


def candidates(net, params, task, n=1024, noise=0.5, seed=0):
    batch = task.sample(128, seed=12345)
    with torch.no_grad():
        states, _ = net.run(params, batch.inputs)
    return rs.dynamics.sample_candidates(states, n, noise=noise, seed=seed)  # [N, n, S]


def baseline(params, cands, max_iters: int):
    """FixedPointFinder's PyTorch path, as the issue specifies it, in plain PyTorch."""
    cell = nn.GRUCell(3, H)
    with torch.no_grad():
        cell.weight_ih.copy_(params["W_ih"][0].T)
        cell.weight_hh.copy_(params["W_hh"][0].T)
        cell.bias_ih.copy_(params["b"][0])
        cell.bias_hh.copy_(params["b_hh"][0])
    for p in cell.parameters():
        p.requires_grad_(False)
    x = torch.zeros(cands.shape[0], 3)
    h = cands.clone().requires_grad_(True)
    opt = torch.optim.Adam([h], lr=1.0)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.95, patience=2)
    start = time.perf_counter()
    iters = 0
    for _ in range(max_iters):
        iters += 1
        q = 0.5 * (cell(x, h) - h).pow(2).sum(-1)
        loss = q.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        plateau.step(loss.item())
        if bool((q < 1e-12).all()):
            break
    h = h.detach()
    q = 0.5 * (cell(x, h) - h).pow(2).sum(-1).detach()
    keep = greedy_unique(h.double(), q.double(), 1e-3)
    points = h[keep]
    # Jacobians as FixedPointFinder computes them: one backward pass per unit
    hp = points.clone().requires_grad_(True)
    out = cell(torch.zeros(len(points), 3), hp)
    jac = torch.zeros(len(points), H, H)
    for i in range(H):
        (row,) = torch.autograd.grad(out[:, i].sum(), hp, retain_graph=True)
        jac[:, i] = row
    eig = torch.linalg.eigvals(jac.double()).abs()
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "iterations": iters,
        "points": points,
        "q": q[keep],
        "n_unstable": (eig > 1).sum(-1),
    }


def describe(name, seconds, points, q, n_unstable, readout):
    inside = points.abs().amax(-1) <= 1 + 1e-6
    real = inside & (q <= 1e-10)
    stable = real & (n_unstable == 0)
    corners = {tuple(torch.sign(readout(p)).int().tolist()) for p in points[stable]}
    saddles = {int(k): int(((n_unstable == k) & real).sum()) for k in range(1, 4)}
    print(
        f"{name:10s} {seconds:8.2f} s  {len(points):5d} unique, {int(inside.sum()):4d} inside |h|≤1, "
        f"{int(real.sum()):3d} with q ≤ 1e-10: {int(stable.sum())} stable ({len(corners)} of 8 corners), "
        f"saddles by unstable dims {saddles}; median q {q.double().median():.1e}"
    )
    return real, stable, corners


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=64)
    parser.add_argument("--baseline-iters", type=int, default=5000)
    args = parser.parse_args()
    torch.manual_seed(0)

    task, group = train([0])
    net, params = group.network, group.params
    cands = candidates(net, params, task)  # [1, 1024, 64]

    def readout(p):
        return net.readout(params, p.float()[None, None])[0, 0]

    result = baseline(params, cands[0], args.baseline_iters)
    base = describe(
        "baseline", result["seconds"], result["points"], result["q"], result["n_unstable"], readout
    )
    print(f"           ({result['iterations']} Adam iterations)")

    step = net.cell.bind(params)
    rs.find_fixed_points(step, cands[:, :64], torch.zeros(3))  # warm-up (allocations, LAPACK)
    runs = []
    for _ in range(5):  # median of 5: the call is short and the machine noisy
        t0 = time.perf_counter()
        fps = rs.find_fixed_points(step, cands, torch.zeros(3))
        runs.append(time.perf_counter() - t0)
    ours_s = float(np.median(runs))
    ours = describe("rnnscope", ours_s, fps.points, fps.q, fps.n_unstable, readout)
    print(f"           {fps}")
    print(
        f"speed-up: {result['seconds'] / ours_s:.1f}×   (target ≥ 20×; rnnscope: median of 5 runs)"
    )
    print(
        f"stable corners found: rnnscope {len(ours[2])}/8, baseline {len(base[2])}/8; saddles "
        "with one unstable direction (the cube's 12 edges): rnnscope "
        f"{int((ours[0] & (fps.n_unstable == 1)).sum())}, baseline "
        f"{int((base[0] & (result['n_unstable'] == 1)).sum())}"
    )
    rs.find_fixed_points(step, cands[:, :64], torch.zeros(3), adam_iters=30)
    t0 = time.perf_counter()
    wide = rs.find_fixed_points(step, cands, torch.zeros(3), adam_iters=30)
    wide_s = time.perf_counter() - t0
    describe("+Adam 30", wide_s, wide.points, wide.q, wide.n_unstable, readout)
    print(
        f"speed-up with adam_iters=30 (reaches more higher-index saddles): {result['seconds'] / wide_s:.1f}×"
    )

    if args.population:
        print(f"\npopulation: training {args.population} GRUs ...")
        t0 = time.perf_counter()
        task, group = train(list(range(args.population)))
        print(f"  trained in {time.perf_counter() - t0:.1f} s")
        cands = candidates(group.network, group.params, task)  # [N, 1024, 64]
        step = group.network.cell.bind(group.params)
        t0 = time.perf_counter()
        fps = rs.find_fixed_points(step, cands, torch.zeros(3))
        seconds = time.perf_counter() - t0
        frame = fps.to_dataframe()
        per_net = frame.groupby("network").agg(points=("q", "size"), stable=("is_stable", "sum"))
        print(
            f"  {args.population} networks × 1,024 candidates: {seconds:.1f} s "
            f"({seconds / args.population:.2f} s per network); points per network: median "
            f"{per_net['points'].median():.0f}, stable per network: median {per_net['stable'].median():.0f} "
            f"(networks with 8 stable: {int((per_net['stable'] == 8).sum())})"
        )
        print(f"  phases: { {k: round(v, 2) for k, v in fps.info['seconds'].items()} }")


if __name__ == "__main__":
    main()
