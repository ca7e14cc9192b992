"""What every cell shares: parameter layout, initialisation, shape checks.

A cell is a small configuration object plus pure functions over an explicit
parameter dict. Parameters carry a leading population axis ``[N, ...]``; weights are
stored *input-major* (``W_ih [N, I, G]``, ``W_hh [N, R, G]``) so that a step is
``h @ W`` with no transposes.

Every built-in cell splits its step into three pieces so that a population can be
trained with a hand-written backward pass through time (``rnnscope._recurrence``):

``input_projection``  ``x @ W_ih + b``, hoisted out of the time loop;
``recurrent_projection``  ``h[..., :R] @ W_hh (+ b_rec)``, one batched matmul a step;
``pointwise``  the elementwise update ``(a_x, a_h, h) -> h'`` and its derivative.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch

from .._validation import check_finite_params, check_positive_int

Params = dict[str, torch.Tensor]


class Cell:
    """Base class for recurrent cells. Subclasses define the gate layout.

    Attributes:
        hidden_size: number of units ``H``.
        input_size: number of input channels ``I``.
        state_size: length ``S`` of the state vector the dynamics act on
            (``H``, or ``2H`` for the LSTM's ``[h; c]``).
        gates: number of ``H``-wide blocks in the pre-activation ``G = gates * H``.
    """

    name: ClassVar[str] = "cell"
    gates: ClassVar[int] = 1
    #: whether ``pointwise`` has a hand-written derivative (``_recurrence`` fast path)
    fused: ClassVar[bool] = True
    #: states of this cell lie in this box (``None``: unbounded); used to flag
    #: fixed-point candidates that wander where the cell cannot go.
    state_bound: ClassVar[float | None] = 1.0

    def __init__(
        self,
        hidden_size: int,
        input_size: int,
        *,
        recurrent_init: str = "fan_in",
        recurrent_gain: float = 1.0,
    ) -> None:
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.input_size = check_positive_int("input_size", input_size)
        if recurrent_init not in ("fan_in", "orthogonal"):
            raise ValueError(
                f"unknown recurrent_init {recurrent_init!r}; choose 'fan_in' or 'orthogonal'."
            )
        if not (isinstance(recurrent_gain, int | float) and recurrent_gain > 0):
            raise ValueError(f"recurrent_gain must be a positive number, got {recurrent_gain!r}.")
        self.recurrent_init = recurrent_init
        self.recurrent_gain = float(recurrent_gain)

    # ----------------------------------------------------------------- layout
    @property
    def state_size(self) -> int:
        return self.hidden_size

    @property
    def activation(self) -> str | None:
        """The nonlinearity a grid varies (``None`` for gated cells with fixed ones)."""
        return None

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self._config().items())
        return f"{type(self).__name__}(hidden_size={self.hidden_size}, input_size={self.input_size}{extra})"

    def _config(self) -> dict[str, object]:
        return {}

    def config(self) -> dict[str, object]:
        """Everything needed to rebuild this cell: ``cells.from_config(cell.config())``."""
        return {
            "architecture": self.name,
            "hidden_size": self.hidden_size,
            "input_size": self.input_size,
            "recurrent_init": self.recurrent_init,
            "recurrent_gain": self.recurrent_gain,
            **self._config(),
        }

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shapes of one network's parameters (without the population axis)."""
        h, i, g = self.hidden_size, self.input_size, self.gates * self.hidden_size
        return {"W_ih": (i, g), "W_hh": (h, g), "b": (g,)}

    # ------------------------------------------------------------------ init
    def init(
        self,
        population: int = 1,
        seed: int | list[int] | tuple[int, ...] = 0,
        dtype: torch.dtype = torch.float32,
    ) -> Params:
        """Draw parameters for ``population`` networks: tensors ``[N, ...]``.

        Network ``n`` is drawn from its own generator seeded with ``seed[n]`` (or
        ``seed + n`` for an int), so a network's initial weights do not depend on
        which population it was drawn in.

        Initialisers: input weights and biases ~ U(-1/sqrt(H), 1/sqrt(H)) as in
        ``torch.nn.RNN/GRU/LSTM``; recurrent weights either ``fan_in`` (Gaussian with
        sd ``gain / sqrt(H)``, spectral radius ≈ gain) or ``orthogonal`` (each H×H
        block an orthogonal matrix scaled by ``gain``).
        """
        n = check_positive_int("population", population)
        seeds = _seed_list(seed, n)
        per_network = [self._init_one(torch.Generator().manual_seed(s), dtype) for s in seeds]
        return {k: torch.stack([p[k] for p in per_network]) for k in per_network[0]}

    def _init_one(self, gen: torch.Generator, dtype: torch.dtype) -> Params:
        h = self.hidden_size
        bound = 1.0 / math.sqrt(h)
        params: Params = {}
        for key, shape in self.param_shapes().items():
            if key == "W_hh" or key == "W_hn":
                params[key] = self._recurrent(shape, gen, dtype)
            else:
                params[key] = (torch.rand(shape, generator=gen, dtype=dtype) * 2 - 1) * bound
        self._adjust_init(params)
        return params

    def _recurrent(self, shape: tuple[int, ...], gen: torch.Generator, dtype: torch.dtype):
        rows, cols = shape
        blocks = []
        for _ in range(cols // rows):
            if self.recurrent_init == "orthogonal":
                q, r = torch.linalg.qr(torch.randn(rows, rows, generator=gen, dtype=torch.float64))
                q = q * torch.sign(torch.diagonal(r))  # uniform (Haar) orthogonal matrix
                blocks.append(q.to(dtype) * self.recurrent_gain)
            else:
                w = torch.randn(rows, rows, generator=gen, dtype=dtype)
                blocks.append(w * (self.recurrent_gain / math.sqrt(rows)))
        return torch.cat(blocks, dim=1)

    def _adjust_init(self, params: Params) -> None:
        """Hook for cell-specific initial values (e.g. the LSTM forget bias)."""

    # ------------------------------------------------------------ validation
    def check_params(self, params: Params) -> int:
        """Validate a parameter dict; return its population size ``N``."""
        if not isinstance(params, dict):
            raise TypeError(f"params must be a dict of tensors, got {type(params).__name__}.")
        shapes = self.param_shapes()
        missing = sorted(set(shapes) - set(params))
        if missing:
            raise KeyError(
                f"params for {self!r} lack {missing}; build them with cell.init(population, seed)."
            )
        check_finite_params(params)
        n = None
        for key, shape in shapes.items():
            got = tuple(params[key].shape)
            if got[1:] != shape or len(got) != len(shape) + 1:
                raise ValueError(
                    f"params[{key!r}] has shape {list(got)}, expected [N, {', '.join(map(str, shape))}] "
                    f"for {self!r}."
                )
            if n is None:
                n = got[0]
            elif got[0] != n:
                raise ValueError(
                    f"params[{key!r}] has population size {got[0]} but other tensors have {n}."
                )
        assert n is not None
        return n

    # ------------------------------------------------------------ the step
    def input_projection(self, params: Params, x: torch.Tensor, shared: bool) -> torch.Tensor:
        """``x @ W_ih + b`` -> ``[N, *batch, G]``.

        ``x`` is ``[N, *batch, I]`` (one input per network) or, with ``shared=True``,
        ``[*batch, I]`` fed to every network, computed as one matmul against all
        networks' weights.
        """
        w, b = params["W_ih"], params["b"]
        if shared:
            out = torch.matmul(x.reshape(-1, x.shape[-1]), w) + b[:, None, :]
            return out.reshape(w.shape[0], *x.shape[:-1], w.shape[-1])
        return _batched_matmul(x, w) + _expand_bias(b, x.dim())

    def recurrent_bias(self, params: Params) -> torch.Tensor | None:
        """Bias added to ``h @ W_hh`` inside the step (GRU reset-after), else ``None``."""
        return None

    def recurrent_projection(self, params: Params, h: torch.Tensor) -> torch.Tensor:
        """``h[..., :H] @ W_hh (+ b_rec)``: ``h [N, *batch, S]`` -> ``[N, *batch, G]``."""
        out = _batched_matmul(h[..., : self.hidden_size], params["W_hh"])
        bias = self.recurrent_bias(params)
        return out if bias is None else out + _expand_bias(bias, h.dim())

    def pointwise(self, ax: torch.Tensor, ah: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """Elementwise update ``h' = f(a_x, a_h, h)``; shapes ``[..., G], [..., G], [..., S]``."""
        return self.pointwise_forward(ax, ah, h)[0]

    def pointwise_forward(self, ax, ah, h, out=None):
        """Return ``(h', saved)``: the new state and what ``pointwise_backward`` needs.

        ``ah`` is ``None`` when ``ax`` already holds ``a_x + a_h`` (cells with
        ``summed_projections``: the recurrence adds them inside its matmul). With
        ``out`` (a view of the caller's state buffer) ``h'`` is written there and
        ``saved`` must not alias it (noise is added to ``out`` afterwards)."""
        raise NotImplementedError

    #: whether ``a_x`` and ``a_h`` enter the update only through their sum, so that
    #: their gradients are equal (all fused cells but the reset-after GRU)
    summed_projections: ClassVar[bool] = True

    def pointwise_backward(self, dh_new, saved, h, d_ax, d_ah):
        """Backward of ``pointwise_forward`` given the gradient ``dh_new`` of ``h'``.

        Writes the gradients of the two projections into ``d_ax`` and ``d_ah``
        (``[..., G]`` views of the caller's buffers; ``d_ah`` is ``None`` when
        ``summed_projections``) and returns the gradient reaching ``h`` directly,
        not through the recurrent matmul (``[..., S]``, or ``None`` for zero).
        """
        raise NotImplementedError

    def step(self, params: Params, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """One step ``h' = F(h, x)``, batched over leading axes.

        Args:
            params: parameter dict with population axis, tensors ``[N, ...]``.
            h: states ``[N, *batch, S]``.
            x: inputs ``[N, *batch, I]``, or ``[*batch, I]`` shared by all networks.

        Returns:
            New states ``[N, *batch, S]``.
        """
        x = self._align_input(h, x)
        ax = self.input_projection(params, x, shared=x.dim() < h.dim())
        return self.pointwise(ax, self.recurrent_projection(params, h), h)

    def _align_input(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Check ``h``/``x`` shapes; broadcast shared inputs to the batch of ``h``."""
        if h.shape[-1] != self.state_size:
            raise ValueError(
                f"states have width {h.shape[-1]} but {self!r} has state_size {self.state_size}."
            )
        if h.dim() < 2:
            raise ValueError(
                f"states must be [N, *batch, {self.state_size}], got shape {list(h.shape)}."
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"inputs have width {x.shape[-1]} but {self!r} has input_size {self.input_size}."
            )
        if x.dim() > h.dim():
            raise ValueError(
                f"inputs of shape {list(x.shape)} have more axes than states {list(h.shape)}."
            )
        if x.dim() < h.dim():  # shared by all networks: [*batch, I]
            try:
                return x.expand(*h.shape[1:-1], x.shape[-1])
            except RuntimeError:
                raise ValueError(
                    f"shared inputs of shape {list(x.shape)} do not broadcast to the batch "
                    f"{list(h.shape[1:-1])} of states {list(h.shape)}."
                ) from None
        return x

    # --------------------------------------------------------- Jacobians
    def jacobians(
        self, params: Params, h: torch.Tensor, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Closed-form Jacobians of one step at ``(h, x)``.

        Args:
            params: ``[N, ...]``; ``h [N, *batch, S]``; ``x`` as in :meth:`step`.

        Returns:
            ``J_rec [N, *batch, S, S]`` with ``J_rec[..., i, j] = ∂h'_i / ∂h_j`` and
            ``J_inp [N, *batch, S, I]`` with ``J_inp[..., i, k] = ∂h'_i / ∂x_k``.
        """
        x = self._align_input(h, x)
        ax = self.input_projection(params, x, shared=x.dim() < h.dim())
        ah = self.recurrent_projection(params, h)
        w_hh_t = _view_weights(params["W_hh"].transpose(-1, -2), h.dim())  # [N, 1.., G, H]
        w_ih_t = _view_weights(params["W_ih"].transpose(-1, -2), h.dim())  # [N, 1.., G, I]
        return self._closed_form_jacobians(params, ax, ah, h, w_hh_t, w_ih_t)

    def _closed_form_jacobians(self, params, ax, ah, h, w_hh_t, w_ih_t):
        raise NotImplementedError(f"{type(self).__name__} has no closed-form Jacobian.")

    def bind(self, params: Params) -> BoundStep:
        """This cell with fixed parameters, as the step function ``F(h, x)`` that the
        dynamics tools take (with closed-form Jacobians and the state bound)."""
        self.check_params(params)
        return BoundStep(self, params)


class BoundStep:
    """A cell bound to parameters: ``step(h, x) -> h'`` batched over leading axes.

    ``h [N, *batch, S]`` for a population of ``N`` networks. Attributes used by
    :mod:`rnnscope.dynamics`: ``state_size``, ``input_size``, ``state_bound`` and
    :meth:`jacobians` (closed forms, checked against autodiff in the tests).
    """

    def __init__(self, cell: Cell, params: Params) -> None:
        self.cell = cell
        self.params = params

    @property
    def state_size(self) -> int:
        return self.cell.state_size

    @property
    def input_size(self) -> int:
        return self.cell.input_size

    @property
    def state_bound(self) -> float | None:
        return self.cell.state_bound

    @property
    def population(self) -> int:
        return self.params["W_hh"].shape[0]

    @property
    def continuous_time(self) -> tuple[float, float] | None:
        """``(dt, α)`` when the cell is an Euler step of a flow (CTRNN), else ``None``."""
        alpha = getattr(self.cell, "alpha", None)
        return None if alpha is None else (self.cell.dt, alpha)

    def __call__(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.cell.step(self.params, h, x)

    def jacobians(self, h: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cell.jacobians(self.params, h, x)

    def to(self, dtype: torch.dtype) -> BoundStep:
        """The same step with parameters cast to ``dtype`` (e.g. float64 for polishing)."""
        return BoundStep(self.cell, {k: v.to(dtype) for k, v in self.params.items()})

    def __repr__(self) -> str:
        return f"BoundStep({self.cell!r}, population={self.population})"


def _view_weights(w: torch.Tensor, ndim: int) -> torch.Tensor:
    """``[N, A, B]`` viewed as ``[N, 1, ..., 1, A, B]`` to broadcast against ``[N, *batch, ...]``."""
    return w.reshape(w.shape[0], *([1] * (ndim - 2)), *w.shape[1:])


def _rows(d: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """``diag(d) @ m`` for batched ``d [..., A]`` and ``m [..., A, B]`` (a new tensor)."""
    return d.unsqueeze(-1) * m


def _batched_matmul(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``x [N, *batch, K] @ w [N, K, G] -> [N, *batch, G]`` as one batched matmul."""
    n = w.shape[0]
    flat = x.reshape(n, -1, x.shape[-1])
    return torch.bmm(flat, w).reshape(*x.shape[:-1], w.shape[-1])


def _expand_bias(b: torch.Tensor, ndim: int) -> torch.Tensor:
    """Bias ``[N, G]`` viewed as ``[N, 1, ..., 1, G]`` for an ``ndim``-dim tensor."""
    return b.reshape(b.shape[0], *([1] * (ndim - 2)), b.shape[-1])


def _seed_list(seed: int | list[int] | tuple[int, ...], n: int) -> list[int]:
    if isinstance(seed, bool):
        raise TypeError("seed must be an int or a list of ints, got a bool.")
    if isinstance(seed, int):
        return [seed + i for i in range(n)]
    seeds = [int(s) for s in seed]
    if len(seeds) != n:
        raise ValueError(f"got {len(seeds)} seeds for a population of {n}.")
    return seeds
