"""Topology signatures per task: a change of coordinates (rotation, permutation of units)
and a reordering of fixed points change nothing; planted differences are seen, by the
part that should see them."""

import networkx as nx
import numpy as np
import pytest
import torch
from scipy.stats import ortho_group

import rnnscope as rs
from rnnscope.compare import (
    DEFAULT_PARTS,
    TopologySignature,
    ablation_curve,
    context_signature,
    flipflop_signature,
    sine_signature,
    topology_block,
    topology_distance,
    topology_signature,
)

F64 = torch.float64


def rotation_and_permutation(size: int, seed: int) -> torch.Tensor:
    """An orthogonal Q that rotates and then permutes the units."""
    q = torch.as_tensor(ortho_group.rvs(size, random_state=seed))
    perm = torch.as_tensor(np.random.default_rng(seed).permutation(size))
    return torch.eye(size, dtype=F64)[perm] @ q


class Bistable:
    """A 3-bit flip-flop by construction, seen in coordinates ``h = Q z``: each of the
    first 3 coordinates of z is bistable (z + 0.3 (z − z³): attractors ±1, a saddle at
    0), the others contract. Fixed points: 8 corners, 12 index-1 saddles joining the
    corners along the cube's edges, 6 index-2, 1 index-3. ``mono`` bits have one
    attractor instead (a planted difference)."""

    input_size = 1

    def __init__(self, size=8, q=None, mono=()):
        self.size = size
        self.q = torch.eye(size, dtype=F64) if q is None else q
        self.mono = torch.zeros(3, dtype=torch.bool)
        self.mono[list(mono)] = True

    def __call__(self, h, x):
        z = h @ self.q.to(h.dtype)
        b = z[..., :3]
        nb = torch.where(self.mono, 0.5 * b + 0.5, b + 0.3 * (b - b**3))
        return torch.cat([nb, 0.5 * z[..., 3:]], -1) @ self.q.T.to(h.dtype)

    def readout(self):
        return (self.q @ torch.eye(self.size, dtype=F64)[:, :3], torch.zeros(3, dtype=F64))


def scaffold(step, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.rand(600, step.size, generator=g, dtype=F64) * 2.4 - 1.2
    fps = rs.find_fixed_points(step, z @ step.q.T, torch.zeros(1), state_bound=None, outliers=None)
    graph = rs.dynamics.unstable_manifold_graph(step, fps)
    return fps, graph, flipflop_signature(fps, graph, step.readout())


@pytest.fixture(scope="module")
def flipflops():
    a = scaffold(Bistable())
    # a rotated and permuted copy, searched from other candidates (points in another order)
    b = scaffold(Bistable(q=rotation_and_permutation(8, 1)), seed=1)
    c = scaffold(Bistable(mono=[2]))
    return a, b, c


def test_flipflop_scaffold_is_the_cube(flipflops):
    (_, _, sig), _, _ = flipflops
    assert sig.counts.tolist() == [8, 12, 6, 1]
    corners = {tuple(r) for r in sig.attractors.tolist()}
    assert corners == {(i, j, k) for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)}
    assert nx.is_isomorphic(sig.graph(), nx.hypercube_graph(3))
    # each edge joins corners that differ in exactly one bit
    a = sig.attractors
    assert all(int((a[i] != a[j]).sum()) == 1 for i, j in sig.edges)


def test_rotated_and_permuted_copy_is_at_distance_zero(flipflops):
    (fa, _, sa), (fb, _, sb), _ = flipflops
    assert not torch.allclose(fa.points[:, :3], fb.points[:, :3])  # other coordinates
    total, parts = topology_distance(sa, sb, return_parts=True)
    assert set(parts) == {"counts", "attractors", "graph", "structure"}
    assert total == 0.0 and all(v == 0.0 for v in parts.values()), parts


def test_planted_difference_is_seen_by_every_flipflop_part(flipflops):
    (_, _, sa), _, (_, _, sc) = flipflops
    assert sc.counts.tolist()[:2] == [4, 4]
    total, parts = topology_distance(sa, sc, return_parts=True)
    assert parts["attractors"] == pytest.approx(0.5)  # 4 of 8 corners shared
    assert parts["graph"] == pytest.approx(1 - 4 / 12)  # the square is 4 of the cube's 12 edges
    assert parts["structure"] > 0.1 and parts["counts"] > 0.1 and total > 0.3


def test_labelled_and_label_free_distances_differ_where_they_should(flipflops):
    (_, _, sig), _, _ = flipflops
    arrays = sig.to_arrays()
    # a symmetry of the cube (flip bit 0): same memories, same transitions
    flipped = dict(arrays, attractors=arrays["attractors"] * np.array([-1, 1, 1], dtype=np.int8))
    assert topology_distance(sig, TopologySignature.from_arrays(flipped)) == 0.0
    # labels swapped between two non-adjacent corners' neighbours: a cube with other
    # memories at its ends — the labelled graph sees it, the structure does not
    lab = arrays["attractors"].copy()
    i, j = arrays["edges"][0]
    k = next(int(n) for n in range(len(lab)) if n not in (i, j) and (lab[n] != lab[i]).sum() == 2)
    lab[[j, k]] = lab[[k, j]]
    swapped = TopologySignature.from_arrays(dict(arrays, attractors=lab))
    _, parts = topology_distance(sig, swapped, return_parts=True)
    assert parts["graph"] > 0.1 and parts["structure"] == 0.0 and parts["attractors"] == 0.0
    # an edge removed: both see it
    cut = TopologySignature.from_arrays(dict(arrays, edges=arrays["edges"][1:]))
    _, parts = topology_distance(sig, cut, return_parts=True)
    assert parts["graph"] == pytest.approx(1 / 12) and parts["structure"] > 0


def test_higher_index_saddles_stay_out_of_the_default_distance(flipflops):
    (_, _, sig), _, _ = flipflops
    fewer = TopologySignature.from_arrays(dict(sig.to_arrays(), counts=np.array([8, 12, 2])))
    assert "higher_index" not in DEFAULT_PARTS
    assert topology_distance(sig, fewer) == 0.0
    parts = (*DEFAULT_PARTS, "higher_index")
    assert topology_distance(sig, fewer, parts=parts) > 0


def test_signatures_round_trip_through_npz_without_pickle(tmp_path, flipflops):
    sigs = [s for _, _, s in flipflops] + [TopologySignature(np.array([3, 1]))]
    for n, s in enumerate(sigs):
        arrays = s.to_arrays()
        assert all(a.dtype != object for a in arrays.values())
        np.savez(tmp_path / f"{n}.npz", **arrays)
    back = [
        TopologySignature.from_arrays(np.load(tmp_path / f"{n}.npz", allow_pickle=False))
        for n in range(len(sigs))
    ]
    assert np.array_equal(topology_block(sigs, sigs), topology_block(back, sigs))
    with pytest.raises(ValueError, match="unknown signature arrays"):
        TopologySignature.from_arrays({"counts": np.zeros(2), "spectrum": np.zeros(3)})


def test_block_agrees_with_pairwise_distances(flipflops):
    sigs = [s for _, _, s in flipflops] + [TopologySignature(np.array([3, 1]))]
    block = topology_block(sigs[:2], sigs)
    assert block.shape == (2, 4)
    for i in range(2):
        for j in range(4):
            assert block[i, j] == pytest.approx(topology_distance(sigs[i], sigs[j]))
    d = rs.compare.pairwise_topology(sigs)
    assert d.shape == (4, 4) and (np.diag(d) == 0).all() and np.allclose(d, d.T)
    # counts only against the counts-only signature
    _, parts = topology_distance(sigs[0], sigs[3], return_parts=True)
    assert set(parts) == {"counts"}
    with pytest.raises(ValueError, match="unknown topology parts"):
        topology_block(sigs, sigs, parts=["spectrum"])
    with pytest.raises(TypeError, match="TopologySignature"):
        topology_block([{"counts": 1}], sigs)


def test_topology_signature_keeps_its_old_call(flipflops):
    (fps, graph, sig), _, _ = flipflops
    same = topology_signature(fps, readout=Bistable().readout(), graphs={"unstable": graph})
    assert topology_distance(sig, same) == 0.0 and len(same.edges) == 12
    assert topology_signature(fps).attractors is None


class Hopf:
    """A planar oscillator per input level (ω = the input) in coordinates ``h = Q z``:
    μ > 0 gives an unstable focus inside a stable limit cycle, μ < 0 a stable focus."""

    input_size = 1

    def __init__(self, q, mu_high=0.5):
        self.q, self.mu_high = q, mu_high

    def __call__(self, h, x):
        z = h @ self.q.to(h.dtype)
        a, b, w = z[..., 0], z[..., 1], x[..., 0]
        mu = torch.where(w > 0.5, self.mu_high, 0.5)
        r2 = a * a + b * b
        na = a + 0.1 * (mu * a - w * b - r2 * a)
        nb = b + 0.1 * (w * a + mu * b - r2 * b)
        return torch.cat([na[..., None], nb[..., None], 0.5 * z[..., 2:]], -1) @ self.q.T


def sine_scaffold(step, levels=(0.3, 0.6, 0.9)):
    fps, cycles = [], []
    for level in levels:
        x = torch.tensor([level], dtype=F64)
        start = torch.tensor([0.1, 0.0, 0.0, 0.0], dtype=F64) @ step.q.T
        fps.append(
            rs.find_fixed_points(step, 0.3 * torch.randn(30, 4, dtype=F64), x, outliers=None)
        )
        cycles.append(rs.dynamics.find_limit_cycle(step, start, x, transient=1000)[0])
    return sine_signature(levels, fps, cycles)


def test_sine_scaffold_per_level():
    eye = torch.eye(4, dtype=F64)
    a = sine_scaffold(Hopf(eye))
    b = sine_scaffold(Hopf(rotation_and_permutation(4, 2)))
    c = sine_scaffold(Hopf(eye, mu_high=-0.5))
    assert a.point_type.tolist() == [2, 2, 2] and a.has_cycle.all()  # unstable foci in cycles
    assert np.allclose(a.frequency, 0.1 * np.array([0.3, 0.6, 0.9]), rtol=0.05)
    assert c.point_type.tolist() == [2, 1, 1] and c.has_cycle.tolist() == [True, False, False]
    assert topology_distance(a, b) < 1e-9
    _, parts = topology_distance(a, c, return_parts=True)
    assert parts["sine_type"] == pytest.approx(2 / 3) and parts["sine_cycle"] == pytest.approx(
        2 / 3
    )


class Line:
    """A linear system in coordinates ``h = Q z`` with eigenvalues ``lams`` along z's axes;
    ``lams[0] = 1``: a line attractor along ``Q e_0``. Input ``x [2]`` drives
    ``z_0 + z_1`` (context 1) or ``z_0 + z_2`` (context 2)."""

    input_size = 2

    def __init__(self, q, lams):
        self.q, self.lams = q, torch.tensor(lams, dtype=F64)
        self.b = torch.zeros(6, 2, dtype=F64)
        self.b[[0, 1], 0] = 1
        self.b[[0, 2], 1] = 1

    def __call__(self, h, x):
        z = h @ self.q.to(h.dtype)
        return (z * self.lams + x @ self.b.T) @ self.q.T


def context_scaffold(step, readout_z):
    fps = [
        rs.find_fixed_points(step, torch.randn(30, 6, dtype=F64), torch.zeros(2), outliers=None)
        for _ in range(2)
    ]
    return context_signature(fps, step.q @ readout_z, np.eye(2), modes=3, steps=100)


def test_context_scaffold_and_mode_ablation():
    eye = torch.eye(6, dtype=F64)
    one_mode = [1.0, 0.9, 0.5, 0.3, 0.2, 0.1]
    a = context_scaffold(Line(eye, one_mode), eye[:, 0])
    b = context_scaffold(Line(rotation_and_permutation(6, 3), one_mode), eye[:, 0])
    # integration spread over two modes (λ 1 and 0.99), read out along both
    spread = context_scaffold(
        Line(eye, [1.0, 0.99, 0.5, 0.3, 0.2, 0.1]), (eye[:, 0] + eye[:, 1]) / 2**0.5
    )
    assert a.line_dimension.tolist() == [1, 1] and np.allclose(a.readout_alignment, 1)
    assert np.allclose(a.ablation, [[1, 0, 0, 0]] * 2, atol=1e-9)  # one mode holds it all
    # removing the slowest mode leaves g_1 / (g_0 + g_1), g = Σ_{t<100} λ^t
    g0, g1 = 100.0, (1 - 0.99**100) / 0.01
    assert spread.ablation[0, 1] == pytest.approx(g1 / (g0 + g1), rel=1e-6)
    assert spread.counts is None  # stability on a line hinges on |λ| ≈ 1 rounding
    assert topology_distance(a, b) < 1e-9
    _, parts = topology_distance(a, spread, return_parts=True)
    assert parts["ablation"] > 0.01 and parts["readout_alignment"] > 0.1
    assert parts["line_dimension"] == 0.0


def test_ablation_curve_needs_no_more_modes_than_the_state_has():
    lin = rs.linearize(Line(torch.eye(6, dtype=F64), [1.0] * 6), torch.zeros(2, 6, dtype=F64))
    curve = ablation_curve(lin, torch.ones(6), [1.0, 0.0], modes=8)
    assert curve.shape == (2, 9) and np.allclose(curve[:, 0], 1)


def test_linear_dynamics_is_its_own_comparison(flipflops):
    (fa, _, _), (fb, _, _), _ = flipflops
    sa = rs.compare.linear_dynamics_signature(fa)
    sb = rs.compare.linear_dynamics_signature(fb)
    faster = rs.compare.LinearDynamicsSignature(sa.spectrum * 0.5, sa.log_tau - 1)
    d = rs.compare.pairwise_linear_dynamics([sa, sb, faster])
    assert d[0, 1] < 1e-9 and d[0, 2] > 0.1
    back = rs.compare.LinearDynamicsSignature.from_arrays(sa.to_arrays())
    assert rs.compare.linear_dynamics_block([back], [sa], part="log_tau")[0, 0] == 0.0


def test_graph_distance_labelled_and_structural():
    cube = nx.hypercube_graph(3)
    relabelled = nx.relabel_nodes(cube, {n: i for i, n in enumerate(cube)})
    assert rs.compare.graph_distance(cube, relabelled) == 0.0
    pruned = relabelled.copy()
    pruned.remove_edge(*next(iter(pruned.edges)))
    assert rs.compare.graph_distance(relabelled, pruned) > 0
    labels = {n: n for n in cube}
    assert rs.compare.graph_distance(cube, cube, labels, labels) == 0.0


class RotatedStep:
    """Network B = network A seen in rotated coordinates: F_B(h) = F_A(h Q) Qᵀ."""

    def __init__(self, step, q):
        self.step, self.q = step, q
        self.input_size = step.input_size

    def __call__(self, h, x):
        return self.step(h @ self.q.to(h.dtype), x) @ self.q.to(h.dtype).T

    def to(self, dtype):
        return RotatedStep(self.step.to(dtype), self.q.to(dtype))


def test_trained_flipflop_gru_and_its_rotated_permuted_copy(flipflop_gru):
    net, params, states = flipflop_gru
    q = rotation_and_permutation(64, 3).float()
    step_a = net.cell.bind(params)
    cands = rs.dynamics.sample_candidates(states, 512, noise=0.0, seed=2)
    sigs = []
    for step, c, w in (
        (step_a, cands, params["W_out"][0]),
        (RotatedStep(step_a, q), cands @ q.T, q @ params["W_out"][0]),
    ):
        # no box bound: |h| ≤ 1 is not rotation invariant
        fps = rs.find_fixed_points(step, c[None], torch.zeros(3), state_bound=None)
        graph = rs.dynamics.unstable_manifold_graph(step, fps)
        sigs.append(flipflop_signature(fps, graph, (w, params["b_out"][0])))
    assert sigs[0].n_stable == 8 and len({tuple(r) for r in sigs[0].attractors.tolist()}) == 8
    total, parts = topology_distance(*sigs, return_parts=True)
    assert total == 0.0, parts


def test_structure_distance_methods():
    cube = nx.hypercube_graph(3)
    cut = cube.copy()
    cut.remove_edge(*next(iter(cut.edges)))
    assert rs.compare.structure_distance(cube, cut, method="ged") == pytest.approx(1 / 31)
    assert (
        0
        < rs.compare.structure_distance(cube, cut)
        < rs.compare.structure_distance(cube, nx.cycle_graph(4))
    )
    # a self-loop (both branches of a saddle reach one attractor) is structure too
    looped = nx.relabel_nodes(cube, {n: i for i, n in enumerate(cube)})
    looped.add_edge(0, 0)
    assert rs.compare.structure_distance(cube, looped) > 0
    with pytest.raises(ValueError, match="unknown method"):
        rs.compare.structure_distance(cube, cut, method="wl")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_signatures_of_results_on_the_gpu(flipflops):
    from dataclasses import fields, replace

    def to_cuda(obj):
        moved = {}
        for f in fields(obj):
            value = getattr(obj, f.name)
            if f.init and torch.is_tensor(value):
                moved[f.name] = value.cuda()
            elif f.init and hasattr(value, "__dataclass_fields__"):
                moved[f.name] = to_cuda(value)
        return replace(obj, **moved)

    (fps, graph, sig), _, _ = flipflops
    w, b = Bistable().readout()
    on_gpu = flipflop_signature(to_cuda(fps), graph, (w.cuda(), b.cuda()))
    assert topology_distance(sig, on_gpu) == 0.0
    lin = rs.compare.linear_dynamics_signature(to_cuda(fps))
    assert np.allclose(lin.spectrum, rs.compare.linear_dynamics_signature(fps).spectrum)


def test_a_network_without_stable_points_has_a_scaffold_too():
    """A vanilla network can hold its memories on period-2 orbits: no attractor to label."""
    import networkx as nx

    from rnnscope.dynamics import Linearization
    from rnnscope.dynamics._result import FixedPoints

    points = torch.zeros(1, 3, dtype=torch.float64)
    eig = torch.tensor([[1.5, 0.5, 0.2]], dtype=torch.complex128)
    lin = Linearization(points, torch.zeros(1, 2), torch.zeros(1, 3, 3), torch.zeros(1, 3, 2), eig)
    fps = FixedPoints(points, torch.zeros(1), torch.zeros(1, 2), torch.zeros(1, dtype=torch.long),
                      np.array(["fixed"]), lin)  # fmt: skip
    graph = nx.DiGraph()
    graph.add_node(0)
    sig = rs.compare.flipflop_signature(fps, graph, (np.ones((3, 2)), np.zeros(2)))
    assert sig.attractors.shape == (0, 2) and sig.n_stable == 0 and sig.n_index1 == 1
    again = rs.compare.TopologySignature.from_arrays(sig.to_arrays())
    assert rs.compare.topology_block([sig], [again])[0, 0] == 0


def test_trained_networks_of_every_architecture_share_the_cube_graph():
    """The universality claim on real networks: one 32-unit network per architecture,
    trained with the default recipe and analysed with the default scaffold search, has
    the 3-cube as its heteroclinic graph, labelled by the same corners — topology
    distance 0 between every pair (96–100% of 1,035 such networks in
    docs/universality.md; this is one seed of each)."""
    task = rs.tasks.FlipFlop(bits=3)
    archs = ["vanilla", "gru", "lstm", "ugrnn"]
    grid = rs.make_grid(architectures=archs, hidden_sizes=[32], seeds=[0])
    result = rs.train_population(task, grid, rs.TrainConfig(max_steps=3000))
    batch = task.sample(64, seed=99)
    signatures = []
    for n in range(len(archs)):
        net, params = result.network(n)
        with torch.no_grad():
            states, _ = net.run(params, batch.inputs)
        step = net.cell.bind(params)
        fps = rs.dynamics.find_scaffold(step, states[0], torch.zeros(3), seed=n)
        graph = rs.dynamics.unstable_manifold_graph(step, fps)
        sig = flipflop_signature(fps, graph, (params["W_out"][0], params["b_out"][0]))
        assert nx.is_isomorphic(sig.graph(), nx.hypercube_graph(3)), archs[n]
        signatures.append(sig)
    d = rs.compare.pairwise_topology(signatures)
    np.testing.assert_array_equal(d, np.zeros((4, 4)))
