"""Task read-outs against systems whose answer is known."""

import numpy as np
import pytest
import torch

import rnnscope as rs
from rnnscope.study import readouts


def rotation_network(omega: float, gain: float, task, point=(0.3, 0.0)):
    """A 2-unit tanh network ``h' = tanh(g R(ω) h + w x + b)``, ``b`` placing its fixed
    point under the first cue at ``point``: the linearization there is
    ``diag(1 − h*²) g R(ω)``, known exactly. ``g > 1``: the trajectory from the
    initial state (0) spirals out onto an invariant circle; ``g < 1``: into the point."""
    net = rs.RNN(rs.cells.make_cell("vanilla", 2, 1), 1)
    params = net.init(population=1, seed=0)
    c, s = np.cos(omega), np.sin(omega)
    params["W_hh"] = torch.tensor([[[c, -s], [s, c]]], dtype=torch.float32) * gain
    params["W_ih"] = torch.tensor([[[0.5, -0.5]]])
    params["b"] = torch.zeros_like(params["b"])
    params["W_out"] = torch.tensor([[[1.0], [0.0]]])
    h = torch.tensor([point], dtype=torch.float32)
    x = torch.full((1, 1), float(task.input_level(0)))
    pre = torch.atanh(net.cell.bind(params)(h, x))  # g R h* + w x, with b = 0
    params["b"] = (torch.atanh(h) - pre).reshape(1, 2)
    jac = np.diag(1 - np.square(point)) @ (gain * np.array([[c, -s], [s, c]]))
    expected = float(np.abs(np.angle(np.linalg.eigvals(jac))).max())
    return net, params, expected


def trajectory_states(net, params, seed):
    x = torch.rand(8, 100, 1, generator=torch.Generator().manual_seed(seed))
    return net.run(params, x)[0][0]  # [B, T, S]


def test_sine_readout_orbits_the_point_and_reads_the_oscillation():
    task = rs.tasks.SineWave(n_frequencies=5, steps=100)
    net, params, expected = rotation_network(0.3, 1.2, task)
    step = net.cell.bind(params)
    out = readouts.sine(task, net, params, step, None, trajectory_states(net, params, 0), levels=1)
    np.testing.assert_allclose(out["sine_target_frequency"], task.frequencies[[0]])
    assert out["sine_has_cycle"].all()
    # the orbited point is the planted one: its linearization's rotation, exactly
    np.testing.assert_allclose(out["sine_linearized_frequency"], expected, rtol=1e-4)
    # the nonlinear cycle turns at about that rate, but is measured, not copied
    np.testing.assert_allclose(out["sine_own_frequency"], expected, rtol=0.15)
    assert abs(out["sine_own_frequency"][0] - expected) > 1e-4


def test_a_damped_network_has_no_cycle_and_its_own_frequency_is_the_spectral_peak():
    task = rs.tasks.SineWave(n_frequencies=5, steps=100)
    net, params, expected = rotation_network(0.4, 0.97, task)
    step = net.cell.bind(params)
    out = readouts.sine(task, net, params, step, None, trajectory_states(net, params, 1), levels=1)
    assert not out["sine_has_cycle"].any()
    np.testing.assert_allclose(out["sine_linearized_frequency"], expected, rtol=1e-4)
    np.testing.assert_allclose(out["sine_own_frequency"], expected, rtol=0.05)


@pytest.mark.parametrize("flat", [np.zeros(50), np.full(50, 3.0)])
def test_spectral_peak_of_a_flat_signal_is_nan(flat):
    assert np.isnan(readouts._spectral_peak(flat))
    t = np.arange(200)
    assert readouts._spectral_peak(np.sin(0.5 * t)) == pytest.approx(0.5, rel=0.01)


def test_flipflop_summary_counts_networks_per_corner_number():
    import pandas as pd

    frame = pd.DataFrame(
        {"architecture": ["gru"] * 3 + ["vanilla"], "readout_corners": [8, 7, 8, 0]}
    )
    assert readouts.summary("flipflop", frame) == [
        "  gru: output corners reached by stable points (networks): 8 corners: 2, 7 corners: 1",
        "  vanilla: output corners reached by stable points (networks): 0 corners: 1",
    ]
