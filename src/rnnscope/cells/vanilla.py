"""Vanilla (Elman) RNN: ``h' = phi(x W_ih + h W_hh + b)``."""

from __future__ import annotations

from typing import ClassVar

import torch

from .._validation import check_choice
from . import _activations
from ._base import Cell


class VanillaRNN(Cell):
    """Elman network, equal to ``torch.nn.RNN`` with ``b = b_ih + b_hh``.

    Parameters (population axis first): ``W_ih [N, I, H]``, ``W_hh [N, H, H]``,
    ``b [N, H]``. State: ``h [..., H]``.

    Args:
        hidden_size: units ``H``.
        input_size: input channels ``I``.
        activation: ``"tanh"`` (default; states stay in the box ``|h| ≤ 1``) or
            ``"relu"`` (unbounded states).
        recurrent_init, recurrent_gain: see :meth:`Cell.init`.
    """

    name: ClassVar[str] = "vanilla"
    gates: ClassVar[int] = 1

    def __init__(
        self, hidden_size: int, input_size: int, *, activation: str = "tanh", **kw
    ) -> None:
        super().__init__(hidden_size, input_size, **kw)
        self._activation = check_choice("activation", activation, _activations.ACTIVATIONS)

    @property
    def activation(self) -> str:
        return self._activation

    @property
    def state_bound(self) -> float | None:  # type: ignore[override]
        return 1.0 if self._activation == "tanh" else None

    def _config(self):
        return {"activation": self._activation}

    def pointwise_forward(self, ax, ah, h, out=None):
        h_new = _activations.apply(self._activation, ax if ah is None else ax + ah)
        if out is not None:
            out.copy_(h_new)
        return h_new, (h_new,)

    def pointwise_backward(self, dh_new, saved, h, d_ax, d_ah):
        (h_new,) = saved
        torch.mul(dh_new, _activations.derivative_from_output(self._activation, h_new), out=d_ax)
        return None

    def _closed_form_jacobians(self, params, ax, ah, h, w_hh_t, w_ih_t):
        y = _activations.apply(self.activation, ax + ah)
        slope = _activations.derivative_from_output(self.activation, y).unsqueeze(-1)
        return slope * w_hh_t, slope * w_ih_t
