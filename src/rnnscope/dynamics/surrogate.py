"""A linearized surrogate of a network, built from its fixed points."""

from __future__ import annotations

import numpy as np
import torch

from .fixed_points import FixedPoints


class LinearizedModel:
    """``h_{t+1} ≈ h* + J (h_t − h*) + J_inp (x_{t+1} − x*)`` around a fixed point.

    Args:
        fixed_points: points of one network (use ``FixedPoints.for_network``), with
            Jacobians.
        anchor: index of the fixed point to expand around always; ``None`` (default)
            picks the nearest fixed point at every step.
    """

    def __init__(self, fixed_points: FixedPoints, *, anchor: int | None = None) -> None:
        if len(fixed_points) == 0:
            raise ValueError("no fixed points to linearize around.")
        if int(fixed_points.network.unique().numel()) != 1:
            raise ValueError(
                "fixed points of several networks: select one with fixed_points.for_network(n)."
            )
        if anchor is not None and not 0 <= anchor < len(fixed_points):
            raise ValueError(
                f"anchor {anchor} is not a row of the {len(fixed_points)} fixed points."
            )
        self.points = fixed_points.points.double()
        self.inputs = fixed_points.inputs.double()
        self.jacobian = fixed_points.jacobians.double()
        self.input_jacobian = fixed_points.input_jacobians.double()
        self.anchor = anchor

    def nearest(self, h: torch.Tensor) -> torch.Tensor:
        """Index of the expansion point for each state ``h [..., S]``."""
        if self.anchor is not None:
            return torch.full(h.shape[:-1], self.anchor, dtype=torch.long)
        flat = h.double().reshape(-1, h.shape[-1])
        return torch.cdist(flat, self.points).argmin(dim=1).reshape(h.shape[:-1])

    #: Jacobian entries gathered at once (rows of a large batch go in chunks: gathering
    #: one S × S Jacobian per state for 50,000 probe states of a 128-unit network
    #: took 13.9 GB)
    max_elements: int = 1 << 24

    def step(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """One linearized step: ``h [..., S]``, ``x [..., I]`` -> ``[..., S]`` (float64)."""
        h, x = torch.as_tensor(h).double(), torch.as_tensor(x).double()
        shape = h.shape
        h = h.reshape(-1, shape[-1])
        x = x.expand(*shape[:-1], x.shape[-1]).reshape(len(h), -1)
        k = self.nearest(h)
        size, width = self.jacobian.shape[-1], self.input_jacobian.shape[-1]
        rows = max(1, self.max_elements // (size * (size + width)))
        out = torch.empty_like(h)
        for i in range(0, len(h), rows):
            kk = k[i : i + rows]
            dh = (h[i : i + rows] - self.points[kk]).unsqueeze(-1)
            dx = (x[i : i + rows] - self.inputs[kk]).unsqueeze(-1)
            moved = self.jacobian[kk] @ dh + self.input_jacobian[kk] @ dx
            out[i : i + rows] = self.points[kk] + moved.squeeze(-1)
        return out.reshape(shape)

    def rollout(self, h0: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Run the surrogate alone from ``h0 [S]`` over ``inputs [T, I]``: ``[T, S]``."""
        h, out = torch.as_tensor(h0).double(), []
        for x in torch.as_tensor(inputs).double():
            h = self.step(h, x)
            out.append(h)
        return torch.stack(out)

    def one_step_error(self, states, inputs, h0=None) -> np.ndarray:
        """Relative one-step error ``‖ĥ_t − h_t‖ / ‖h_t − h_{t−1}‖`` along a trajectory.

        Args:
            states: ``[T, S]`` the network's states, ``h_t = F(h_{t−1}, x_t)``.
            inputs: ``[T, I]``, ``x_t``.
            h0: the state before the first step (default zeros).

        Returns:
            ``[T]`` relative errors (``nan`` where the network did not move).
        """
        states = torch.as_tensor(states).double()
        prev = torch.cat([self._h0(h0, states), states[:-1]])
        predicted = self.step(prev, torch.as_tensor(inputs).double())
        moved = (states - prev).norm(dim=-1)
        err = (predicted - states).norm(dim=-1) / moved
        return torch.where(moved > 0, err, torch.full_like(err, float("nan"))).numpy()

    def rollout_error(self, states, inputs, h0=None) -> np.ndarray:
        """Error of the free-running surrogate, ``‖ĥ_t − h_t‖`` over the RMS spread of
        the true trajectory: ``[T]``, growing as errors accumulate."""
        states = torch.as_tensor(states).double()
        predicted = self.rollout(self._h0(h0, states)[0], inputs)
        spread = (states - states.mean(0)).pow(2).sum(-1).mean().sqrt().clamp_min(1e-30)
        return ((predicted - states).norm(dim=-1) / spread).numpy()

    def _h0(self, h0, states):
        return (
            torch.zeros_like(states[:1])
            if h0 is None
            else torch.as_tensor(h0).double().reshape(1, -1)
        )
