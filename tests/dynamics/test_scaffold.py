"""The whole scaffold, certified, on any model: analytic ground truth and trained
flip-flop networks of every architecture."""

import itertools

import numpy as np
import pytest
import torch
from torch import nn

import rnnscope as rs
from rnnscope.dynamics import (
    BetweenAttractors,
    Certify,
    Newton,
    find_fixed_points,
    find_periodic_orbits,
    find_scaffold,
    memory_structure,
)

CORNERS = set(itertools.product([-1, 1], repeat=3))


def g(h, a=0.3):
    """The separable cubic map: fixed points {−1, 0, 1}^d, g'(±1) = 1 − 2a, g'(0) = 1 + a."""
    return h + a * (h - h**3)


# ----------------------------------------------------------------- autonomous maps
@pytest.mark.parametrize("form", ["one_argument", "inputs_none"])
def test_autonomous_cubic_map_has_all_3_to_the_d_points(form):
    dim = 3
    step = (lambda h: g(h, 0.5)) if form == "one_argument" else (lambda h, x: g(h, 0.5))
    candidates = torch.rand(500, dim, dtype=torch.float64) * 3 - 1.5
    fps = find_fixed_points(step, candidates, inputs=None, outliers=None)
    want = torch.tensor(list(itertools.product([-1.0, 0.0, 1.0], repeat=dim)), dtype=torch.float64)
    assert len(fps) == 3**dim
    assert torch.cdist(want, fps.points).min(dim=1).values.max() < 1e-12
    assert (fps.kind == "fixed").all()
    assert fps.inputs.shape == (27, 0) and fps.input_jacobians.shape == (27, dim, 0)
    assert torch.equal(fps.n_unstable, (fps.points.abs() < 0.5).sum(-1))


# ----------------------------------------------------------------- saddles
def double_well(h, x=None, eta=0.2):
    """Gradient step on V = (u² − 1)²/4 + v²/2: minima (±1, 0), index-1 saddle at 0."""
    u, v = h[..., :1], h[..., 1:]
    return torch.cat([u - eta * (u**3 - u), v - eta * v], dim=-1)


def test_double_well_saddle_comes_from_the_seeds_between_the_attractors():
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)
    # candidates only near the two minima: none in the saddle's Newton basin
    candidates = centres.repeat(50, 1) + 0.1 * torch.randn(100, 2, generator=gen).double()
    fps = find_fixed_points(double_well, candidates, outliers=None)
    assert len(fps) == 3
    saddle = fps.select(fps.n_unstable == 1)
    assert len(saddle) == 1 and float(saddle.points.abs().max()) < 1e-14
    assert saddle.kind[0] == "fixed"
    torch.testing.assert_close(
        saddle.eigenvalues[0].abs(), torch.tensor([1.2, 0.8], dtype=torch.float64)
    )
    graph = rs.dynamics.unstable_manifold_graph(double_well, fps)  # autonomous: no inputs
    (i,) = (fps.n_unstable == 1).nonzero().flatten().tolist()
    ends = sorted(float(fps.points[j, 0]) for j in graph.successors(i))
    assert ends == pytest.approx([-1.0, 1.0])
    lin = rs.linearize(lambda h: double_well(h), fps.points)
    torch.testing.assert_close(lin.jacobian, fps.jacobians)
    # without the seeds the local search from these candidates misses it
    local = find_fixed_points(double_well, candidates, outliers=None, saddles=None)
    assert len(local) == 2 and int(local.is_stable.sum()) == 2


def test_find_scaffold_from_trajectories_of_the_double_well():
    gen = torch.Generator().manual_seed(1)
    h = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64).repeat(8, 1)
    h = h + 0.3 * torch.randn(16, 2, generator=gen, dtype=torch.float64)
    states = []
    for _ in range(30):
        h = double_well(h)
        states.append(h)
    states = torch.stack(states, dim=1)  # [16, 30, 2]: trials that settle in a well
    fps = find_scaffold(double_well, states, n_candidates=64)
    assert sorted(fps.n_unstable.tolist()) == [0, 0, 1]
    assert fps.info["region"] == "trust_region"


def test_quadratic_convergence_is_measured_by_the_certificate():
    candidates = torch.tensor([[0.9, 0.05], [-1.1, -0.05]], dtype=torch.float64)
    fps = find_fixed_points(
        double_well, candidates, outliers=None, saddles=None, solver=Newton(tol=1e-4)
    )
    frame = fps.to_dataframe()
    assert frame["certified"].all()
    orders = frame["convergence_order"].dropna()
    assert len(orders) >= 1 and (orders > 1.8).all()  # Newton's quadratic rate
    assert (frame["residual"] <= frame["residual_floor"]).all()


# ----------------------------------------------------------------- certification
def flat_far_away(h, x=None):
    """Fixed points {−1, 0, 1}², and F ≈ identity in every direction far out:
    ``G = (h − h³) exp(−‖h‖²)`` (q reaches float64 round-off there)."""
    return h + 0.5 * (h - h**3) * torch.exp(-h.pow(2).sum(-1, keepdim=True))


def test_only_the_true_points_certify_next_to_a_flat_region():
    gen = torch.Generator().manual_seed(0)
    candidates = torch.rand(800, 2, generator=gen, dtype=torch.float64) * 10 - 5
    fps = find_fixed_points(flat_far_away, candidates, outliers=None, trust_region=None)
    want = torch.tensor(list(itertools.product([-1.0, 0.0, 1.0], repeat=2)), dtype=torch.float64)
    assert len(fps) == 9 and (fps.kind == "fixed").all()
    assert torch.cdist(want, fps.points).min(dim=1).values.max() < 1e-12
    assert fps.rejected["flat"] > 0
    # the flatness test is what keeps them out: switched off, far points pass as "fixed"
    unchecked = find_fixed_points(
        flat_far_away, candidates, outliers=None, trust_region=None,
        certify=Certify(flat_tol=1e-300),
    )  # fmt: skip
    far = unchecked.points.abs().amax(-1) > 3
    assert int(far.sum()) > 0 and (unchecked.kind[far.numpy()] == "fixed").all()
    # the default trust region (the candidates' box, widened) rejects none of the true ones
    default = find_fixed_points(flat_far_away, candidates * 0.3, outliers=None)
    assert len(default) == 9 and default.info["region"] == "trust_region"


def test_trust_region_from_visited_states_rejects_unvisited_points():
    gen = torch.Generator().manual_seed(0)
    visited = torch.rand(200, 2, generator=gen, dtype=torch.float64) * 3 - 1.5
    wide = torch.rand(600, 2, generator=gen, dtype=torch.float64) * 8 - 4
    fps = find_fixed_points(flat_far_away, wide, outliers=None, trust_region=visited)
    assert len(fps) == 9 and fps.points.abs().max() <= 1 + 1e-12
    assert fps.rejected["outside"] > 0


def test_line_attractor_certifies():
    q, _ = torch.linalg.qr(torch.randn(4, 4, generator=torch.Generator().manual_seed(1)).double())
    a = q @ torch.diag(torch.tensor([1.0, 0.5, 0.3, -0.2], dtype=torch.float64)) @ q.T
    candidates = torch.randn(200, 4, generator=torch.Generator().manual_seed(2)).double()
    fps = find_fixed_points(lambda h: h @ a.T, candidates, outliers=None)
    frame = fps.to_dataframe()
    assert len(fps) > 20 and (fps.kind == "fixed").all() and frame["certified"].all()
    assert (frame["sigma_min"] < 1e-10).all() and (frame["sigma_max"] > 0.5).all()
    line = rs.dynamics.fit_line_attractor(fps.points, eigenvalues=fps.eigenvalues)
    assert line.dimension == 1


def test_certificate_columns_are_in_the_dataframe():
    fps = find_fixed_points(lambda h: g(h), torch.rand(50, 2, dtype=torch.float64) * 3 - 1.5)
    frame = fps.to_dataframe()
    for name in rs.dynamics._select.CERTIFICATE_COLUMNS:
        assert name in frame
    assert frame["certified"].dtype == bool and frame["certified"].all()
    sub = fps.select(fps.is_stable)
    assert len(sub.to_dataframe()) == int(fps.is_stable.sum())


def test_missing_linearization_names_the_real_option():
    fps = find_fixed_points(lambda h: g(h), torch.rand(20, 2).double(), linearize_points=False)
    with pytest.raises(ValueError, match="linearize_points=True"):
        _ = fps.eigenvalues


# ----------------------------------------------------------------- periodic orbits
def test_period_two_orbits_once_each_with_exact_multipliers():
    def flip(h):  # −g: F(±1) = ∓1, F(0) = 0; so F² has g's points, F's only at 0
        return -g(h)

    candidates = torch.rand(400, 2, generator=torch.Generator().manual_seed(0)).double() * 3 - 1.5
    found = find_periodic_orbits(flip, candidates, period=2, trust_region=None)
    inner = found.orbits.abs().amax((-1, -2)) < 1.5
    orbits = [found.orbits[i] for i in inner.nonzero().flatten()]
    assert len(orbits) == 4  # {(±1,±1)}, {(±1,∓1)}, {(±1,0)}, {(0,±1)}: each once
    assert found.rejected["lower_period"] >= 1  # the fixed point at 0
    for i in inner.nonzero().flatten().tolist():
        orbit = found.orbits[i]
        torch.testing.assert_close(flip(orbit[0]), orbit[1], atol=1e-12, rtol=0)
        torch.testing.assert_close(flip(orbit[1]), orbit[0], atol=1e-12, rtol=0)
        # multipliers: (1 − 2a)² per ±1 coordinate, (1 + a)² per 0 coordinate
        zeros = int((orbit[0].abs() < 0.5).sum())
        want = sorted([1.69] * zeros + [0.16] * (2 - zeros), reverse=True)
        got = found.multipliers[i].abs()
        torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64), atol=1e-10, rtol=0)
        assert bool(found.is_stable[i]) == (zeros == 0)
    assert (found.kind == "fixed").all()


def test_period_three_orbits_of_a_cyclic_map():
    def cyc(h):  # F(h)_i = g(h_{i−1}): values travel round the coordinates with the
        # perturbations, so the monodromy is diag(g'(h_i)³)
        return g(h).roll(1, dims=-1)

    gen = torch.Generator().manual_seed(0)
    candidates = torch.rand(800, 3, generator=gen, dtype=torch.float64) * 2.4 - 1.2
    found = find_periodic_orbits(cyc, candidates, period=3, trust_region=None)
    inner = (found.orbits.abs().amax((-1, -2)) < 1.2).nonzero().flatten().tolist()
    assert len(inner) == 8  # the 24 non-constant points of {−1,0,1}³, 3 per orbit
    for i in inner:
        orbit = found.orbits[i]
        zeros = int((orbit[0].abs() < 0.5).sum())
        want = sorted([1.3**3] * zeros + [0.4**3] * (3 - zeros), reverse=True)
        torch.testing.assert_close(
            found.multipliers[i].abs(), torch.tensor(want, dtype=torch.float64), atol=1e-9, rtol=0
        )
        assert bool(found.is_stable[i]) == (zeros == 0)
        states = {tuple(s.round().int().tolist()) for s in orbit}
        assert len(states) == 3
    frame = found.to_dataframe()
    assert set(frame["period"]) == {3} and "certified" in frame


def test_memory_structure_of_a_map_that_remembers_on_period_two_orbits():
    def step(h):  # two coordinates settle on ±1; the third flips sign every step
        return torch.cat([g(h[..., :2]), -g(h[..., 2:])], dim=-1)

    gen = torch.Generator().manual_seed(0)
    h = torch.rand(64, 3, generator=gen, dtype=torch.float64) * 2.4 - 1.2
    trajectory = []
    for _ in range(40):
        h = step(h)
        trajectory.append(h)
    states = torch.stack(trajectory, dim=1)  # [64, 40, 3]
    readout = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], dtype=torch.float64)
    result = memory_structure(step, states, readout=readout)
    assert result.holder == "periodic_orbits" and result.period == 2
    assert result.n_stable_fixed == 0 and result.n_patterns == 4
    plain = result.as_dict()
    assert plain["orbits_period_2"] == 4 and isinstance(plain["holder"], str)
    # the cubic map itself holds them on fixed points
    fixed = memory_structure(lambda h: g(h), states, readout=readout)
    assert fixed.holder == "fixed_points" and fixed.n_patterns == 4


# ----------------------------------------------------------------- any model
def test_candidates_are_coerced_to_the_steps_dtype():
    cell = rs.cells.GRU(8, 2)
    step = cell.bind(cell.init(1, seed=0))
    as_list = torch.rand(1, 20, 8).mul(0.4).sub(0.2).double().tolist()
    fps = find_fixed_points(step, as_list, np.zeros(2))  # float64 list, float32 cell
    assert len(fps) >= 1 and fps.points.dtype == torch.float64  # polished in float64
    w = torch.randn(4, 4, generator=torch.Generator().manual_seed(0)) * 0.3

    def float32_only(h, x):
        return torch.tanh(h @ w)

    found = find_fixed_points(float32_only, torch.zeros(5, 4, dtype=torch.float64), torch.zeros(1))
    assert len(found) == 1 and found.points.dtype == torch.float32

    def never_runs(h, x):
        raise RuntimeError("expected all tensors to be on the same device")

    with pytest.raises(ValueError, match="fails on states of every float dtype"):
        find_fixed_points(never_runs, torch.zeros(3, 4), torch.zeros(1))


def test_generic_jacobians_come_from_torch_func_and_match_closed_forms(monkeypatch):
    cell = rs.cells.GRU(16, 3, reset="after")
    params = cell.init(1, seed=1, dtype=torch.float64)
    bound = cell.bind(params)
    h = 0.5 * torch.randn(1, 7, 16, dtype=torch.float64)
    x = torch.randn(1, 7, 3, dtype=torch.float64)
    want_rec, want_inp = bound.jacobians(h, x)
    calls = []
    real = torch.func.vmap

    def counting(*args, **kw):
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(torch.func, "vmap", counting)
    rec, inp = rs.dynamics.jacobians(lambda hh, xx: bound(hh, xx), h, x)
    assert len(calls) == 2  # one vmap over the state basis, one over the input basis
    torch.testing.assert_close(rec, want_rec, atol=1e-12, rtol=0)
    torch.testing.assert_close(inp, want_inp, atol=1e-12, rtol=0)


def test_torch_gru_cell_gets_its_state_bound(flipflop_networks):
    _, net, params, states = flipflop_networks["gru"]
    module, _ = rs.interop.to_torch(net, params)
    cell = nn.GRUCell(3, 64)
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in module.state_dict().items()})
    step = rs.interop.step_from_module(cell, 3, 64)
    assert step.state_bound == 1.0
    candidates = rs.dynamics.sample_candidates(states, 256, seed=0)
    own = find_fixed_points(step, candidates[0], torch.zeros(3))
    bound = find_fixed_points(net.cell.bind(params), candidates, torch.zeros(3))
    assert own.info["region"] == "state_bound"
    assert len(own) == len(bound)
    assert torch.cdist(own.points, bound.points[:, :64]).min(dim=1).values.max() < 1e-6


# ----------------------------------------------------------------- trained networks
@pytest.mark.parametrize("architecture", ["vanilla", "gru", "lstm", "ugrnn"])
def test_all_twelve_edge_saddles_with_defaults(flipflop_networks, architecture):
    status, net, params, states = flipflop_networks[architecture]
    assert status == "solved"
    step = net.cell.bind(params)
    fps = find_scaffold(step, states, torch.zeros(3), n_candidates=512)
    stable = fps.select(fps.is_stable)
    readout = net.readout(params, stable.points.float()[None])[0]
    assert {tuple(torch.sign(r).int().tolist()) for r in readout} == CORNERS
    graph = rs.dynamics.unstable_manifold_graph(step, fps)
    sign = {
        i: tuple(
            torch.sign(net.readout(params, fps.points[i].float()[None, None])[0, 0]).int().tolist()
        )
        for i in graph
    }
    edges = set()
    for i in graph:
        ends = list(graph.successors(i))
        if graph.nodes[i]["n_unstable"] == 1 and len(ends) == 2:
            a, b = sign[ends[0]], sign[ends[1]]
            if sum(u != v for u, v in zip(a, b, strict=True)) == 1:
                edges.add(frozenset([a, b]))
    assert len(edges) == 12
    frame = fps.to_dataframe()
    assert frame["certified"].all() and (fps.kind == "fixed").all()


def test_seeds_between_attractors_are_what_finds_the_edges(flipflop_networks):
    _, net, params, states = flipflop_networks["gru"]
    step = net.cell.bind(params)
    candidates = rs.dynamics.sample_candidates(states, 256, seed=0)
    local = find_fixed_points(step, candidates, torch.zeros(3), saddles=None)
    full = find_fixed_points(step, candidates, torch.zeros(3), saddles=BetweenAttractors())
    assert int((full.n_unstable == 1).sum()) >= 12 > int((local.n_unstable == 1).sum())
