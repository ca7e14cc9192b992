"""find_fixed_points against systems whose fixed points are known."""

import itertools
import math

import numpy as np
import pytest
import torch

import rnnscope as rs
from rnnscope.dynamics import find_fixed_points, linearize


def cubic_map(a=0.5, scale=1.0):
    """h ← h + a (h − h³), separable: fixed points at {−1, 0, 1}^d (times ``scale``)."""

    def step(h, x):
        u = h / scale
        return scale * (u + a * (u - u**3))

    step.input_size = 1
    return step


@pytest.mark.parametrize("dim", [2, 3])
def test_separable_cubic_map_has_all_3_to_the_d_points(dim):
    torch.manual_seed(dim)
    candidates = torch.rand(600, dim, dtype=torch.float64) * 3 - 1.5
    fps = find_fixed_points(cubic_map(), candidates, outliers=None)
    assert len(fps) == 3**dim
    assert (fps.kind == "fixed").all() and (fps.q < 1e-25).all()
    want = torch.tensor(list(itertools.product([-1.0, 0.0, 1.0], repeat=dim)), dtype=torch.float64)
    # each true point found exactly once, to round-off
    dist = torch.cdist(want, fps.points)
    assert (dist.min(dim=1).values < 1e-12).all()
    zeros = (fps.points.abs() < 1e-6).sum(-1)
    assert torch.equal(fps.n_unstable, zeros)  # unstable directions = zero coordinates
    assert torch.equal(fps.is_stable, zeros == 0)
    assert int(fps.is_stable.sum()) == 2**dim
    # eigenvalues: 1 − 2a at ±1, 1 + a at 0
    mags = fps.eigenvalues.abs().sort(dim=-1).values
    for row, z in zip(mags, zeros.tolist(), strict=True):
        expect = sorted([0.0] * (dim - z) + [1.5] * z)
        torch.testing.assert_close(
            row, torch.tensor(expect, dtype=torch.float64), atol=1e-10, rtol=0
        )
    frame = fps.to_dataframe()
    assert list(frame.columns)[:4] == ["network", "kind", "q", "speed"]


def test_deduplication_scales_with_the_system():
    torch.manual_seed(0)
    candidates = torch.rand(400, 2, dtype=torch.float64) * 3 - 1.5
    small = find_fixed_points(cubic_map(), candidates, outliers=None)
    big = find_fixed_points(cubic_map(scale=1000.0), candidates * 1000, outliers=None)
    assert len(small) == len(big) == 9
    order_s = np.lexsort(small.points.numpy().round(6).T)
    order_b = np.lexsort((big.points.numpy() / 1000).round(6).T)
    torch.testing.assert_close(big.points[order_b] / 1000, small.points[order_s], atol=1e-9, rtol=0)


def test_hopfield_network_recovers_planted_patterns():
    gen = torch.Generator().manual_seed(3)
    size, n_patterns, beta = 60, 3, 2.0
    patterns = torch.randint(0, 2, (n_patterns, size), generator=gen).double() * 2 - 1
    weights = patterns.T @ patterns / size
    weights.fill_diagonal_(0)

    def step(h, x):
        return torch.tanh(beta * h @ weights)

    step.input_size = 1
    candidates = torch.cat(
        [
            patterns + 0.3 * torch.randn(n_patterns, size, generator=gen, dtype=torch.float64)
            for _ in range(20)
        ]
    )
    candidates = torch.cat(
        [candidates, -candidates, 0.5 * torch.randn(60, size, generator=gen, dtype=torch.float64)]
    )
    fps = find_fixed_points(step, candidates)
    stable = fps.points[fps.is_stable]
    cos = torch.nn.functional.cosine_similarity(stable[:, None], patterns[None], dim=-1)
    assert (cos.max(dim=0).values > 0.99).all()  # every pattern is a stable point
    assert (cos.min(dim=0).values < -0.99).all()  # and so is its mirror image


def test_linear_map_with_unit_eigenvalue_gives_a_line_attractor():
    q, _ = torch.linalg.qr(
        torch.randn(4, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    )
    a = q @ torch.diag(torch.tensor([1.0, 0.5, 0.3, -0.2], dtype=torch.float64)) @ q.T

    def step(h, x):
        return h @ a.T

    step.input_size = 1
    candidates = torch.randn(
        300, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64
    )
    fps = find_fixed_points(step, candidates, outliers=None)
    assert len(fps) > 20  # many distinct points along the line
    line = rs.dynamics.fit_line_attractor(fps.points, eigenvalues=fps.eigenvalues, readout=q[:, 0])
    assert line.dimension == 1
    assert abs(float(line.direction @ q[:, 0].numpy())) > 0.9999
    assert (line.n_near_one == 1).all()
    assert line.readout_alignment[0] > 0.9999 and line.p_value[0] == 0.0
    assert line.null_alignment[0] < 0.6
    # a readout orthogonal to the line is not aligned with it
    other = rs.dynamics.fit_line_attractor(fps.points, readout=q[:, 1])
    assert other.readout_alignment[0] < 1e-6


def test_slow_point_is_kept_and_labelled():
    delta = 1e-5

    def step(h, x):  # F(h) − h = h² + δ > 0: no fixed point, a slow point at 0
        return h + h**2 + delta

    step.input_size = 1
    candidates = torch.linspace(-0.5, 0.5, 21, dtype=torch.float64)[:, None]
    fps = find_fixed_points(step, candidates, tol_q=1e-14, tol_slow=1e-8, outliers=None)
    assert len(fps) == 1 and fps.kind[0] == "slow"
    assert abs(float(fps.points[0, 0])) < 1e-6
    assert float(fps.q[0]) == pytest.approx(0.5 * delta**2, rel=1e-3)


def test_outlier_policies():
    def step(h, x):  # fixed points at 0 (unstable) and 50 (stable)
        return h - 0.1 * h * (h - 50) / 50

    step.input_size = 1
    gen = torch.Generator().manual_seed(0)
    candidates = torch.cat(
        [
            0.5 * torch.randn(200, 1, generator=gen, dtype=torch.float64),
            torch.tensor([[49.0]], dtype=torch.float64),
        ]
    )
    kept = find_fixed_points(step, candidates, outliers=None)
    assert sorted(kept.points[:, 0].round().tolist()) == [0.0, 50.0]
    centroid = find_fixed_points(step, candidates)  # default policy
    assert centroid.points[:, 0].round().tolist() == [0.0] and centroid.rejected["outliers"] == 1
    nearest = find_fixed_points(step, candidates, outliers="nearest", outlier_distance=100.0)
    assert len(nearest) == 2


def test_population_call_equals_per_network_calls(flipflop_gru):
    net, params, states = flipflop_gru
    pop = {k: torch.cat([v, v.flip(-1) if k == "b_out" else v]) for k, v in params.items()}
    # network 1: the same GRU with permuted units (a relabelled copy)
    perm = torch.randperm(64, generator=torch.Generator().manual_seed(0))
    for key in ("W_ih", "W_hh", "b", "b_hh"):
        block = pop[key][1].reshape(*pop[key][1].shape[:-1], 3, 64)[..., perm]
        pop[key][1] = block.reshape(pop[key][1].shape)
    pop["W_hh"][1] = pop["W_hh"][1][perm]
    cands0 = rs.dynamics.sample_candidates(states, 256, noise=0.1, seed=1)
    cands = torch.stack([cands0, cands0[:, perm]])
    both = find_fixed_points(net.cell.bind(pop), cands, torch.zeros(3))
    one = find_fixed_points(net.cell.bind(params), cands0, torch.zeros(3))
    for b in (0, 1):
        mine = both.for_network(b)
        assert len(mine) == len(one)
        assert int(mine.is_stable.sum()) == int(one.is_stable.sum())
        pts = mine.points if b == 0 else mine.points[:, torch.argsort(perm)]
        assert torch.cdist(one.points, pts).min(dim=1).values.max() < 1e-6


def test_trained_flipflop_gru_has_eight_corner_attractors(flipflop_gru):
    net, params, states = flipflop_gru
    candidates = rs.dynamics.sample_candidates(states, 1024, noise=0.5, seed=0)
    fps = find_fixed_points(net.cell.bind(params), candidates, torch.zeros(3))
    assert fps.rejected["outside"] > 0  # noisy candidates left |h| ≤ 1 and were not reported
    assert (fps.points.abs() <= 1).all()
    stable = fps.select(fps.is_stable)
    assert len(stable) == 8
    readouts = net.readout(params, stable.points.float()[None])[0]
    corners = {tuple(torch.sign(r).int().tolist()) for r in readouts}
    assert corners == set(itertools.product([-1, 1], repeat=3))
    assert (stable.q < 1e-25).all()  # polished to round-off in float64
    assert int((fps.n_unstable == 1).sum()) >= 12  # the cube's edges

    graph = rs.dynamics.unstable_manifold_graph(net.cell.bind(params), fps)
    sign = {
        i: torch.sign(net.readout(params, fps.points[i].float()[None, None])[0, 0]) for i in graph
    }
    edges_saddles = [i for i in graph if graph.nodes[i]["n_unstable"] == 1]
    assert len(edges_saddles) >= 12
    for i in edges_saddles:
        ends = list(graph.successors(i))
        assert len(ends) == 2  # one stable point each way along the unstable direction
        a, b = ends
        assert int((sign[a] != sign[b]).sum()) == 1  # neighbouring corners of the cube

    pulses = {
        f"{'+' if s > 0 else '-'}{k}": s * torch.eye(3)[k] for k in range(3) for s in (1.0, -1.0)
    }
    moves = rs.dynamics.input_transition_graph(net.cell.bind(params), fps, pulses)
    assert not moves.graph["unresolved"]
    for i, j, data in moves.edges(data=True):
        for name in data["pulses"]:
            k, s = int(name[1]), 1 if name[0] == "+" else -1
            want = sign[i].clone()
            want[k] = s
            assert torch.equal(sign[j], want)


def test_linearize_decomposition_and_time_constants():
    gen = torch.Generator().manual_seed(0)
    cell = rs.cells.VanillaRNN(6, 2)
    params = cell.init(1, seed=3, dtype=torch.float64)
    h = 0.3 * torch.randn(1, 5, 6, generator=gen, dtype=torch.float64)
    lin = linearize(cell.bind(params), h, torch.zeros(2, dtype=torch.float64))
    eager = lin.eigenvalues.clone()  # computed without eigenvectors
    j = lin.jacobian.to(torch.complex128)
    rebuilt = lin.right_eigenvectors @ torch.diag_embed(lin.eigenvalues) @ lin.left_eigenvectors
    torch.testing.assert_close(rebuilt, j, atol=1e-10, rtol=0)
    torch.testing.assert_close(lin.eigenvalues, eager, atol=1e-12, rtol=0)  # same order and values
    eye = torch.eye(6, dtype=torch.complex128).expand_as(j)
    torch.testing.assert_close(
        lin.left_eigenvectors @ lin.right_eigenvectors, eye, atol=1e-10, rtol=0
    )
    mags = lin.eigenvalues.abs()
    assert (mags[..., :-1] >= mags[..., 1:]).all()  # sorted, largest first
    torch.testing.assert_close(lin.time_constants, 1 / mags.log().abs())
    torch.testing.assert_close(lin.rotation, lin.eigenvalues.angle())
    with pytest.raises(ValueError, match="discrete map"):
        _ = lin.flow_eigenvalues
    # an input k steps back, mode by mode: summed over modes it is J^k J_inp x
    x = torch.tensor([0.7, -0.2], dtype=torch.float64)
    modes = lin.mode_contribution(3, x)  # [5, 6 modes, 6]
    want = torch.linalg.matrix_power(lin.jacobian, 3) @ (lin.input_jacobian @ x)[..., None]
    torch.testing.assert_close(modes.sum(dim=-2), want[..., 0], atol=1e-10, rtol=0)


def test_ctrnn_continuous_time_reading():
    cell = rs.cells.CTRNN(5, 2, dt=10, tau=100)
    params = cell.init(1, seed=0, dtype=torch.float64)
    h = 0.2 * torch.randn(1, 3, 5, dtype=torch.float64)
    lin = linearize(cell.bind(params), h, torch.zeros(2, dtype=torch.float64))
    assert lin.continuous_time == (10.0, 0.1)
    # flow: tau dh/dt = -h + tanh(h W + b); its Jacobian / tau has eigenvalues (λ − 1) / dt
    a = h @ params["W_hh"][0] + params["b"][0]
    flow_jac = (
        -torch.eye(5, dtype=torch.float64)
        + (1 - torch.tanh(a) ** 2)[0, :, :, None] * params["W_hh"][0].T
    ) / 100
    want = torch.linalg.eigvals(flow_jac)
    got = lin.flow_eigenvalues[0]
    torch.testing.assert_close(lin.flow_time_constants, -1.0 / lin.flow_eigenvalues.real)
    for w in want[0]:
        assert (got - w).abs().min() < 1e-12


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"tol_q": 0}, "tol_q must be positive"),
        ({"tol_unique": -1.0}, "tol_unique must be positive"),
        ({"tol_slow": 1e-20}, "tol_slow .* must be >= tol_q"),
        ({"outliers": "median"}, "unknown outlier policy 'median'"),
        ({"max_iters": -1}, "max_iters must be a non-negative integer"),
    ],
)
def test_bad_options_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        find_fixed_points(cubic_map(), torch.rand(10, 2), **kwargs)


def test_bad_inputs_are_named():
    cell = rs.cells.GRU(4, 2)
    step = cell.bind(cell.init(1, 0))
    with pytest.raises(
        ValueError, match="initial_states have width 5 but the step's states have 4"
    ):
        find_fixed_points(step, torch.zeros(1, 3, 5))
    with pytest.raises(ValueError, match="initial_states is empty"):
        find_fixed_points(step, torch.zeros(1, 0, 4))
    with pytest.raises(ValueError, match="must be \\[K, S\\] or \\[N, K, S\\]"):
        find_fixed_points(step, torch.zeros(4))
    with pytest.raises(ValueError, match="inputs have width 3 but the step takes 2"):
        find_fixed_points(step, torch.zeros(1, 3, 4), torch.zeros(3))
    with pytest.raises(ValueError, match="contain NaN or inf"):
        find_fixed_points(step, torch.full((1, 3, 4), math.nan))

    def shrinks(h, x):
        return h[..., :1]

    with pytest.raises(ValueError, match=r"must map h .* to a new state of the same shape"):
        find_fixed_points(shrinks, torch.zeros(3, 4), torch.zeros(1))

    def broken(h, x):
        return h * math.nan

    with pytest.raises(ValueError, match="returned NaN/inf at every candidate"):
        find_fixed_points(broken, torch.zeros(3, 4), torch.zeros(1))


def test_candidates_that_blow_up_are_reported_failed():
    def step(h, x):  # fixed point at 1; NaN beyond |h| > 5
        out = h + 0.5 * (1 - h)
        return torch.where(h.abs() > 5, torch.full_like(h, math.nan), out)

    step.input_size = 1
    candidates = torch.tensor([[0.0], [2.0], [10.0], [-20.0]], dtype=torch.float64)
    fps = find_fixed_points(step, candidates, outliers=None)
    assert len(fps) == 1 and abs(float(fps.points[0, 0]) - 1) < 1e-12
    assert fps.rejected["failed"] == 2


def test_sample_candidates():
    states = torch.arange(2 * 3 * 4 * 5, dtype=torch.float64).reshape(2, 3, 4, 5)
    c = rs.dynamics.sample_candidates(states, 7, seed=1)
    assert c.shape == (2, 7, 5)
    for n in range(2):  # every draw is a visited state of its own network
        visited = states[n].reshape(-1, 5)
        assert (torch.cdist(c[n], visited).min(dim=1).values == 0).all()
    noisy = rs.dynamics.sample_candidates(states[0], 2000, noise=0.5, seed=1)
    clean = rs.dynamics.sample_candidates(states[0], 2000, seed=1)
    assert abs(float((noisy - clean).std()) - 0.5) < 0.02
    mask = torch.zeros(3, 4, dtype=torch.bool)
    mask[:, -1] = True
    last = rs.dynamics.sample_candidates(states[0], 10, mask=mask)
    assert set(last[:, 0].tolist()) <= set(states[0, :, -1, 0].tolist())
    with pytest.raises(ValueError, match="n must be a positive integer"):
        rs.dynamics.sample_candidates(states, 0)


def test_ring_of_fixed_points_is_a_ring_attractor():
    a = 0.3

    def step(h, x):  # radial flow to |h| = 1, no tangential motion: a ring of fixed points
        return h + a * h * (1 - h.pow(2).sum(-1, keepdim=True))

    step.input_size = 1
    gen = torch.Generator().manual_seed(0)
    candidates = torch.randn(400, 2, generator=gen, dtype=torch.float64)
    fps = find_fixed_points(step, candidates, outliers=None)
    ring = fps.select(fps.points.norm(dim=-1) > 0.5)
    assert len(ring) > 50 and torch.allclose(
        ring.points.norm(dim=-1), torch.ones(len(ring), dtype=torch.float64)
    )
    shape = rs.dynamics.fit_line_attractor(ring.points, eigenvalues=ring.eigenvalues)
    assert shape.dimension == 2 and shape.is_ring
    assert (shape.n_near_one == 1).all()  # neutral along the ring, attracting across it
    angles = torch.atan2(ring.points[:, 1], ring.points[:, 0])
    coord = torch.as_tensor(shape.coordinate)
    spreads = []
    for mirrored in (coord, -coord):  # principal axes may come mirrored
        diff = torch.remainder(mirrored - angles + math.pi, 2 * math.pi) - math.pi
        diff = torch.remainder(diff - diff[0] + math.pi, 2 * math.pi) - math.pi
        spreads.append(float(diff.abs().max()))
    assert min(spreads) < 1e-6  # the ring coordinate is the angle, up to rotation and reflection
    origin = fps.select(fps.points.norm(dim=-1) < 1e-9)
    assert len(origin) == 1 and int(origin.n_unstable[0]) == 2


def test_progress_bar_runs(capsys):
    candidates = torch.rand(50, 2, dtype=torch.float64) * 3 - 1.5
    fps = find_fixed_points(cubic_map(), candidates, progress=True)
    assert len(fps) == 9
    assert "fixed points" in capsys.readouterr().err
