"""Gated recurrent unit, in both conventions found in the literature."""

from __future__ import annotations

from typing import ClassVar

import torch

from .._validation import check_choice
from ._activations import tanh
from ._base import Cell, Params, _batched_matmul, _rows, _view_weights


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

    #: r multiplies h W_hn + b_hn, so the two projections get different gradients
    summed_projections: ClassVar[bool] = False

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
    def pointwise_forward(self, ax, ah, h, out=None):
        size = self.hidden_size
        r, z = torch.sigmoid(ax[..., : 2 * size] + ah[..., : 2 * size]).chunk(2, dim=-1)
        hn = ah[..., 2 * size :]
        n = tanh(torch.addcmul(ax[..., 2 * size :], r, hn))
        return torch.lerp(n, h, z, out=out), (r, z, n, hn)  # n + z (h - n)

    def pointwise_backward(self, dh_new, saved, h, d_ax, d_ah):
        r, z, n, hn = saved
        size = self.hidden_size
        dr, dz, dn = d_ax[..., :size], d_ax[..., size : 2 * size], d_ax[..., 2 * size :]
        torch.mul(dh_new * (h - n), z * (1 - z), out=dz)
        torch.mul(dh_new * (1 - z), 1 - n * n, out=dn)
        torch.mul(dn * hn, r * (1 - r), out=dr)
        d_ah[..., : 2 * size] = d_ax[..., : 2 * size]
        torch.mul(dn, r, out=d_ah[..., 2 * size :])
        return dh_new * z

    def step(self, params: Params, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.reset == "after":
            return super().step(params, h, x)
        x = self._align_input(h, x)
        ax = self.input_projection(params, x, shared=x.dim() < h.dim())
        xr, xz, xn = ax.chunk(3, dim=-1)
        hr, hz = _batched_matmul(h, params["W_hh"]).chunk(2, dim=-1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        n = tanh(xn + _batched_matmul(r * h, params["W_hn"]))
        return torch.lerp(n, h, z)

    def _closed_form_jacobians(self, params, ax, ah, h, w_hh_t, w_ih_t):
        # Every term is a row-scaled weight block, so J is assembled in a few fused
        # passes: J = diag(z) + Σ_blocks diag(c_block) W_blockᵀ.
        size = self.hidden_size
        blocks = [slice(k * size, (k + 1) * size) for k in range(3)]
        r, z = torch.sigmoid(ax[..., : 2 * size] + ah[..., : 2 * size]).chunk(2, dim=-1)
        dr, dz = r * (1 - r), z * (1 - z)
        if self.reset == "after":
            hn = ah[..., blocks[2]]
            n = tanh(ax[..., blocks[2]] + r * hn)
        else:
            n = tanh(ax[..., blocks[2]] + _batched_matmul(r * h, params["W_hn"]))
        mix_dn = (1 - z) * (1 - n * n)  # ∂h'/∂(pre-activation of n)
        c_z = (h - n) * dz  # coefficient of W_zᵀ
        if self.reset == "after":
            c_r = mix_dn * hn * dr
            j_rec = _rows(c_z, w_hh_t[..., blocks[1], :])
            j_rec.addcmul_((mix_dn * r).unsqueeze(-1), w_hh_t[..., blocks[2], :])
            j_rec.addcmul_(c_r.unsqueeze(-1), w_hh_t[..., blocks[0], :])
            j_inp = _rows(c_z, w_ih_t[..., blocks[1], :])
            j_inp.addcmul_(mix_dn.unsqueeze(-1), w_ih_t[..., blocks[2], :])
            j_inp.addcmul_(c_r.unsqueeze(-1), w_ih_t[..., blocks[0], :])
        else:
            # n depends on h through (r ⊙ h) W_hn: ∂n/∂h = diag(dn) W_hnᵀ (diag(r) + diag(h) ∂r/∂h)
            wn_t = _view_weights(params["W_hn"].transpose(-1, -2), h.dim())  # [N, 1.., H, H]
            r_h = _rows(dr, w_hh_t[..., blocks[0], :])
            r_x = _rows(dr, w_ih_t[..., blocks[0], :])
            n_h = wn_t * r.unsqueeze(-2) + wn_t @ (h.unsqueeze(-1) * r_h)
            n_x = w_ih_t[..., blocks[2], :] + wn_t @ (h.unsqueeze(-1) * r_x)
            j_rec = _rows(c_z, w_hh_t[..., blocks[1], :]).addcmul_(mix_dn.unsqueeze(-1), n_h)
            j_inp = _rows(c_z, w_ih_t[..., blocks[1], :]).addcmul_(mix_dn.unsqueeze(-1), n_x)
        j_rec.diagonal(dim1=-2, dim2=-1).add_(z)
        return j_rec, j_inp
