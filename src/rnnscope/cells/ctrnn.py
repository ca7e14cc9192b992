"""Continuous-time (leaky rate) RNN, Euler-discretised.

``h' = (1 - α) h + α phi(h W_hh + x W_ih + b)`` with ``α = dt / tau``: the Euler step of
``tau dh/dt = -h + phi(W h + U x + b)``. A fixed point of the map is a fixed point of the
flow, and an eigenvalue ``λ`` of the map's Jacobian reads ``μ = (λ - 1) / α`` in the
flow (units of 1/``dt``).
"""

from __future__ import annotations

from typing import ClassVar

import torch

from . import _activations
from .vanilla import VanillaRNN


class CTRNN(VanillaRNN):
    """Leaky rate network: the vanilla cell with a leak (``α = 1`` recovers it).

    Parameters: ``W_ih [N, I, H]``, ``W_hh [N, H, H]``, ``b [N, H]``. State ``h [..., H]``;
    with ``tanh`` a convex mix of ``h`` and ``phi(.)`` stays in the box ``|h| ≤ 1``.

    Args:
        hidden_size: units ``H``.
        input_size: input channels ``I``.
        dt: Euler time step (default 10, in the same unit as ``tau``, e.g. ms).
        tau: membrane time constant (default 100). ``α = dt / tau`` must lie in (0, 1].
        activation: ``"tanh"`` (default) or ``"relu"``.
    """

    name: ClassVar[str] = "ctrnn"

    def __init__(
        self,
        hidden_size: int,
        input_size: int,
        *,
        dt: float = 10.0,
        tau: float = 100.0,
        activation: str = "tanh",
        **kw,
    ) -> None:
        super().__init__(hidden_size, input_size, activation=activation, **kw)
        if not (dt > 0 and tau > 0 and dt <= tau):
            raise ValueError(f"need 0 < dt <= tau for a stable Euler step, got dt={dt}, tau={tau}.")
        self.dt, self.tau = float(dt), float(tau)
        self.alpha = self.dt / self.tau

    def _config(self):
        return {"dt": self.dt, "tau": self.tau, **super()._config()}

    def pointwise_forward(self, ax, ah, h, out=None):
        r = _activations.apply(self.activation, ax if ah is None else ax + ah)
        return torch.lerp(h, r, self.alpha, out=out), (r,)  # h + α (r - h)

    def pointwise_backward(self, dh_new, saved, h, d_ax, d_ah):
        (r,) = saved
        slope = _activations.derivative_from_output(self.activation, r)
        torch.mul(dh_new * self.alpha, slope, out=d_ax)
        return dh_new * (1 - self.alpha)

    def _closed_form_jacobians(self, params, ax, ah, h, w_hh_t, w_ih_t):
        r = _activations.apply(self.activation, ax + ah)
        slope = (self.alpha * _activations.derivative_from_output(self.activation, r)).unsqueeze(-1)
        eye = torch.eye(self.hidden_size, dtype=h.dtype, device=h.device)
        return (1 - self.alpha) * eye + slope * w_hh_t, slope * w_ih_t
