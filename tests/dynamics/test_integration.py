"""Evidence-integration analysis against a system whose line attractor is known exactly."""

import math

import numpy as np
import pytest
import torch

from rnnscope.dynamics import LinearizedModel
from rnnscope.dynamics.integration import (
    analyze_integration,
    linearized_readout,
    principal_variance,
)

S, IN = 6, 4


def line_system(seed=0):
    """``h' = u uᵀ h + ½ (I − u uᵀ) h + W x``: every point of span(u) is fixed, with
    eigenvalue 1 along u and ½ across; an input's drive on the line is ``uᵀ W x``."""
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(S, generator=gen, dtype=torch.float64)
    u = u / u.norm()
    p = torch.outer(u, u)
    a = p + 0.5 * (torch.eye(S, dtype=torch.float64) - p)
    w_in = 0.3 * torch.randn(S, IN, generator=gen, dtype=torch.float64)

    def step(h, x):
        return h @ a.T + x @ w_in.T

    return step, u, w_in


def trajectories(step, words, valence, batch=64, steps=30, seed=1):
    gen = np.random.default_rng(seed)
    picks = gen.integers(0, len(words), size=(batch, steps))
    x = words[torch.from_numpy(picks)]
    h, out = torch.zeros(batch, S, dtype=torch.float64), []
    for x_t in x.unbind(1):
        h = step(h, x_t)
        out.append(h)
    labels = (valence[picks].sum(1) > 0).astype(int)
    return torch.stack(out, 1), x, labels


@pytest.fixture(scope="module")
def system():
    step, u, w_in = line_system()
    gen = torch.Generator().manual_seed(3)
    words = torch.randn(30, IN, generator=gen, dtype=torch.float64)
    drive = (words @ w_in.T @ u).numpy()
    valence = np.where(drive > 0.05, 1, np.where(drive < -0.05, -1, 0))
    states, x, labels = trajectories(step, words, drive)
    return step, u, w_in, words, drive, valence, states, x, labels


def test_finds_the_line_its_modes_and_the_input_drive(system):
    step, u, _w_in, words, drive, valence, states, _x, _labels = system
    out = analyze_integration(
        step, states, u, inputs=words, input_labels=valence, n_candidates=200, seed=0
    )
    assert out.n_fixed_points >= 10  # points all along the line, not one
    assert (out.q_mean < 1e-8).all()
    pts = out.fixed_points.points
    off_line = pts - (pts @ u)[:, None] * u
    assert off_line.norm(dim=1).max() < 1e-3
    assert out.line.dimension == 1
    assert out.line.readout_alignment[0] > 0.999
    assert out.line.readout_alignment[0] > out.line.null_alignment[1]
    assert (out.n_slow_modes == 1).all()
    assert np.isinf(out.time_constants[:, 0]).all() or (out.time_constants[:, 0] > 1e6).all()
    np.testing.assert_allclose(out.time_constants[:, 1], 1 / math.log(2), rtol=1e-6)
    # ℓ₁ = u for this symmetric map, signed so that the readout (u) goes up
    np.testing.assert_allclose(out.valence, np.broadcast_to(drive, out.valence.shape), atol=1e-6)
    assert out.valence_auc == 1.0
    summary = out.summary()
    assert summary["line_dimension"] == 1 and summary["slow_modes"] == 1
    assert out.is_line_attractor() and summary["line_attractor"] == 1.0


def test_isolated_fixed_point_is_not_a_line(system):
    """A contracting map (every |λ| = ½) has one fixed point and no line."""
    step, u, _w_in, words, _drive, valence, states, _x, _labels = system

    def contracting(h, x):
        return 0.5 * step(h, x) - 0.5 * h @ torch.outer(u, u).T

    out = analyze_integration(
        contracting, states, u, inputs=words, input_labels=valence, n_candidates=50
    )
    assert out.n_fixed_points == 1
    assert not out.is_line_attractor()
    assert (out.n_slow_modes == 0).all()


def test_sign_follows_the_readout(system):
    step, u, _w_in, words, drive, valence, states, _x, _labels = system
    flipped = analyze_integration(
        step, states, -u, inputs=words, input_labels=valence, n_candidates=50, seed=0
    )
    # a readout pointing the other way reads positive evidence as negative
    np.testing.assert_allclose(
        flipped.valence, -np.broadcast_to(drive, flipped.valence.shape), atol=1e-6
    )
    assert flipped.valence_auc == 0.0


def test_linear_system_is_its_own_linearization(system):
    step, u, _w_in, words, _drive, valence, states, x, labels = system
    out = analyze_integration(step, states, u, inputs=words, input_labels=valence, n_candidates=50)
    lengths = torch.full((states.shape[0],), states.shape[1])
    result = linearized_readout(LinearizedModel(out.fixed_points), states, x, lengths, labels, u)
    # exact but for the kept points' own residual, ‖F(h*) − h*‖ ≤ sqrt(S · 1e-8)
    assert result.one_step_error < 1e-3
    assert result.agreement == 1.0
    assert result.network_accuracy == result.linearized_accuracy == 1.0


def test_principal_variance_of_a_plane():
    gen = torch.Generator().manual_seed(0)
    basis = torch.linalg.qr(torch.randn(S, 2, generator=gen, dtype=torch.float64))[0]
    coords = torch.randn(50, 7, 2, generator=gen, dtype=torch.float64)
    ratio = principal_variance(coords @ basis.T)
    assert ratio[:2].sum() > 1 - 1e-12 and ratio.shape == (S,)
    with pytest.raises(ValueError, match="two states"):
        principal_variance(torch.zeros(1, S))


def test_bad_inputs(system):
    step, u, _w_in, words, _drive, valence, states, *_ = system
    with pytest.raises(ValueError, match=r"\[B, T, S\]"):
        analyze_integration(step, states[0], u, inputs=words, input_labels=valence)
    with pytest.raises(ValueError, match="rows"):
        analyze_integration(step, states, u[:3], inputs=words, input_labels=valence)
    with pytest.raises(ValueError, match="together"):
        analyze_integration(step, states, u, inputs=words)
    with pytest.raises(ValueError, match="search"):
        analyze_integration(step, states, u, inputs=words, input_labels=valence, search="sgd")
