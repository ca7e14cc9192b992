"""Topology signatures: a change of coordinates changes nothing; removing a point does."""

import numpy as np
import pytest
import torch
from scipy.stats import ortho_group

import rnnscope as rs
from rnnscope.compare import topology_distance, topology_signature


class RotatedStep:
    """Network B = network A seen in rotated coordinates: F_B(h) = F_A(h Q) Qᵀ."""

    def __init__(self, step, q):
        self.step, self.q = step, q
        self.input_size = step.input_size

    def __call__(self, h, x):
        return self.step(h @ self.q.to(h.dtype), x) @ self.q.to(h.dtype).T

    def to(self, dtype):
        return RotatedStep(self.step.to(dtype), self.q.to(dtype))


@pytest.fixture(scope="module")
def two_coordinate_systems(flipflop_gru):
    net, params, states = flipflop_gru
    q = torch.as_tensor(ortho_group.rvs(64, random_state=3), dtype=torch.float32)
    step_a = net.cell.bind(params)
    step_b = RotatedStep(step_a, q)
    # visited states, no added noise: with state_bound=None (a box bound is not rotation
    # invariant) noisy candidates could settle on saturated non-points outside |h| ≤ 1
    cands = rs.dynamics.sample_candidates(states, 512, noise=0.0, seed=2)
    out = {}
    for name, step, c, w in (
        ("a", step_a, cands, params["W_out"][0]),
        ("b", step_b, cands @ q.T, q @ params["W_out"][0]),
    ):
        fps = rs.find_fixed_points(step, c[None], torch.zeros(3), state_bound=None)
        graph = rs.dynamics.unstable_manifold_graph(step, fps)
        sig = topology_signature(fps, readout=(w, params["b_out"][0]), graphs={"unstable": graph})
        out[name] = (fps, graph, sig)
    return out, states, q


def test_orthogonal_change_of_coordinates_is_invisible(two_coordinate_systems):
    out, states, q = two_coordinate_systems
    (fa, _, sa), (fb, _, sb) = out["a"], out["b"]
    assert len(fa) == len(fb) and sa.counts.tolist() == sb.counts.tolist()
    assert sa.counts[0] == 8  # the flip-flop's corners
    total, parts = topology_distance(sa, sb, parts=True)
    assert total < 1e-6, parts
    # geometry agrees: CCA-family similarity 1, Procrustes distance 0
    x = states.reshape(-1, 64)[::4].double().numpy()
    y = x @ q.double().numpy().T
    assert rs.compare.cca(x, y) == pytest.approx(1.0, abs=1e-6)
    assert rs.compare.svcca(x, y) == pytest.approx(1.0, abs=1e-6)
    assert rs.compare.procrustes(x, y) == pytest.approx(0.0, abs=1e-6)


def test_a_fixed_point_removed_from_the_graph_is_a_positive_distance(two_coordinate_systems):
    out, _, _ = two_coordinate_systems
    fps, graph, sig = out["a"]
    pruned = graph.copy()
    stable = [n for n in pruned if pruned.nodes[n]["stable"]]
    pruned.remove_node(stable[0])
    smaller = topology_signature(fps, readout=None, graphs={"unstable": pruned})
    smaller.labels = sig.labels
    assert topology_distance(sig, smaller) > 0.01
    # structure alone (no labels) also sees it
    assert rs.compare.graph_distance(graph, pruned) > 0


def test_signature_parts_and_pairwise_matrix(two_coordinate_systems):
    out, _, _ = two_coordinate_systems
    sig = out["a"][2]
    other = topology_signature(out["a"][0])  # no labels, no graphs
    total, parts = topology_distance(sig, other, parts=True)
    assert set(parts) == {"counts", "spectrum"} and total == pytest.approx(0.0, abs=1e-12)
    d = rs.compare.pairwise_topology([sig, out["b"][2], other])
    assert d.shape == (3, 3) and (np.diag(d) == 0).all() and np.allclose(d, d.T)


def test_cycles_and_lines_enter_the_distance():
    def hopf(mu, omega):
        def step(h, x):
            a, b = h[..., 0], h[..., 1]
            r2 = a * a + b * b
            return torch.stack(
                [a + 0.1 * (mu * a - omega * b - r2 * a), b + 0.1 * (omega * a + mu * b - r2 * b)],
                -1,
            )

        step.input_size = 1
        return step

    sigs = []
    for omega in (1.0, 1.0, 2.0):
        step = hopf(0.5, omega)
        fps = rs.find_fixed_points(
            step, 0.05 * torch.randn(20, 2, dtype=torch.float64), outliers=None
        )
        cycles = rs.dynamics.find_limit_cycle(step, torch.tensor([0.1, 0.0], dtype=torch.float64))
        sigs.append(topology_signature(fps, cycles=cycles))
    assert topology_distance(sigs[0], sigs[1]) < 1e-9
    assert topology_distance(sigs[0], sigs[2]) > 0.05
