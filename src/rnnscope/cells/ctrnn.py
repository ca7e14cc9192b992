"""Continuous-time (leaky rate) RNN, Euler-discretised.

``h' = (1 - α) h + α phi(h W_hh + x W_ih + b)`` with ``α = dt / tau``: the Euler step of
``tau dh/dt = -h + phi(W h + U x + b)``. A fixed point of the map is a fixed point of the
flow, and an eigenvalue ``λ`` of the map's Jacobian reads ``μ = (λ - 1) / α`` in the
flow (units of 1/``dt``).
"""

from __future__ import annotations

from typing import ClassVar

import torch

from .._validation import check_choice
from . import _activations
from ._base import Cell


class CTRNN(Cell):
    """Leaky rate network.

    Parameters: ``W_ih [N, I, H]``, ``W_hh [N, H, H]``, ``b [N, H]``. State ``h [..., H]``.

    Args:
        hidden_size: units ``H``.
        input_size: input channels ``I``.
        dt: Euler time step (default 10, in the same unit as ``tau``, e.g. ms).
        tau: membrane time constant (default 100). ``α = dt / tau`` must lie in (0, 1].
        activation: ``"tanh"`` (default) or ``"relu"``.
    """

    name: ClassVar[str] = "ctrnn"
    gates: ClassVar[int] = 1

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
        super().__init__(hidden_size, input_size, **kw)
        if not (dt > 0 and tau > 0 and dt <= tau):
            raise ValueError(f"need 0 < dt <= tau for a stable Euler step, got dt={dt}, tau={tau}.")
        self.dt, self.tau = float(dt), float(tau)
        self.alpha = self.dt / self.tau
        self._activation = check_choice("activation", activation, _activations.ACTIVATIONS)

    @property
    def activation(self) -> str:
        return self._activation

    @property
    def state_bound(self) -> float | None:  # type: ignore[override]
        # a convex mix of h and phi(.) in [-1, 1] stays in the box once inside it
        return 1.0 if self._activation == "tanh" else None

    def _config(self):
        return {"dt": self.dt, "tau": self.tau, "activation": self._activation}

    def pointwise_forward(self, ax, ah, h):
        r = _activations.apply(self._activation, ax + ah)
        return torch.lerp(h, r, self.alpha), (r,)  # h + α (r - h)

    def pointwise_backward(self, dh_new, saved, h, d_ax, d_ah):
        (r,) = saved
        slope = _activations.derivative_from_output(self._activation, r)
        torch.mul(dh_new * self.alpha, slope, out=d_ax)
        return dh_new * (1 - self.alpha)
