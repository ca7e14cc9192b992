"""Fixed-point finding on trained 3-bit flip-flop networks, measured side by side.

Part 1 — one trained 64-unit GRU and one LSTM (foundation recipe: state noise σ = 0.1),
1,024 candidates per run (visited states + Gaussian noise σ = 0.5, as FixedPointFinder's
example), 16 candidate draws (seeds) per method:

- ``closed``: ``find_fixed_points`` on ``net.cell.bind(params)`` (closed-form Jacobians,
  state bound known), defaults;
- ``generic``: ``find_fixed_points`` on the same weights as a torch ``nn.GRUCell`` /
  ``nn.LSTMCell`` wrapped by ``step_from_module`` (Jacobians by ``torch.func``), defaults;
- ``baseline``: the algorithm of FixedPointFinder's PyTorch path in plain PyTorch on the
  torch cell: joint Adam on the mean of ``q = ½‖F(h) − h‖²``, lr 1.0, plateau decay ×0.95
  with patience 2, stop when every ``q < 1e-12`` or after 5,000 iterations; Jacobians
  by one backward pass per unit, deduplication at 1e-3, eigenvalues.

Ground truth: the union over every run of every method of the *certified* points
(rnnscope's own output; the baseline's points with ``q ≤ 1e-10`` inside the box, polished
and certified by ``find_fixed_points`` with ``saddles=None``), deduplicated. Recall of a
run = share of the union's points, by number of unstable directions, that the run
reports (within 1e-3 in state space). Times: median over the seeds.

Part 2 — saddle recall per architecture with default settings: 8 solved networks per
architecture (default recipe, stop on success), ``find_scaffold(step, states)`` with its
defaults; a network passes when index-1 saddles join all 12 pairs of neighbouring corners.

Part 3 (``--outside``, alone) — a GRU trained in plain torch given as a plain float64
function; recall of ``find_scaffold`` against the union of its certified points over the draws.

Run: ``python bench/fixed_points.py [--seeds 16] [--baseline-iters 5000] [--baseline-seeds N]
[--networks 8]`` (``--baseline-seeds``: the baseline on the first N draws only, to save time).
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
MATCH = 1e-3


def train(architectures: list[str], seeds: list[int], steps: int = 3000):
    task = rs.tasks.FlipFlop(bits=3)
    grid = rs.make_grid(architectures=architectures, hidden_sizes=[H], seeds=seeds)
    return task, rs.train_population(task, grid, rs.TrainConfig(max_steps=steps))


def visited(net, params, task, batch=128, seed=12345):
    with torch.no_grad():
        states, _ = net.run(params, task.sample(batch, seed=seed).inputs)
    return states


def torch_cell(net, params):
    module, _ = rs.interop.to_torch(net, params)
    cell = (nn.GRUCell if isinstance(module, nn.GRU) else nn.LSTMCell)(3, H)
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in module.state_dict().items()})
    for p in cell.parameters():
        p.requires_grad_(False)
    return cell


def baseline(cell, cands, max_iters: int):
    """FixedPointFinder's PyTorch path, as the issue specifies it, in plain PyTorch."""
    lstm = isinstance(cell, nn.LSTMCell)

    def step(h):
        if lstm:
            hn, cn = cell(torch.zeros(len(h), 3), (h[:, :H], h[:, H:]))
            return torch.cat([hn, cn], -1)
        return cell(torch.zeros(len(h), 3), h)

    start = time.perf_counter()
    h = cands.clone().requires_grad_(True)
    opt = torch.optim.Adam([h], lr=1.0)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.95, patience=2)
    for _ in range(max_iters):
        q = 0.5 * (step(h) - h).pow(2).sum(-1)
        loss = q.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        plateau.step(loss.item())
        if bool((q < 1e-12).all()):
            break
    h = h.detach()
    q = 0.5 * (step(h) - h).pow(2).sum(-1).detach()
    keep = greedy_unique(h.double(), q.double(), 1e-3)
    points = h[keep]
    hp = points.clone().requires_grad_(True)
    out = step(hp)
    size = points.shape[-1]
    jac = torch.zeros(len(points), size, size)
    for i in range(size):  # one backward pass per unit, as FixedPointFinder does
        (row,) = torch.autograd.grad(out[:, i].sum(), hp, retain_graph=True)
        jac[:, i] = row
    n_unstable = (torch.linalg.eigvals(jac.double()).abs() > 1).sum(-1)
    return time.perf_counter() - start, points, q[keep], n_unstable


def certified_baseline_points(bound, points, q):
    """The baseline's real-looking points, polished and certified by rnnscope."""
    real = (points.abs().amax(-1) <= 1 + 1e-6) & (q <= 1e-10)
    if not bool(real.any()):
        return torch.zeros(0, points.shape[-1], dtype=torch.float64)
    fps = rs.find_fixed_points(bound, points[real][None], torch.zeros(3), saddles=None)
    return fps.points[fps.kind == "fixed"]


def recall(points, truth, truth_index):
    """Share of truth points matched by ``points``, by index (0, 1, 2, ≥3)."""
    out = {}
    if len(points):
        hit = torch.cdist(truth, points.double()).min(dim=1).values <= MATCH
    else:
        hit = torch.zeros(len(truth), dtype=torch.bool)
    for k in range(4):
        mine = truth_index == k if k < 3 else truth_index >= 3
        out[k] = (int(hit[mine].sum()), int(mine.sum()))
    return out


def part_one(arch, net, params, task, seeds, baseline_iters, baseline_seeds):
    states = visited(net, params, task)
    bound = net.cell.bind(params)
    generic = rs.interop.step_from_module(
        torch_cell(net, params), 3, H if arch == "gru" else (H, H)
    )
    runs = {"closed": [], "generic": [], "baseline": []}
    rs.find_fixed_points(bound, states[:, :4, 0], torch.zeros(3))  # warm-up
    for seed in seeds:
        cands = rs.dynamics.sample_candidates(states, 1024, noise=0.5, seed=seed)  # [1, K, S]
        t0 = time.perf_counter()
        fps = rs.find_fixed_points(bound, cands, torch.zeros(3))
        runs["closed"].append((time.perf_counter() - t0, fps.points[fps.kind == "fixed"]))
        t0 = time.perf_counter()
        own = rs.find_fixed_points(generic, cands[0], torch.zeros(3))
        runs["generic"].append((time.perf_counter() - t0, own.points[own.kind == "fixed"]))
        if seed < baseline_seeds:
            seconds, points, q, _ = baseline(torch_cell(net, params), cands[0], baseline_iters)
            runs["baseline"].append(
                (seconds, certified_baseline_points(bound, points, q), points, q)
            )
        base = ""
        if seed < baseline_seeds:
            base = (
                f", baseline {seconds:.2f} s ({len(points)} unique, "
                f"{len(runs['baseline'][-1][1])} certified)"
            )
        print(
            f"  seed {seed:2d}: closed {runs['closed'][-1][0]:.2f} s ({len(runs['closed'][-1][1])} pts), "
            f"generic {runs['generic'][-1][0]:.2f} s ({len(runs['generic'][-1][1])}){base}",
            flush=True,
        )
    every = torch.cat([r[1].double() for m in runs.values() for r in m])
    keep = greedy_unique(every, torch.zeros(len(every), dtype=torch.float64), MATCH)
    truth = every[keep]
    lin = rs.linearize(bound.to(torch.float64), truth[None], torch.zeros(3, dtype=torch.float64))
    index = lin.n_unstable[0]
    counts = {k: int((index == k).sum()) if k < 3 else int((index >= 3).sum()) for k in range(4)}
    print(
        f"{arch}: union of certified points over {len(seeds)} seeds of closed and generic, "
        f"{baseline_seeds} of the baseline: {len(truth)}; by index {counts}"
    )
    times = {m: float(np.median([r[0] for r in rs_])) for m, rs_ in runs.items()}
    for method, rows in runs.items():
        scores = [recall(r[1], truth, index) for r in rows]
        if method == "baseline":  # what it reports, matched before any polish
            scores = [recall(r[2][(r[2].abs().amax(-1) <= 1 + 1e-6)], truth, index) for r in rows]
        text = []
        for k, name in enumerate(("stable", "index 1", "index 2", "index ≥3")):
            total = scores[0][k][1]
            if total == 0:
                continue
            shares = [s[k][0] / total for s in scores]
            text.append(
                f"{name} {100 * np.mean(shares):.1f}% (min {100 * min(shares):.0f}%) of {total}"
            )
        print(f"  {method:8s} median {times[method]:6.2f} s   recall: " + ", ".join(text))
    print(
        f"  time ratios: generic / closed {times['generic'] / times['closed']:.2f}× (target ≤ 2×); "
        f"baseline / closed {times['baseline'] / times['closed']:.1f}× (target ≥ 20×)"
    )


def edges(net, params, step, fps):
    if len(fps) == 0:
        return 0
    graph = rs.dynamics.unstable_manifold_graph(step, fps)
    sign = {
        i: tuple(
            torch.sign(net.readout(params, fps.points[i].float()[None, None])[0, 0]).int().tolist()
        )
        for i in graph
    }
    found = set()
    for i in graph:
        ends = list(graph.successors(i))
        if graph.nodes[i]["n_unstable"] == 1 and len(ends) == 2:
            a, b = sign[ends[0]], sign[ends[1]]
            if sum(u != v for u, v in zip(a, b, strict=True)) == 1:
                found.add(frozenset([a, b]))
    return len(found)


def part_two(n_networks: int):
    archs = ["vanilla", "gru", "lstm", "ugrnn"]
    task, result = train(archs, list(range(n_networks)))
    probe = task.sample(64, seed=99)
    print(f"\npart 2: {len(result.networks)} networks, default recipe (stop on success)")
    for arch in archs:
        rows = result.networks[result.networks["architecture"] == arch]
        passed = with_fixed = 0
        seconds, holders = [], {}
        for net_id, status in zip(rows["network"], rows["status"], strict=True):
            if status != "solved":
                continue
            net, params = result.network(int(net_id))
            with torch.no_grad():
                states, _ = net.run(params, probe.inputs)
            step = net.cell.bind(params)
            t0 = time.perf_counter()
            fps = rs.dynamics.find_scaffold(step, states, torch.zeros(3))
            seconds.append(time.perf_counter() - t0)
            n_edges = edges(net, params, step, fps)
            passed += n_edges == 12
            memory = rs.dynamics.memory_structure(
                step, states[0], torch.zeros(3), fixed_points=fps,
                readout=lambda h, net=net, params=params: net.readout(params, h.float()[None])[0],
            )  # fmt: skip
            holders[memory.holder] = holders.get(memory.holder, 0) + 1
            with_fixed += memory.holder == "fixed_points"
        solved = int((rows["status"] == "solved").sum())
        print(
            f"  {arch:8s} solved {solved}/{len(rows)}; all 12 edge saddles: {passed}/{solved} "
            f"({100 * passed / max(solved, 1):.0f}%); of those holding memories on fixed points: "
            f"{passed}/{with_fixed}; memory holders {holders}; find_scaffold median "
            f"{np.median(seconds):.2f} s"
        )


def part_three(seeds: list[int]) -> None:
    """A 64-unit GRU trained in plain torch (400 steps, no state noise, as in
    docs/bring-your-own-model.md), given as a plain float64 function: no bound, no
    closed forms, no ``.to``; ``find_scaffold`` defaults; recall against the union of the
    certified points of all draws."""
    torch.manual_seed(0)
    task = rs.tasks.FlipFlop(bits=3, steps=60)
    gru, readout = nn.GRU(3, H, batch_first=True), nn.Linear(H, 3)
    opt = torch.optim.Adam([*gru.parameters(), *readout.parameters()], lr=1e-2)
    for step in range(400):
        batch = task.sample(batch_size=64, seed=step)
        hidden, _ = gru(batch.inputs)
        loss = ((readout(hidden) - batch.targets) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    cell = nn.GRUCell(3, H).double()
    cell.load_state_dict({k.replace("_l0", ""): v.double() for k, v in gru.state_dict().items()})
    for p in cell.parameters():
        p.requires_grad_(False)

    def f(h, x):
        lead = h.shape[:-1]
        return cell(x.expand(*lead, 3).reshape(-1, 3), h.reshape(-1, H)).reshape(*lead, H)

    with torch.no_grad():
        states, _ = gru(task.sample(128, seed=12345).inputs)
    states = states.double()
    zero = torch.zeros(3, dtype=torch.float64)
    print(f"\npart 3: plain-torch GRU as a float64 function (final loss {loss.item():.4f})")
    runs, seconds = [], []
    for seed in seeds:
        t0 = time.perf_counter()
        fps = rs.dynamics.find_scaffold(f, states, zero, seed=seed)
        seconds.append(time.perf_counter() - t0)
        runs.append(fps.points[fps.kind == "fixed"])
        print(f"  seed {seed:2d}: {seconds[-1]:.1f} s {fps}", flush=True)
    every = torch.cat(runs)
    truth = every[greedy_unique(every, torch.zeros(len(every), dtype=torch.float64), MATCH)]
    index = rs.linearize(f, truth, zero).n_unstable
    print(
        f"  union of certified points over {len(seeds)} draws: {len(truth)}, max |h| "
        f"{float(truth.abs().max()):.3f}; median {np.median(seconds):.1f} s per call"
    )
    for k in range(int(index.max()) + 1):
        mine = truth[index == k]
        shares = [
            float((torch.cdist(mine, r).min(1).values <= MATCH).double().mean()) if len(r) else 0.0
            for r in runs
        ]
        print(
            f"  index {k}: recall {100 * np.mean(shares):.1f}% (min {100 * min(shares):.0f}%) "
            f"of {len(mine)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--baseline-iters", type=int, default=5000)
    parser.add_argument(
        "--baseline-seeds",
        type=int,
        default=None,
        help="run the baseline on the first N seeds only",
    )
    parser.add_argument("--networks", type=int, default=8, help="part 2: networks per architecture")
    parser.add_argument(
        "--outside", action="store_true", help="only part 3: a plain-torch GRU as a function"
    )
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    print("threads: 1 (torch.set_num_threads)")
    if args.outside:
        part_three(list(range(args.seeds)))
        return
    task, result = train(["gru", "lstm"], [0])
    for arch in ("gru", "lstm"):
        row = result.networks[result.networks["architecture"] == arch].iloc[0]
        net, params = result.network(int(row["network"]))
        print(f"\npart 1: {arch}, {row['status']} after {row['steps']} steps")
        part_one(
            arch, net, params, task, list(range(args.seeds)), args.baseline_iters,
            args.baseline_seeds or args.seeds,
        )  # fmt: skip
    if args.networks:
        part_two(args.networks)


if __name__ == "__main__":
    main()
