"""Gated recurrent unit, in both conventions found in the literature."""

from __future__ import annotations

from typing import ClassVar

import torch

from .._validation import check_choice
from ._base import Cell, Params, _batched_matmul


class GRU(Cell):
    """Gated recurrent unit with gates ordered ``(r, z, n)`` as in ``torch.nn.GRU``.

    ``r = σ(a_r)``, ``z = σ(a_z)``, ``h' = (1 - z) ⊙ n + z ⊙ h``, where the candidate
    ``n`` depends on the convention:

    - ``reset="after"`` (default; PyTorch/cuDNN): ``n = tanh(x W_in + b_in + r ⊙ (h W_hn + b_hn))``.
      Parameters ``W_ih [N, I, 3H]``, ``W_hh [N, H, 3H]``, ``b [N, 3H]`` (input bias),
      ``b_hh [N, 3H]`` (recurrent bias, kept separate because ``r`` multiplies it).
      Equal to ``torch.nn.GRU`` with copied (transposed) weights.
    - ``reset="before"`` (Cho et al. 2014): ``n = tanh(x W_in + b_n + (r ⊙ h) W_hn)``.
      Parameters ``W_ih [N, I, 3H]``, ``W_hh [N, H, 2H]`` (for r, z), ``W_hn [N, H, H]``,
      ``b [N, 3H]``. This form needs a second, dependent matmul per step, so it trains
      through autograd rather than the fused backward.

    State ``h [..., H]``, confined to ``|h| ≤ 1``.
    """

    name: ClassVar[str] = "gru"
    gates: ClassVar[int] = 3

    def __init__(self, hidden_size: int, input_size: int, *, reset: str = "after", **kw) -> None:
        super().__init__(hidden_size, input_size, **kw)
        self.reset = check_choice("reset", reset, ("after", "before"))

    @property
    def fused(self) -> bool:  # type: ignore[override]
        return self.reset == "after"

    def _config(self):
        return {"reset": self.reset}

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        h, i = self.hidden_size, self.input_size
        if self.reset == "after":
            return {"W_ih": (i, 3 * h), "W_hh": (h, 3 * h), "b": (3 * h,), "b_hh": (3 * h,)}
        return {"W_ih": (i, 3 * h), "W_hh": (h, 2 * h), "W_hn": (h, h), "b": (3 * h,)}

    def recurrent_bias(self, params: Params) -> torch.Tensor | None:
        return params["b_hh"] if self.reset == "after" else None

    # reset="after": elementwise given the two projections
    def pointwise_forward(self, ax, ah, h):
        xr, xz, xn = ax.chunk(3, dim=-1)
        hr, hz, hn = ah.chunk(3, dim=-1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        return n + z * (h - n), (r, z, n, hn)

    def pointwise_backward(self, dh_new, saved, h):
        r, z, n, hn = saved
        dz = dh_new * (h - n) * z * (1 - z)
        dn = dh_new * (1 - z) * (1 - n * n)
        dr = dn * hn * r * (1 - r)
        d_ax = torch.cat([dr, dz, dn], dim=-1)
        d_ah = torch.cat([dr, dz, dn * r], dim=-1)
        return d_ax, d_ah, dh_new * z

    def step(self, params: Params, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.reset == "after":
            return super().step(params, h, x)
        x = self._align_input(h, x)
        ax = self.input_projection(params, x, shared=x.dim() < h.dim())
        xr, xz, xn = ax.chunk(3, dim=-1)
        hr, hz = _batched_matmul(h, params["W_hh"]).chunk(2, dim=-1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        n = torch.tanh(xn + _batched_matmul(r * h, params["W_hn"]))
        return n + z * (h - n)
