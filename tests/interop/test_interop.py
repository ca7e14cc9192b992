"""torch.nn modules in and out; any module as a step function."""

import pytest
import torch
from torch import nn

import rnnscope as rs
from rnnscope.interop import from_torch, step_from_module, to_torch

MODULES = [
    lambda: nn.RNN(3, 16, batch_first=True),
    lambda: nn.RNN(3, 16, nonlinearity="relu", batch_first=True),
    lambda: nn.GRU(3, 16, batch_first=True),
    lambda: nn.LSTM(3, 16, batch_first=True),
]


@pytest.mark.parametrize("make", MODULES, ids=["rnn-tanh", "rnn-relu", "gru", "lstm"])
def test_imported_trajectories_equal_the_module_over_200_steps(make):
    torch.manual_seed(0)
    module, readout = make(), nn.Linear(16, 2)
    if isinstance(module, nn.RNN) and module.nonlinearity == "relu":
        with torch.no_grad():
            module.weight_hh_l0.mul_(0.5)  # keep a relu network bounded over 200 steps
    x = torch.randn(4, 200, 3)
    net, params = from_torch(module, readout)
    states, outputs = net.run(params, x)
    with torch.no_grad():
        want, _ = module(x)
    torch.testing.assert_close(states[0, ..., :16], want, atol=1e-5, rtol=0)
    torch.testing.assert_close(outputs[0], readout(want), atol=1e-5, rtol=0)
    # and back: rnnscope -> torch.nn gives the same module
    back, back_readout = to_torch(net, params)
    with torch.no_grad():
        again, _ = back(x)
    torch.testing.assert_close(again, want, atol=1e-5, rtol=0)
    torch.testing.assert_close(back_readout(again), readout(want), atol=1e-5, rtol=0)


@pytest.mark.parametrize("cell_type", [nn.RNNCell, nn.GRUCell, nn.LSTMCell])
def test_cells_import_too(cell_type):
    torch.manual_seed(1)
    cell = cell_type(3, 8)
    net, params = from_torch(cell)
    x = torch.randn(5, 3)
    h = torch.zeros(5, 8)
    state = (h, h.clone()) if cell_type is nn.LSTMCell else h
    with torch.no_grad():
        want = cell(x, state)
    got = net.cell.step(params, torch.zeros(1, 5, net.state_size), x)[0]
    want_h = want[0] if cell_type is nn.LSTMCell else want
    torch.testing.assert_close(got[:, :8], want_h, atol=1e-6, rtol=0)


def test_native_network_round_trips_through_torch():
    net = rs.RNN(rs.cells.GRU(12, 3), output_size=3)
    params = net.init(population=2, seed=4)
    module, readout = to_torch(net, params, index=1)
    net2, params2 = from_torch(module, readout)
    assert net2.cell.config() == net.cell.config()
    for key in params2:
        torch.testing.assert_close(params2[key][0], params[key][1])


def test_imported_gru_fixed_points_equal_the_native_ones(flipflop_gru):
    net, params, states = flipflop_gru
    module, _ = to_torch(net, params)
    imported, imported_params = from_torch(module)
    candidates = rs.dynamics.sample_candidates(states, 256, seed=3)
    native = rs.find_fixed_points(net.cell.bind(params), candidates, torch.zeros(3))
    via_import = rs.find_fixed_points(
        imported.cell.bind(imported_params), candidates, torch.zeros(3)
    )
    # the same network reached through any module wrapper: nn.GRUCell as a step function
    cell = nn.GRUCell(3, 64)
    with torch.no_grad():
        cell.weight_ih.copy_(module.weight_ih_l0)
        cell.weight_hh.copy_(module.weight_hh_l0)
        cell.bias_ih.copy_(module.bias_ih_l0)
        cell.bias_hh.copy_(module.bias_hh_l0)
    wrapped = rs.find_fixed_points(
        step_from_module(cell, 3, 64), candidates, torch.zeros(3), state_bound=1.0
    )
    for other in (via_import, wrapped):
        assert (
            len(other) == len(native)
            and int(other.is_stable.sum()) == int(native.is_stable.sum()) == 8
        )
        assert (
            torch.cdist(native.points, other.points.to(native.points.dtype)).min(dim=1).values.max()
            < 1e-6
        )


class LinearCTRNN(nn.Module):
    """A leaky linear rate network as a user would write it: h' = (1-α)h + α(W h + U x + b)."""

    def __init__(self, size=6, inputs=2, alpha=0.2, seed=0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.alpha = alpha
        self.recurrent = nn.Linear(size, size)
        self.input = nn.Linear(inputs, size, bias=False)
        with torch.no_grad():
            self.recurrent.weight.copy_(0.3 * torch.randn(size, size, generator=gen))
            self.recurrent.bias.copy_(torch.randn(size, generator=gen))
            self.input.weight.copy_(torch.randn(size, inputs, generator=gen))

    def forward(self, x, h):
        return (1 - self.alpha) * h + self.alpha * (self.recurrent(h) + self.input(x))


def test_custom_ctrnn_module_fixed_point_matches_the_analytic_one():
    module = LinearCTRNN().double()
    x = torch.tensor([0.5, -1.0], dtype=torch.float64)
    w, b, u = (
        module.recurrent.weight.detach(),
        module.recurrent.bias.detach(),
        module.input.weight.detach(),
    )
    analytic = torch.linalg.solve(
        torch.eye(6, dtype=torch.float64) - w, u @ x + b
    )  # h = W h + U x + b
    step = step_from_module(module, 2, 6)
    fps = rs.find_fixed_points(step, torch.randn(50, 6, dtype=torch.float64), x, outliers=None)
    assert len(fps) == 1
    torch.testing.assert_close(fps.points[0], analytic, atol=1e-10, rtol=0)
    # eigenvalues of the map: (1 - α) + α eig(W)
    want = torch.linalg.eigvals((1 - 0.2) * torch.eye(6, dtype=torch.float64) + 0.2 * w)
    got = fps.eigenvalues[0]
    for value in want:
        assert (got - value).abs().min() < 1e-9


def test_a_population_of_modules_runs_as_one():
    modules = [LinearCTRNN(seed=s).double() for s in range(3)]
    step = step_from_module(modules, 2, 6)
    assert step.population == 3
    x = torch.zeros(2, dtype=torch.float64)
    fps = rs.find_fixed_points(step, torch.randn(3, 20, 6, dtype=torch.float64), x, outliers=None)
    for n, module in enumerate(modules):
        w, b = module.recurrent.weight.detach(), module.recurrent.bias.detach()
        analytic = torch.linalg.solve(torch.eye(6, dtype=torch.float64) - w, b)
        mine = fps.for_network(n)
        assert len(mine) == 1
        torch.testing.assert_close(mine.points[0], analytic, atol=1e-10, rtol=0)


def test_tuple_state_modules():
    torch.manual_seed(2)
    cell = nn.LSTMCell(3, 5)
    step = step_from_module(cell, 3, (5, 5))
    net, params = from_torch(cell)
    h = torch.randn(1, 7, 10)
    x = torch.randn(7, 3)
    torch.testing.assert_close(step(h[0], x), net.cell.step(params, h, x)[0], atol=1e-6, rtol=0)


class NoState(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 4)

    def forward(self, x):
        return self.lin(x)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda: from_torch(nn.GRU(3, 4, num_layers=2)),
            ValueError,
            "num_layers=2 is not supported",
        ),
        (lambda: from_torch(nn.LSTM(3, 4, bidirectional=True)), ValueError, "bidirectional=True"),
        (lambda: from_torch(nn.LSTM(3, 4, proj_size=2)), ValueError, "proj_size=2"),
        (lambda: from_torch(nn.Linear(3, 4)), TypeError, "from_torch takes"),
        (
            lambda: step_from_module(nn.GRU(3, 4, batch_first=True), 3, 4),
            ValueError,
            "is a sequence module",
        ),
        (lambda: step_from_module(NoState(), 3, 4), ValueError, "must take \\(input, state\\)"),
        (lambda: step_from_module(nn.GRUCell(3, 4), 3, 5), ValueError, "failed"),
        (lambda: step_from_module(nn.LSTMCell(3, 4), 3, 4), ValueError, "failed: .*tuple"),
    ],
)
def test_bad_modules_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()
