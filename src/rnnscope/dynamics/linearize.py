"""Linearization of a step function around a point: Jacobians and their eigenmodes."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ._steps import Step, autonomous_if_needed, default_inputs, jacobians


@dataclass
class Linearization:
    """``Δh_{t+1} ≈ J_rec Δh_t + J_inp Δx_t`` around ``(h*, x*)``, with eigenmodes.

    All tensors carry the leading shape of the points (``[...]`` below).

    Attributes:
        points: ``h* [..., S]``; inputs: ``x* [..., I]``.
        jacobian: ``J_rec [..., S, S]`` (``∂h'_i/∂h_j``); input_jacobian ``J_inp [..., S, I]``.
        eigenvalues: ``λ [..., S]`` (complex), sorted by ``|λ|``, largest first (ties by
            angle, largest first).
        right_eigenvectors: ``R [..., S, S]``, column ``a`` is the mode ``r_a``
            (computed on first use).
        left_eigenvectors: ``L = R⁻¹ [..., S, S]``, row ``a`` is ``ℓ_aᵀ`` (``ℓ_aᵀ r_b = δ_ab``),
            so ``J_rec = R diag(λ) L`` (computed on first use).
        continuous_time: ``(dt, α)`` for an Euler-discretised flow (CTRNN), else ``None``.
    """

    points: torch.Tensor
    inputs: torch.Tensor
    jacobian: torch.Tensor
    input_jacobian: torch.Tensor
    eigenvalues: torch.Tensor
    continuous_time: tuple[float, float] | None = None
    _right: torch.Tensor | None = field(default=None, repr=False)
    _left: torch.Tensor | None = field(default=None, repr=False)

    @property
    def right_eigenvectors(self) -> torch.Tensor:
        if self._right is None:
            self._decompose()
        return self._right

    @property
    def left_eigenvectors(self) -> torch.Tensor:
        if self._left is None:
            self._decompose()
        return self._left

    def _decompose(self) -> None:
        # eigenvalues alone cost half of a full decomposition: vectors only on demand
        values, vectors = torch.linalg.eig(self.jacobian.to(torch.float64))
        order = _eigen_order(values)
        self.eigenvalues = values.gather(-1, order)
        self._right = vectors.gather(-1, order.unsqueeze(-2).expand_as(vectors))
        self._left = torch.linalg.inv(self._right)

    def select(self, index: torch.Tensor) -> Linearization:
        """The rows ``index`` of a linearization with one leading axis."""
        return Linearization(
            self.points[index],
            self.inputs[index],
            self.jacobian[index],
            self.input_jacobian[index],
            self.eigenvalues[index],
            self.continuous_time,
            None if self._right is None else self._right[index],
            None if self._left is None else self._left[index],
        )

    @property
    def magnitudes(self) -> torch.Tensor:
        """``|λ| [..., S]``."""
        return self.eigenvalues.abs()

    @property
    def is_stable(self) -> torch.Tensor:
        """A map's fixed point is stable when every ``|λ| < 1``: ``[...]`` bool."""
        return self.magnitudes.amax(dim=-1) < 1

    @property
    def n_unstable(self) -> torch.Tensor:
        """Number of unstable directions, ``#{a: |λ_a| > 1}``: ``[...]`` int."""
        return (self.magnitudes > 1).sum(dim=-1)

    @property
    def time_constants(self) -> torch.Tensor:
        """``τ_a = 1 / |ln |λ_a||`` in steps ``[..., S]``: how many steps a mode takes to
        decay (or grow) by a factor e; ``inf`` for ``|λ| = 1``."""
        return 1.0 / self.magnitudes.log().abs()

    @property
    def rotation(self) -> torch.Tensor:
        """Rotation per step ``arg λ_a`` in radians ``[..., S]`` (0 for real modes)."""
        return self.eigenvalues.angle()

    @property
    def flow_eigenvalues(self) -> torch.Tensor:
        """Eigenvalues of the flow behind an Euler step, in units of 1/time.

        For ``h' = h + (dt/τ) f(h)``, the Euler step of ``τ dh/dt = f(h)``, each map
        eigenvalue is ``λ = 1 + dt · μ`` with ``μ`` an eigenvalue of the flow's Jacobian
        ``Df/τ``; so ``μ_a = (λ_a - 1) / dt``. Raises for a plain map."""
        if self.continuous_time is None:
            raise ValueError(
                "this linearization is of a discrete map; flow eigenvalues exist for "
                "Euler-discretised flows such as the CTRNN (pass continuous_time=(dt, alpha))."
            )
        dt, _ = self.continuous_time
        return (self.eigenvalues - 1) / dt

    @property
    def flow_time_constants(self) -> torch.Tensor:
        """``-1 / Re μ_a`` in the flow's time unit (negative for growing modes)."""
        return -1.0 / self.flow_eigenvalues.real

    def mode_contribution(self, steps: int, input_vector: torch.Tensor) -> torch.Tensor:
        """``Σ_a λ_a^k r_a ℓ_aᵀ J_inp x`` for ``k = steps``: how an input ``x [..., I]``
        given ``k`` steps earlier moves the state now, mode by mode: ``[..., S(mode), S]``."""
        drive = self.left_eigenvectors @ (
            self.input_jacobian @ input_vector.to(self.input_jacobian).unsqueeze(-1)
        ).to(self.left_eigenvectors.dtype)  # [..., S, 1]
        gain = self.eigenvalues**steps
        return (gain.unsqueeze(-1) * drive * self.right_eigenvectors.transpose(-1, -2)).real


def linearize(
    step: Step,
    points: torch.Tensor,
    inputs: torch.Tensor | None = None,
    *,
    continuous_time: tuple[float, float] | None = None,
) -> Linearization:
    """Linearize ``step`` at states ``points [..., S]`` under inputs ``inputs [..., I]``.

    Jacobians come from the step's closed forms when it has them (``rnnscope`` cells),
    else from autodiff. The eigen-decomposition runs in float64.

    Args:
        step: ``F(h, x)`` batched over leading axes.
        points: states ``h* [..., S]``.
        inputs: ``x*``, broadcastable to ``[..., I]``; default zeros (needs
            ``step.input_size``; none for an autonomous map ``step(h)``).
        continuous_time: ``(dt, α)`` when the map is an Euler step of a flow; taken
            from ``step.continuous_time`` when present (the CTRNN).
    """
    points = torch.as_tensor(points)
    step = autonomous_if_needed(step, None if inputs is None else torch.as_tensor(inputs).shape[-1])
    if inputs is None:
        inputs = default_inputs(step, points)
    j_rec, j_inp = jacobians(step, points, inputs.to(points.dtype))
    eigenvalues = torch.linalg.eigvals(j_rec.detach().to(torch.float64))
    eigenvalues = eigenvalues.gather(-1, _eigen_order(eigenvalues))
    if continuous_time is None:
        continuous_time = getattr(step, "continuous_time", None)
    return Linearization(
        points=points,
        inputs=inputs.expand(*points.shape[:-1], inputs.shape[-1]),
        jacobian=j_rec.detach(),
        input_jacobian=j_inp.detach(),
        eigenvalues=eigenvalues,
        continuous_time=continuous_time,
    )


def _eigen_order(values: torch.Tensor) -> torch.Tensor:
    """Indices sorting eigenvalues by ``|λ|`` then angle, both descending (stable, so
    eigenvalues with and without vectors come out in the same order)."""
    by_angle = torch.argsort(values.angle(), dim=-1, descending=True, stable=True)
    mags = values.abs().gather(-1, by_angle)
    return by_angle.gather(-1, torch.argsort(mags, dim=-1, descending=True, stable=True))


__all__ = ["Linearization", "linearize"]
