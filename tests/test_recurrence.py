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


@pytest.mark.parametrize("cell", FUSED, ids=repr)
@pytest.mark.parametrize("reads", ["outputs", "states"])
def test_a_loss_on_outputs_or_states_alone_gets_autograds_gradients(cell, reads, monkeypatch):
    # the fused pass skips the gradient of whichever result the loss does not read
    monkeypatch.setattr(_recurrence, "_CHUNK_ELEMENTS", 2 * 3 * 4 * cell.gates * 6)
    net = rs.RNN(cell, output_size=2)
    params = net.init(population=3, seed=2, dtype=torch.float64)
    x = torch.randn(4, 10, 3, dtype=torch.float64)
    grads = {}
    for fused in (True, False):
        p = {k: v.clone().requires_grad_() for k, v in params.items()}
        states, outputs = net.run(p, x, fused=fused)
        (outputs.pow(2).sum() if reads == "outputs" else states.pow(3).sum()).backward()
        grads[fused] = {k: v.grad for k, v in p.items()}
    for key in params:
        if reads == "states" and key in ("W_out", "b_out"):
            assert grads[True][key] is None and grads[False][key] is None
            continue
        torch.testing.assert_close(grads[True][key], grads[False][key], rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("cell", FUSED, ids=repr)
@pytest.mark.parametrize("noisy", [False, True], ids=["no-noise", "noise"])
def test_hidden_and_outputs_equal_run(cell, noisy, monkeypatch):
    """The training path (an LSTM without noise: torch's fused kernel) gives run's values
    and gradients, float32."""
    calls = []
    real = torch.lstm
    monkeypatch.setattr(torch, "lstm", lambda *a: calls.append(1) or real(*a))
    net = rs.RNN(cell, output_size=2, learn_initial_state=True)
    params = net.init(population=3, seed=3)
    params["h0"] = 0.2 * torch.randn(3, cell.state_size)
    x = torch.randn(3, 5, 7, 3)  # per-network inputs
    noise = 0.1 * torch.randn(3, 5, 7, cell.state_size) if noisy else None
    a = {k: v.clone().requires_grad_() for k, v in params.items()}
    b = {k: v.clone().requires_grad_() for k, v in params.items()}
    h, out = net.hidden_and_outputs(a, x, noise=noise)
    states, out_ref = net.run(b, x, noise=noise)
    h_ref = states[..., : cell.hidden_size]
    torch.testing.assert_close(h, h_ref, rtol=0, atol=1e-5)
    torch.testing.assert_close(out, out_ref, rtol=0, atol=1e-5)
    (out.pow(2).sum() + h.sum()).backward()
    (out_ref.pow(2).sum() + h_ref.sum()).backward()
    for key in params:
        torch.testing.assert_close(a[key].grad, b[key].grad, rtol=1e-4, atol=1e-5, msg=key)
    assert len(calls) == (3 if cell.name == "lstm" and not noisy else 0)
