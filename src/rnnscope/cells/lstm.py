"""Long short-term memory, with the state ``[h; c]`` the dynamics act on."""

from __future__ import annotations

from typing import ClassVar

import torch

from ._activations import block_scale, tanh
from ._base import Cell


class LSTM(Cell):
    """LSTM with gates ordered ``(i, f, g, o)`` as in ``torch.nn.LSTM``.

    ``a = x W_ih + h W_hh + b``; ``c' = σ(a_f) ⊙ c + σ(a_i) ⊙ tanh(a_g)``;
    ``h' = σ(a_o) ⊙ tanh(c')``.

    Parameters: ``W_ih [N, I, 4H]``, ``W_hh [N, H, 4H]``, ``b [N, 4H]`` (equal to
    ``torch.nn.LSTM``'s ``b_ih + b_hh``). The state is the concatenation
    ``[h; c]`` of width ``2H``: a fixed point of an LSTM is a point in that space.

    Args:
        forget_bias: added to the forget-gate bias at init (default 1.0, which keeps
            memories early in training; 0 reproduces PyTorch's initialisation).
    """

    name: ClassVar[str] = "lstm"
    gates: ClassVar[int] = 4
    #: h is bounded by 1 but the cell state c is not
    state_bound: ClassVar[float | None] = None

    def __init__(
        self, hidden_size: int, input_size: int, *, forget_bias: float = 1.0, **kw
    ) -> None:
        super().__init__(hidden_size, input_size, **kw)
        self.forget_bias = float(forget_bias)

    @property
    def state_size(self) -> int:
        return 2 * self.hidden_size

    def _config(self):
        return {"forget_bias": self.forget_bias}

    def _adjust_init(self, params):
        h = self.hidden_size
        params["b"][h : 2 * h] += self.forget_bias

    def pointwise_forward(self, ax, ah, state, out=None):
        size = self.hidden_size
        c = state[..., size:]
        # one sigmoid for all four blocks: tanh(a) = 2 σ(2a) - 1 (see _activations.tanh)
        scale = block_scale((1.0, 1.0, 2.0, 1.0), size, ax)
        s = torch.sigmoid((ax if ah is None else ax + ah) * scale)
        i, f, g, o = s.chunk(4, dim=-1)
        g = 2 * g - 1
        if out is None:
            c_new = torch.addcmul(f * c, i, g)
            tc = tanh(c_new)
            return torch.cat([o * tc, c_new], dim=-1), (s, g, tc)
        # written straight into the caller's state buffer: no per-step concatenation
        c_new = torch.addcmul(f * c, i, g, out=out[..., size:])
        tc = tanh(c_new)
        torch.mul(o, tc, out=out[..., :size])
        return out, (s, g, tc)

    def pointwise_backward(self, d_state, saved, state, d_ax, d_ah):
        s, g, tc = saved
        size = self.hidden_size
        i, f, o = s[..., :size], s[..., size : 2 * size], s[..., 3 * size :]
        c = state[..., size:]
        dh, dc = d_state[..., :size], d_state[..., size:]
        dc_total = torch.addcmul(dc, dh, o * (1 - tc * tc))
        torch.mul(dc_total, g, out=d_ax[..., :size])
        torch.mul(dc_total, c, out=d_ax[..., size : 2 * size])
        torch.mul(dc_total, i, out=d_ax[..., 2 * size : 3 * size])
        torch.mul(dh, tc, out=d_ax[..., 3 * size :])
        # the gates' slopes in one pass: σ(1-σ) per block, 4σ(1-σ) = 1 - g² for g
        slope = torch.addcmul(s, s, s, value=-1).mul_(block_scale((1.0, 1.0, 4.0, 1.0), size, s))
        d_ax.mul_(slope)
        # h enters the next state only through the matmul; c through the forget gate
        direct = torch.empty_like(d_state)
        direct[..., :size] = 0
        torch.mul(dc_total, f, out=direct[..., size:])
        return direct

    def _closed_form_jacobians(self, params, ax, ah, state, w_hh_t, w_ih_t):
        # ∂c'/∂(h or x) = Σ_gates diag(coefficient) W_gateᵀ, and ∂h'/∂· adds the output
        # gate's block: each Jacobian is a few fused row-scaled weight blocks.
        size = self.hidden_size
        _, (s, g, tc) = self.pointwise_forward(ax, ah, state)
        i, f, _, o = s.chunk(4, dim=-1)
        c = state[..., size:]
        out_slope = o * (1 - tc * tc)  # ∂h'/∂c'
        coef_c = (g * i * (1 - i), c * f * (1 - f), i * (1 - g * g))  # ∂c'/∂a for i, f, g
        coef_o = tc * o * (1 - o)  # ∂h'/∂a_o

        def blocks(w_t):
            dc = None
            for k, coef in enumerate(coef_c):
                w = w_t[..., k * size : (k + 1) * size, :]
                dc = coef.unsqueeze(-1) * w if dc is None else dc.addcmul_(coef.unsqueeze(-1), w)
            dh = (out_slope.unsqueeze(-1) * dc).addcmul_(
                coef_o.unsqueeze(-1), w_t[..., 3 * size :, :]
            )
            return dh, dc

        dh_dh, dc_dh = blocks(w_hh_t)
        dh_dx, dc_dx = blocks(w_ih_t)
        dh_dc = torch.diag_embed(out_slope * f)
        dc_dc = torch.diag_embed(f)
        j_rec = torch.cat([torch.cat([dh_dh, dh_dc], -1), torch.cat([dc_dh, dc_dc], -1)], -2)
        return j_rec, torch.cat([dh_dx, dc_dx], -2)
