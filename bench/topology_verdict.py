"""The verdict machinery on a trained flip-flop population, and topology_block's speed.

    PYTHONPATH=src python bench/topology_verdict.py              # 30 networks, ~3 min on 1 core
    PYTHONPATH=src python bench/topology_verdict.py --block-only # topology_block vs a per-pair loop

Trains 4 architectures (vanilla tanh and ReLU) at hidden 32 and 64, 3 seeds; per solved
network: fixed points, unstable-manifold graph, flip-flop topology signature, linear-dynamics
signature, probe states. Prints the verdict for SVCCA at 99% variance, SVCCA at the study-wide
``keep`` (``compare.study_keep``), topology and linear dynamics, how often a network's nearest
neighbour has the other hidden size, and which networks' heteroclinic graph is the cube.
"""

from __future__ import annotations

import sys
import time

import networkx as nx
import numpy as np
import torch

import rnnscope as rs


def block_speed(n: int = 1000) -> None:
    """topology_block on n signatures (variants of a cube) against a loop over pairs."""
    rng = np.random.default_rng(0)
    corners = np.array(
        [[i, j, k] for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)], dtype=np.int8
    )
    edges = np.array(
        [(a, b) for a in range(8) for b in range(a + 1, 8) if (corners[a] != corners[b]).sum() == 1]
    )
    sigs = []
    for _ in range(n):
        keep = rng.random(len(edges)) > 0.1
        lab = corners.copy()
        if rng.random() < 0.2:
            lab[rng.integers(8)] = 0
        sigs.append(rs.compare.TopologySignature(np.array([8, keep.sum(), 6]), lab, edges[keep]))
    start = time.perf_counter()
    d = rs.compare.topology_block(sigs, sigs)
    t_block = time.perf_counter() - start
    start = time.perf_counter()
    loop = np.array([[rs.compare.topology_distance(a, b) for b in sigs[:100]] for a in sigs[:20]])
    t_loop = (time.perf_counter() - start) / loop.size
    assert np.allclose(loop, d[:20, :100])
    per_pair = t_block / d.size
    print(
        f"topology_block {n}x{n}: {t_block:.2f} s ({per_pair * 1e6:.1f} us/pair); "
        f"per-pair loop {t_loop * 1e6:.0f} us/pair; ratio {t_loop / per_pair:.0f}x"
    )


def population() -> None:
    torch.set_num_threads(1)
    start = time.perf_counter()
    task = rs.tasks.FlipFlop(bits=3)
    grid = rs.make_grid(
        architectures=["vanilla", "gru", "lstm", "ugrnn"],
        hidden_sizes=[32, 64],
        activations=["tanh", "relu"],
        seeds=[0, 1, 2],
    )
    result = rs.train_population(task, grid)
    t_train = time.perf_counter() - start
    nets = result.networks[result.networks["status"] == "solved"].reset_index(drop=True)
    print(f"{len(nets)} of {len(result.networks)} networks solved the task")
    probe = task.sample(batch_size=64, seed=99).inputs
    states, topo, lin = [], [], []
    for network in nets["network"]:
        net, params = result.network(network)
        h, _ = net.run(params, probe)
        states.append(h[0, ..., : net.hidden_size].reshape(-1, net.hidden_size).double().numpy())
        step = net.cell.bind(params)
        fps = rs.find_fixed_points(
            step, rs.dynamics.sample_candidates(h, 1024, noise=0.5), torch.zeros(3)
        )
        graph = rs.dynamics.unstable_manifold_graph(step, fps)
        topo.append(
            rs.compare.flipflop_signature(fps, graph, (params["W_out"][0], params["b_out"][0]))
        )
        lin.append(rs.compare.linear_dynamics_signature(fps))
    keep = rs.compare.study_keep(states)
    n = len(states)
    kept = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            kept[i, j] = kept[j, i] = 1 - rs.compare.svcca(states[i], states[j], keep=keep)
    mats = {
        "svcca_99": rs.compare.pairwise("svcca", states),
        f"svcca_keep{keep}": kept,
        "topology": rs.compare.pairwise_topology(topo),
        "linear_dynamics": rs.compare.pairwise_linear_dynamics(lin),
    }
    cube = nx.hypercube_graph(3)
    nets["n_stable"] = [s.n_stable for s in topo]
    nets["n_index1"] = [s.n_index1 for s in topo]
    nets["cube"] = [s.n_stable == 8 and nx.is_isomorphic(s.graph(), cube) for s in topo]
    print(
        nets[
            [
                "network",
                "architecture",
                "activation",
                "hidden_size",
                "seed",
                "n_stable",
                "n_index1",
                "cube",
            ]
        ].to_string(index=False)
    )
    sizes = nets["hidden_size"].to_numpy()
    for name, d in mats.items():
        nearest = (d + np.diag(np.full(n, np.inf))).argmin(1)
        print(
            f"{name}: nearest neighbour has the other hidden size for {np.mean(sizes[nearest] != sizes):.2f}"
        )
    verdict = rs.compare.verdict(mats, nets, permutations=1000)
    print(verdict.table.drop(columns=["k", "permutations", "alpha"]).to_string(index=False))
    print(verdict)
    print(
        f"keep = {keep}; wall time {time.perf_counter() - start:.0f} s (training {t_train:.0f} s)"
    )


if __name__ == "__main__":
    block_speed()
    if "--block-only" not in sys.argv:
        population()
