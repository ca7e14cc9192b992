"""Closed-form Jacobians equal autodiff and finite differences for every cell."""

import pytest
import torch
from torch.func import jacrev

from rnnscope.cells import CTRNN, GRU, LSTM, UGRNN, VanillaRNN

CELLS = [
    VanillaRNN(5, 3),
    VanillaRNN(5, 3, activation="relu"),
    CTRNN(5, 3, dt=20, tau=100),
    GRU(5, 3),
    GRU(5, 3, reset="before"),
    LSTM(5, 3),
    UGRNN(5, 3),
]


def autodiff(cell, params, h, x):
    """Per-candidate Jacobians with torch.func, one network and one state at a time."""
    n, k = h.shape[:2]
    j_rec = torch.empty(n, k, cell.state_size, cell.state_size, dtype=h.dtype)
    j_inp = torch.empty(n, k, cell.state_size, cell.input_size, dtype=h.dtype)
    for a in range(n):
        p = {key: v[a : a + 1] for key, v in params.items()}
        for b in range(k):

            def f(hv, xv, p=p):
                return cell.step(p, hv[None, None], xv[None, None])[0, 0]

            j_rec[a, b], j_inp[a, b] = jacrev(f, argnums=(0, 1))(h[a, b], x[a, b])
    return j_rec, j_inp


@pytest.mark.parametrize("cell", CELLS, ids=repr)
def test_closed_forms_equal_autodiff_and_finite_differences(cell):
    params = cell.init(population=2, seed=7, dtype=torch.float64)
    h = 0.7 * torch.randn(2, 4, cell.state_size, dtype=torch.float64)
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    j_rec, j_inp = cell.jacobians(params, h, x)
    assert j_rec.shape == (2, 4, cell.state_size, cell.state_size)
    assert j_inp.shape == (2, 4, cell.state_size, 3)
    want_rec, want_inp = autodiff(cell, params, h, x)
    torch.testing.assert_close(j_rec, want_rec, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(j_inp, want_inp, rtol=1e-10, atol=1e-12)
    # central finite differences, column by column
    eps = 1e-6
    for j in range(cell.state_size):
        dh = torch.zeros_like(h)
        dh[..., j] = eps
        column = (cell.step(params, h + dh, x) - cell.step(params, h - dh, x)) / (2 * eps)
        torch.testing.assert_close(j_rec[..., j], column, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("cell", CELLS, ids=repr)
def test_bound_step_with_shared_input(cell):
    params = cell.init(population=3, seed=1, dtype=torch.float64)
    step = cell.bind(params)
    h = 0.5 * torch.randn(3, 6, cell.state_size, dtype=torch.float64)
    x = torch.randn(3, dtype=torch.float64)
    torch.testing.assert_close(step(h, x), cell.step(params, h, x.expand(3, 6, 3)))
    j_rec, j_inp = step.jacobians(h, x)
    want_rec, want_inp = cell.jacobians(params, h, x.expand(3, 6, 3))
    torch.testing.assert_close(j_rec, want_rec)
    torch.testing.assert_close(j_inp, want_inp)
    assert step.to(torch.float32)(h.float(), x.float()).dtype == torch.float32
