"""Limit cycles, the linearized surrogate, autodiff Jacobians of plain callables."""

import math

import pytest
import torch

import rnnscope as rs


def hopf_map(mu=0.5, omega=1.0, dt=0.1):
    """Euler step of the Hopf normal form dz/dt = (μ + iω) z − |z|² z."""

    def step(h, x):
        a, b = h[..., 0], h[..., 1]
        r2 = a * a + b * b
        da = mu * a - omega * b - r2 * a
        db = omega * a + mu * b - r2 * b
        return torch.stack([a + dt * da, b + dt * db], dim=-1)

    step.input_size = 1
    return step


def test_hopf_map_has_unstable_focus_and_limit_cycle():
    mu, omega, dt = 0.5, 1.0, 0.1
    step = hopf_map(mu, omega, dt)
    # the map's invariant circle: |1 + dt (μ − r² + iω)| = 1
    radius = math.sqrt(mu + (1 - math.sqrt(1 - (dt * omega) ** 2)) / dt)
    period = 2 * math.pi / math.asin(dt * omega)
    (cycle,) = rs.dynamics.find_limit_cycle(step, torch.tensor([0.01, 0.0], dtype=torch.float64))
    assert cycle.amplitude == pytest.approx(radius, rel=1e-5)
    assert cycle.period == pytest.approx(period, rel=1e-3)
    assert cycle.is_stable
    multipliers = sorted(cycle.floquet_multipliers.tolist())
    assert multipliers[1] == pytest.approx(1.0, abs=1e-3)  # along the orbit
    assert multipliers[0] < 0.5  # attracting across it

    fps = rs.find_fixed_points(step, 0.05 * torch.randn(50, 2, dtype=torch.float64), outliers=None)
    assert len(fps) == 1 and float(fps.points.abs().max()) < 1e-12
    assert int(fps.n_unstable[0]) == 2  # an unstable focus
    lin = fps.linearization
    assert float(lin.rotation[0].abs().max()) == pytest.approx(
        math.atan2(dt * omega, 1 + dt * mu), rel=1e-12
    )


def test_trajectory_at_rest_is_no_cycle():
    def step(h, x):
        return 0.5 * h

    step.input_size = 1
    assert rs.dynamics.find_limit_cycle(step, torch.ones(2, 3), transient=100, steps=50) == [
        None,
        None,
    ]


def test_surrogate_of_a_linear_map_is_exact_and_of_a_nonlinear_one_local():
    a = torch.tensor([[0.9, 0.2], [-0.1, 0.8]], dtype=torch.float64)
    b = torch.tensor([[1.0], [0.5]], dtype=torch.float64)

    def step(h, x):
        return h @ a.T + x @ b.T

    step.input_size = 1
    fps = rs.find_fixed_points(step, torch.randn(20, 2, dtype=torch.float64), outliers=None)
    model = rs.dynamics.LinearizedModel(fps)
    inputs = torch.randn(30, 1, dtype=torch.float64)
    h, states = torch.zeros(2, dtype=torch.float64), []
    for x in inputs:
        h = step(h, x)
        states.append(h)
    states = torch.stack(states)
    assert (
        float(torch.nan_to_num(torch.as_tensor(model.one_step_error(states, inputs))).max()) < 1e-12
    )
    assert float(torch.as_tensor(model.rollout_error(states, inputs)).max()) < 1e-12

    # a vanilla RNN: the expansion is accurate near its fixed point and degrades away from it
    cell = rs.cells.VanillaRNN(8, 1)
    params = cell.init(1, seed=0, dtype=torch.float64)
    params["W_hh"] *= 0.5
    gen = torch.Generator().manual_seed(0)
    fps = rs.find_fixed_points(
        cell.bind(params), 0.1 * torch.randn(1, 30, 8, generator=gen, dtype=torch.float64)
    )
    model = rs.dynamics.LinearizedModel(fps)
    errors = []
    for amplitude in (0.01, 0.1, 1.0):
        drive = amplitude * torch.randn(40, 1, generator=gen, dtype=torch.float64)
        h, states = fps.points[None, :1].clone(), []
        for x in drive:
            h = cell.step(params, h, x)
            states.append(h[0, 0])
        errors.append(
            float(
                torch.as_tensor(
                    model.one_step_error(torch.stack(states), drive, fps.points[0])
                ).mean()
            )
        )
    assert errors[0] < 1e-2
    assert errors[0] < errors[1] < errors[2]
    with pytest.raises(ValueError, match="anchor 99"):
        rs.dynamics.LinearizedModel(fps, anchor=99)


def test_autodiff_jacobians_of_a_plain_callable_equal_closed_forms():
    cell = rs.cells.LSTM(5, 2)
    params = cell.init(2, seed=0, dtype=torch.float64)
    h = 0.4 * torch.randn(2, 3, 10, dtype=torch.float64)
    x = torch.randn(2, 3, 2, dtype=torch.float64)

    def plain(hh, xx):  # no .jacobians attribute: autodiff path
        return cell.step(params, hh, xx)

    j_auto = rs.dynamics.jacobians(plain, h, x)
    j_closed = cell.jacobians(params, h, x)
    for a, b in zip(j_auto, j_closed, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_the_linearized_step_gives_the_same_states_in_chunks():
    """A large batch is stepped in pieces (one Jacobian per state would not fit):
    the pieces give what one piece gives."""
    cell = rs.cells.GRU(6, 2)
    params = cell.init(1, seed=1, dtype=torch.float64)
    gen = torch.Generator().manual_seed(1)
    fps = rs.find_fixed_points(
        cell.bind(params), 0.3 * torch.randn(1, 40, 6, generator=gen, dtype=torch.float64)
    )
    model = rs.dynamics.LinearizedModel(fps)
    h = torch.randn(7, 5, 6, generator=gen, dtype=torch.float64)
    x = torch.randn(7, 5, 2, generator=gen, dtype=torch.float64)
    whole = model.step(h, x)
    model.max_elements = 6 * 8 * 3  # three rows at a time
    torch.testing.assert_close(model.step(h, x), whole, rtol=0, atol=0)
    assert whole.shape == (7, 5, 6)
