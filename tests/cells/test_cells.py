"""Cells: one step against NumPy references, agreement with torch.nn, init, errors."""

import numpy as np
import pytest
import torch
from torch import nn

import rnnscope as rs
from rnnscope.cells import CTRNN, GRU, LSTM, UGRNN, VanillaRNN, make_cell

H, IN, N, B = 5, 3, 4, 6


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def numpy_step(cell, p, h, x):
    """Hand-written reference for one step of one network: p[k] [..], h [B, S], x [B, IN]."""
    if isinstance(cell, CTRNN):
        a = x @ p["W_ih"] + h @ p["W_hh"] + p["b"]
        r = np.tanh(a) if cell.activation == "tanh" else np.maximum(a, 0)
        return (1 - cell.alpha) * h + cell.alpha * r
    if isinstance(cell, VanillaRNN):
        a = x @ p["W_ih"] + h @ p["W_hh"] + p["b"]
        return np.tanh(a) if cell.activation == "tanh" else np.maximum(a, 0)
    if isinstance(cell, GRU) and cell.reset == "after":
        gx = x @ p["W_ih"] + p["b"]
        gh = h @ p["W_hh"] + p["b_hh"]
        r = sigmoid(gx[:, :H] + gh[:, :H])
        z = sigmoid(gx[:, H : 2 * H] + gh[:, H : 2 * H])
        n = np.tanh(gx[:, 2 * H :] + r * gh[:, 2 * H :])
        return (1 - z) * n + z * h
    if isinstance(cell, GRU):
        gx = x @ p["W_ih"] + p["b"]
        gh = h @ p["W_hh"]
        r = sigmoid(gx[:, :H] + gh[:, :H])
        z = sigmoid(gx[:, H : 2 * H] + gh[:, H:])
        n = np.tanh(gx[:, 2 * H :] + (r * h) @ p["W_hn"])
        return (1 - z) * n + z * h
    if isinstance(cell, LSTM):
        hh, c = h[:, :H], h[:, H:]
        a = x @ p["W_ih"] + hh @ p["W_hh"] + p["b"]
        i, f, g, o = (a[:, k * H : (k + 1) * H] for k in range(4))
        c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        return np.concatenate([sigmoid(o) * np.tanh(c_new), c_new], axis=1)
    if isinstance(cell, UGRNN):
        a = x @ p["W_ih"] + h @ p["W_hh"] + p["b"]
        c, g = np.tanh(a[:, :H]), sigmoid(a[:, H:])
        return g * h + (1 - g) * c
    raise AssertionError(cell)


ALL_CELLS = [
    VanillaRNN(H, IN),
    VanillaRNN(H, IN, activation="relu"),
    GRU(H, IN),
    GRU(H, IN, reset="before"),
    LSTM(H, IN),
    UGRNN(H, IN),
    CTRNN(H, IN, dt=20, tau=100),
    CTRNN(H, IN, activation="relu"),
]


@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_step_matches_numpy_reference(cell):
    params = cell.init(population=N, seed=3, dtype=torch.float64)
    h = torch.randn(N, B, cell.state_size, dtype=torch.float64) * 0.8
    x = torch.randn(N, B, IN, dtype=torch.float64)
    got = cell.step(params, h, x).numpy()
    for n in range(N):
        p = {k: v[n].numpy() for k, v in params.items()}
        want = numpy_step(cell, p, h[n].numpy(), x[n].numpy())
        np.testing.assert_allclose(got[n], want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_step_broadcasts_shared_inputs_and_extra_batch_axes(cell):
    params = cell.init(population=N, seed=1)
    h = torch.randn(N, 2, B, cell.state_size) * 0.5
    x = torch.randn(2, B, IN)
    shared = cell.step(params, h, x)
    per_network = cell.step(params, h, x.expand(N, 2, B, IN))
    assert shared.shape == (N, 2, B, cell.state_size)
    torch.testing.assert_close(shared, per_network)
    # one input for every state, e.g. the constant input of a fixed-point search
    const = cell.step(params, h, x[0, 0])
    torch.testing.assert_close(const, cell.step(params, h, x[0, 0].expand(2, B, IN)))


def copy_torch_weights(module, arch):
    """rnnscope parameters [1, ...] from a single-layer torch.nn RNN module."""
    w_ih, w_hh = module.weight_ih_l0.detach(), module.weight_hh_l0.detach()
    b_ih, b_hh = module.bias_ih_l0.detach(), module.bias_hh_l0.detach()
    p = {"W_ih": w_ih.T[None], "W_hh": w_hh.T[None]}
    if arch == "gru":
        p.update(b=b_ih[None], b_hh=b_hh[None])
    else:
        p.update(b=(b_ih + b_hh)[None])
    return {k: v.contiguous() for k, v in p.items()}


@pytest.mark.parametrize(
    "arch, module, cell",
    [
        ("vanilla", nn.RNN(IN, 16, batch_first=True), VanillaRNN(16, IN)),
        (
            "vanilla",
            nn.RNN(IN, 16, nonlinearity="relu", batch_first=True),
            VanillaRNN(16, IN, activation="relu"),
        ),
        ("gru", nn.GRU(IN, 16, batch_first=True), GRU(16, IN)),
        ("lstm", nn.LSTM(IN, 16, batch_first=True), LSTM(16, IN)),
    ],
    ids=["rnn-tanh", "rnn-relu", "gru", "lstm"],
)
def test_equals_torch_nn_over_50_steps(arch, module, cell):
    torch.manual_seed(1)
    x = torch.randn(8, 50, IN)
    net = rs.RNN(cell, output_size=2)
    params = {**net.init(1, seed=0), **copy_torch_weights(module, arch)}
    states, _ = net.run(params, x)
    with torch.no_grad():
        want, last = module(x)
    torch.testing.assert_close(states[0, ..., :16], want, rtol=0, atol=1e-5)
    if arch == "lstm":
        torch.testing.assert_close(states[0, :, -1, 16:], last[1][0], rtol=0, atol=1e-5)
    # the step-by-step path agrees with the fused one
    h = torch.zeros(1, 8, cell.state_size)
    for t in range(50):
        h = cell.step(params, h, x[:, t])
    torch.testing.assert_close(h, states[:, :, -1], rtol=0, atol=1e-5)


def test_init_is_per_network_reproducible():
    cell = GRU(8, IN)
    pop = cell.init(population=5, seed=[10, 11, 12, 13, 14])
    alone = cell.init(population=1, seed=12)
    for k in pop:
        torch.testing.assert_close(pop[k][2:3], alone[k], rtol=0, atol=0)
    assert not torch.equal(pop["W_hh"][0], pop["W_hh"][1])
    again = cell.init(population=5, seed=10)  # int seed -> 10, 11, ...
    for k in pop:
        assert torch.equal(pop[k], again[k])


def test_orthogonal_init_gives_scaled_orthogonal_blocks():
    cell = LSTM(16, IN, recurrent_init="orthogonal", recurrent_gain=0.9)
    w = cell.init(population=2, seed=0)["W_hh"].double()
    for n in range(2):
        for k in range(4):
            block = w[n, :, 16 * k : 16 * (k + 1)] / 0.9
            torch.testing.assert_close(
                block.T @ block, torch.eye(16, dtype=torch.float64), atol=1e-5, rtol=0
            )


def test_fan_in_init_scales_spectral_radius():
    cell = VanillaRNN(400, IN, recurrent_gain=1.0)
    w = cell.init(population=1, seed=0)["W_hh"][0]
    radius = torch.linalg.eigvals(w).abs().max().item()
    assert 0.9 < radius < 1.1  # circular law: radius -> gain


def test_forget_and_gate_bias_options():
    lstm = LSTM(4, IN, forget_bias=3.0)
    b = lstm.init(population=2, seed=0)["b"]
    assert (b[:, 4:8] > 2.4).all() and (b[:, :4].abs() <= 0.5).all()
    lstm0 = LSTM(4, IN, forget_bias=0.0)
    assert (lstm0.init(1, 0)["b"].abs() <= 0.5).all()
    ug = UGRNN(4, IN, gate_bias=2.0)
    assert (ug.init(1, 0)["b"][:, 4:] > 1.4).all()


def test_config_round_trip():
    for cell in ALL_CELLS:
        again = rs.cells.from_config(cell.config())
        assert again.config() == cell.config()
        assert type(again) is type(cell)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: make_cell("transformer", 4, 3), "unknown architecture 'transformer'"),
        (lambda: VanillaRNN(4, 3, activation="gelu"), "unknown activation 'gelu'"),
        (lambda: GRU(4, 3, reset="middle"), "unknown reset 'middle'"),
        (lambda: GRU(0, 3), "hidden_size must be a positive integer"),
        (lambda: LSTM(4, -1), "input_size must be a positive integer"),
        (lambda: UGRNN(4.5, 3), "hidden_size must be a positive integer"),
        (lambda: CTRNN(4, 3, dt=200, tau=100), "0 < dt <= tau"),
        (lambda: VanillaRNN(4, 3, recurrent_init="xavier"), "unknown recurrent_init"),
        (lambda: GRU(4, 3).init(population=0), "population must be a positive integer"),
        (lambda: GRU(4, 3).init(population=2, seed=[1]), "got 1 seeds for a population of 2"),
    ],
)
def test_bad_configuration_is_named(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_bad_step_inputs_are_named():
    cell = GRU(4, 3)
    params = cell.init(2, 0)
    with pytest.raises(ValueError, match=r"states have width 5 but .* state_size 4"):
        cell.step(params, torch.zeros(2, 1, 5), torch.zeros(2, 1, 3))
    with pytest.raises(ValueError, match=r"inputs have width 2 but .* input_size 3"):
        cell.step(params, torch.zeros(2, 1, 4), torch.zeros(2, 1, 2))
    with pytest.raises(ValueError, match="do not broadcast"):
        cell.step(params, torch.zeros(2, 7, 4), torch.zeros(5, 3))


def test_params_with_nan_or_wrong_shape_are_refused():
    cell = LSTM(4, 3)
    params = cell.init(2, 0)
    params["W_hh"][1, 0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"params\['W_hh'\] contains NaN or inf"):
        cell.check_params(params)
    params = cell.init(2, 0)
    params["b"] = params["b"][:, :5]
    with pytest.raises(ValueError, match=r"params\['b'\] has shape \[2, 5\], expected \[N, 16\]"):
        cell.check_params(params)
    with pytest.raises(KeyError, match="lack \\['W_ih'\\]"):
        cell.check_params({k: v for k, v in cell.init(1, 0).items() if k != "W_ih"})
