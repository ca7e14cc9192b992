"""The fused backward pass equals autograd through the cell's own step."""

import pytest
import torch

import rnnscope as rs
from rnnscope import _recurrence
from rnnscope.cells import CTRNN, GRU, LSTM, UGRNN, VanillaRNN

FUSED = [
    VanillaRNN(6, 3),
    VanillaRNN(6, 3, activation="relu"),
    CTRNN(6, 3, dt=25, tau=100),
    GRU(6, 3),
    LSTM(6, 3),
    UGRNN(6, 3),
]


def loop_states(cell, params, x, h0, noise):
    """Reference: autograd through cell.step, one step at a time. x [B, T, I] or [N, B, T, I]."""
    h, out = h0, []
    steps = x.shape[-2]
    for t in range(steps):
        h = cell.step(params, h, x[..., t, :])
        if noise is not None:
            h = h + noise[:, :, t]
        out.append(h)
    return torch.stack(out, dim=2)


@pytest.mark.parametrize("cell", FUSED, ids=repr)
@pytest.mark.parametrize("shared", [True, False], ids=["shared-inputs", "per-network-inputs"])
def test_fused_values_and_gradients_equal_autograd(cell, shared, monkeypatch):
    # a tiny chunk exercises the chunk boundaries of the backward pass
    monkeypatch.setattr(_recurrence, "_CHUNK_ELEMENTS", 2 * 3 * 5 * cell.gates * 6)
    assert cell.fused
    net = rs.RNN(cell, output_size=2, learn_initial_state=True)
    params = net.init(population=3, seed=4, dtype=torch.float64)
    params["h0"] = 0.3 * torch.randn(3, cell.state_size, dtype=torch.float64)
    x = (
        torch.randn(5, 11, 3, dtype=torch.float64)
        if shared
        else torch.randn(3, 5, 11, 3, dtype=torch.float64)
    )
    noise = 0.1 * torch.randn(3, 5, 11, cell.state_size, dtype=torch.float64)
    weights = torch.randn(3, 5, 11, cell.state_size, dtype=torch.float64)

    def loss_of(states, outputs):
        return (states * weights).sum() + outputs.pow(2).sum()

    fused = {k: v.clone().requires_grad_() for k, v in params.items()}
    states, outputs = net.run(fused, x, noise=noise)
    loss_of(states, outputs).backward()

    ref = {k: v.clone().requires_grad_() for k, v in params.items()}
    h0 = net.initial_state(ref, 5)
    ref_states = loop_states(cell, ref, x, h0, noise)
    loss_of(ref_states, net.readout(ref, ref_states)).backward()

    torch.testing.assert_close(states, ref_states, rtol=0, atol=1e-12)
    for key in params:
        torch.testing.assert_close(fused[key].grad, ref[key].grad, rtol=1e-9, atol=1e-11, msg=key)


@pytest.mark.parametrize("cell", FUSED, ids=repr)
def test_gradcheck(cell):
    params = cell.init(population=2, seed=0, dtype=torch.float64)
    x = torch.randn(3, 4, 3, dtype=torch.float64)
    h0 = 0.2 * torch.randn(2, 3, cell.state_size, dtype=torch.float64)
    keys = ["W_ih", "b", "W_hh", *(["b_hh"] if "b_hh" in params else [])]

    def f(*tensors):
        p = dict(params, **dict(zip(keys, tensors, strict=True)))
        return _recurrence.run_recurrence(cell, p, x.transpose(0, 1), h0)

    inputs = tuple(params[k].clone().requires_grad_() for k in keys)
    assert torch.autograd.gradcheck(f, inputs)


@pytest.mark.parametrize("cell", FUSED, ids=repr)
@pytest.mark.parametrize("shared", [True, False], ids=["shared-inputs", "per-network-inputs"])
def test_fused_input_gradients_equal_autograd(cell, shared, monkeypatch):
    # inputs from a learned embedding need d loss / d x through the fused pass
    monkeypatch.setattr(_recurrence, "_CHUNK_ELEMENTS", 2 * 3 * 4 * cell.gates * 6)
    net = rs.RNN(cell, output_size=2)
    params = net.init(population=3, seed=1, dtype=torch.float64)
    shape = (5, 9, 3) if shared else (3, 5, 9, 3)
    x0 = torch.randn(*shape, dtype=torch.float64)
    x = x0.clone().requires_grad_()
    _, outputs = net.run(params, x)
    outputs.pow(2).sum().backward()
    x_ref = x0.clone().requires_grad_()
    ref_states = loop_states(cell, params, x_ref, net.initial_state(params, 5), None)
    net.readout(params, ref_states).pow(2).sum().backward()
    assert x.grad.abs().sum() > 0
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-9, atol=1e-11)
