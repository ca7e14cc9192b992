"""Update-gate RNN (Collins, Sohl-Dickstein & Sussillo 2017)."""

from __future__ import annotations

from typing import ClassVar

import torch

from ._activations import block_scale
from ._base import Cell


class UGRNN(Cell):
    """``c = tanh(a_c)``, ``g = σ(a_g)``, ``h' = g ⊙ h + (1 - g) ⊙ c`` with
    ``a = x W_ih + h W_hh + b``.

    Parameters: ``W_ih [N, I, 2H]``, ``W_hh [N, H, 2H]``, ``b [N, 2H]``; blocks ordered
    ``(c, g)``. State ``h [..., H]``, confined to ``|h| ≤ 1``.

    Args:
        gate_bias: added to the gate bias at init (default 1.0, so the cell starts
            biased towards remembering, as in Collins et al.).
    """

    name: ClassVar[str] = "ugrnn"
    gates: ClassVar[int] = 2

    def __init__(self, hidden_size: int, input_size: int, *, gate_bias: float = 1.0, **kw) -> None:
        super().__init__(hidden_size, input_size, **kw)
        self.gate_bias = float(gate_bias)

    def _config(self):
        return {"gate_bias": self.gate_bias}

    def _adjust_init(self, params):
        params["b"][self.hidden_size :] += self.gate_bias

    def pointwise_forward(self, ax, ah, h, out=None):
        # one sigmoid for both blocks: tanh(a) = 2 σ(2a) - 1 (see _activations.tanh)
        s = torch.sigmoid((ax if ah is None else ax + ah) * self._block_scale(ax))
        c, g = s.chunk(2, dim=-1)
        c = 2 * c - 1
        return torch.lerp(c, h, g, out=out), (c, g)  # c + g (h - c)

    def _block_scale(self, like: torch.Tensor) -> torch.Tensor:
        return block_scale((2.0, 1.0), self.hidden_size, like)

    def pointwise_backward(self, dh_new, saved, h, d_ax, d_ah):
        c, g = saved
        size = self.hidden_size
        torch.mul(dh_new * (1 - g), 1 - c * c, out=d_ax[..., :size])
        torch.mul(dh_new * (h - c), g * (1 - g), out=d_ax[..., size:])
        return dh_new * g

    def _closed_form_jacobians(self, params, ax, ah, h, w_hh_t, w_ih_t):
        size = self.hidden_size
        _, (c, g) = self.pointwise_forward(ax, ah, h)
        d_c = ((1 - g) * (1 - c * c)).unsqueeze(-1)  # ∂h'/∂a_c
        d_g = ((h - c) * g * (1 - g)).unsqueeze(-1)  # ∂h'/∂a_g
        j_rec = (d_c * w_hh_t[..., :size, :]).addcmul_(d_g, w_hh_t[..., size:, :])
        j_rec.diagonal(dim1=-2, dim2=-1).add_(g)
        j_inp = (d_c * w_ih_t[..., :size, :]).addcmul_(d_g, w_ih_t[..., size:, :])
        return j_rec, j_inp
