"""Population training: learns, quarantines divergence, reproducible, group-independent."""

import itertools

import pandas as pd
import pytest
import torch

import rnnscope as rs


@pytest.fixture(scope="module")
def flipflop_population():
    """64-unit networks trained on the 3-bit flip-flop with the default recipe:
    two GRUs, and one each of the other architectures."""
    task = rs.tasks.FlipFlop(bits=3)
    grid = rs.make_grid(architectures=["gru"], hidden_sizes=[64], seeds=[0, 1])
    others = rs.make_grid(architectures=["vanilla", "lstm", "ugrnn"], hidden_sizes=[64], seeds=[0])
    grid = pd.concat([grid, others.assign(network=others["network"] + 2)], ignore_index=True)
    return rs.train_population(task, grid, rs.TrainConfig(max_steps=1500))


@pytest.fixture(scope="module")
def flipflop_grus(flipflop_population):
    result = flipflop_population
    gru = result.networks[result.networks.architecture == "gru"]
    groups = [g for g in result.groups if g.network.cell.name == "gru"]
    return rs.train.TrainResult(gru, result.history, groups, result.task, result.config)


def test_gru_population_learns_the_flipflop(flipflop_grus):
    result = flipflop_grus
    assert (result.networks["status"] == "solved").all()
    assert (result.networks["accuracy"] >= 0.99).all()
    # judged again on trials it has never seen
    task = result.task
    batch = task.sample(256, seed=12345)
    group = result.groups[0]
    with torch.no_grad():
        _, outputs = group.network.run(group.params, batch.inputs)
    assert (task.accuracy(outputs, batch) >= 0.99).all()


@pytest.mark.parametrize("arch", ["gru", "vanilla", "lstm", "ugrnn"])
def test_flipflop_memories_are_stable_fixed_points(flipflop_population, arch):
    """Free-running from each of the 8 memories keeps its readout and comes to rest."""
    (group,) = [g for g in flipflop_population.groups if g.network.cell.name == arch]
    net, params = group.network, group.params
    n = params["W_hh"].shape[0]
    corners = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=3)))
    with torch.no_grad():
        states, _ = net.run(params, corners[:, None, :])  # one pulse step per corner
        h = states[:, :, -1]
        zero = torch.zeros(8, 3)
        for _ in range(2000):
            h = net.cell.step(params, h, zero)
        speed = (net.cell.step(params, h, zero) - h).norm(dim=-1)
        outputs = net.readout(params, h)
    assert outputs.shape == (n, 8, 3)
    assert (torch.sign(outputs) == corners).all()
    assert speed.max() < 1e-4


def test_history_and_summary(flipflop_grus):
    result = flipflop_grus
    hist = result.history
    assert set(hist.columns) == {"network", "step", "loss", "accuracy"}
    first = hist.groupby("network")["loss"].first()
    last = hist.groupby("network")["loss"].last()
    assert (last < first).all()
    summary = result.summary()
    assert summary.loc[0, "networks"] == 2 and summary.loc[0, "solved"] == 2
    _, params = result.network(1)
    assert params["W_hh"].shape == (1, 64, 192)
    with pytest.raises(KeyError, match="no network with id 7"):
        result.network(7)


def small_config(**kw):
    base = dict(max_steps=20, batch_size=16, eval_every=10, eval_batch_size=32, state_noise=0.1)
    base.update(kw)
    return rs.TrainConfig(**base)


def test_huge_learning_rate_diverges_and_is_quarantined():
    task = rs.tasks.FlipFlop(bits=2, steps=20)
    grid = rs.make_grid(
        architectures=["vanilla"],
        activations=["relu"],
        hidden_sizes=[16],
        learning_rates=[1e-2, 1e4],
        seeds=[0],
    )
    result = rs.train_population(task, grid, small_config(stop_on_success=False))
    table = result.networks.set_index("learning_rate")
    assert table.loc[1e4, "status"] == "diverged"
    assert table.loc[1e4, "steps"] < 20
    assert table.loc[1e-2, "status"] != "diverged" and table.loc[1e-2, "steps"] == 20
    params = result.groups[0].params
    assert all(torch.isfinite(v).all() for v in params.values())  # last finite parameters kept
    # the healthy network trained exactly as it would have alone
    alone = rs.train_population(task, grid.iloc[:1], small_config(stop_on_success=False))
    for key, value in alone.groups[0].params.items():
        torch.testing.assert_close(params[key][:1], value, rtol=0, atol=1e-5)


def test_same_seed_gives_identical_results():
    task = rs.tasks.ContextIntegration(steps=15)
    grid = rs.make_grid(architectures=["lstm", "ugrnn"], hidden_sizes=[8], seeds=[3, 4])
    a = rs.train_population(task, grid, small_config())
    b = rs.train_population(task, grid, small_config())
    for ga, gb in zip(a.groups, b.groups, strict=True):
        assert ga.ids == gb.ids
        for key in ga.params:
            assert torch.equal(ga.params[key], gb.params[key])
    cols = ["network", "status", "steps", "loss", "accuracy"]
    assert a.networks[cols].equals(b.networks[cols])
    c = rs.train_population(task, grid.assign(seed=[5, 6, 7, 8]), small_config())
    assert not torch.equal(a.groups[0].params["W_hh"], c.groups[0].params["W_hh"])


def test_network_trains_the_same_in_any_group():
    """Init, noise and data do not depend on group-mates (only float rounding may)."""
    task = rs.tasks.SineWave(steps=20)
    grid = rs.make_grid(
        architectures=["gru"], hidden_sizes=[8], learning_rates=[1e-3, 3e-3], seeds=[0, 1]
    )
    group = rs.train_population(task, grid, small_config(stop_on_success=False))
    one = rs.train_population(task, grid.iloc[[2]], small_config(stop_on_success=False))
    i = group.groups[0].ids.index(2)
    for key, value in one.groups[0].params.items():
        torch.testing.assert_close(group.groups[0].params[key][i : i + 1], value, rtol=0, atol=1e-5)


def test_solved_networks_stop_and_others_continue():
    task = rs.tasks.FlipFlop(bits=1, steps=20, pulse_prob=0.1)
    grid = rs.make_grid(
        architectures=["gru"], hidden_sizes=[16], learning_rates=[3e-2, 1e-5], seeds=[0]
    )
    result = rs.train_population(
        task, grid, small_config(max_steps=300, eval_every=10, batch_size=32)
    )
    table = result.networks.set_index("learning_rate")
    assert table.loc[3e-2, "status"] == "solved" and table.loc[3e-2, "steps"] < 300
    assert table.loc[1e-5, "status"] == "unsolved" and table.loc[1e-5, "steps"] == 300


def test_reset_before_gru_trains_through_autograd():
    task = rs.tasks.FlipFlop(bits=2, steps=20)
    grid = rs.make_grid(architectures=["gru"], hidden_sizes=[8], seeds=[0])
    cfg = small_config(cell_options={"gru": {"reset": "before"}}, stop_on_success=False)
    result = rs.train_population(task, grid, cfg)
    assert result.groups[0].network.cell.reset == "before"
    hist = result.history
    assert hist["loss"].iloc[-1] < hist["loss"].iloc[0]


def test_progress_callback_is_called():
    calls = []
    task = rs.tasks.FlipFlop(bits=1, steps=10)
    grid = rs.make_grid(architectures=["vanilla"], hidden_sizes=[4], seeds=[0])
    rs.train_population(task, grid, small_config(max_steps=5), progress=lambda *a: calls.append(a))
    assert calls and calls[-1] == ("vanilla-4-tanh", 5, 5)
    calls.clear()
    rs.train_population(
        task, grid, small_config(max_steps=5000, eval_every=1), progress=lambda *a: calls.append(a)
    )
    assert calls[-1][1] == calls[-1][2] < 5000  # stopped early: the bar ends where it stopped


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_steps": 0}, "max_steps must be a positive integer"),
        ({"batch_size": 2.5}, "batch_size must be a positive integer"),
        ({"state_noise": -0.1}, "state_noise must be >= 0"),
        ({"grad_clip": -1}, "grad_clip must be >= 0"),
        ({"betas": (0.9, 1.0)}, "betas must be two numbers"),
    ],
)
def test_bad_config_is_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rs.TrainConfig(**kwargs)


def test_bad_arguments_are_named():
    grid = rs.make_grid()
    with pytest.raises(TypeError, match="task must be an rnnscope Task"):
        rs.train_population("flipflop", grid)
    with pytest.raises(ValueError, match="the grid is empty"):
        rs.train_population(rs.tasks.FlipFlop(), grid.iloc[:0])
