"""Step functions as the dynamics tools see them, and their Jacobians.

A step is any callable ``F(h, x) -> h'`` batched over leading axes: ``h [..., S]`` and
``x [..., I]`` with the same leading shape, every row independent of the others. A
population is a step whose first leading axis indexes networks (``h [N, K, S]``). An
autonomous map may be written ``F(h)`` (see :func:`prepare`).
Optional attributes make tools faster or safer: ``jacobians(h, x)`` (closed forms),
``state_bound`` (states live in ``|h| ≤ bound``), ``input_size``, ``to(dtype)``.
``rnnscope`` cells provide all of them through ``cell.bind(params)``; other steps get
batched Jacobians from ``torch.func`` (``vmap`` over forward-mode ``jvp``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np
import torch

Step = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def call_step(step: Step, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``step(h, x)`` with its output checked: same shape as ``h``."""
    out = step(h, x)
    if not torch.is_tensor(out) or out.shape != h.shape:
        got = list(out.shape) if torch.is_tensor(out) else type(out).__name__
        raise ValueError(
            f"the step function returned {got} for states of shape {list(h.shape)}; "
            "it must map h [..., S] to a new state of the same shape."
        )
    return out


def jacobians(step: Step, h: torch.Tensor, x: torch.Tensor, *, max_elements: int = 1 << 24):
    """Jacobians of ``step`` at ``(h, x)``: ``J_rec [..., S, S]``, ``J_inp [..., S, I]``.

    Uses ``step.jacobians`` when the step has closed forms; otherwise ``torch.func``
    (forward-mode, one ``vmap`` over the ``S`` basis tangents, every row at once), in
    chunks of at most ``max_elements`` Jacobian entries.
    """
    x = x.expand(*h.shape[:-1], x.shape[-1])
    if hasattr(step, "jacobians"):
        return step.jacobians(h, x)
    j_rec = recurrent_jacobian(step, h, x, max_elements=max_elements)
    if x.shape[-1] == 0:
        return j_rec, h.new_zeros(*h.shape, 0)
    j_inp = _chunked(lambda hs, xs: _forward_jacobian(step, hs, xs, wrt=1), h, x, max_elements)
    return j_rec, j_inp


def recurrent_jacobian(
    step: Step, h: torch.Tensor, x: torch.Tensor, *, max_elements: int = 1 << 24
) -> torch.Tensor:
    """``J_rec [..., S, S]`` alone (what the Newton iterations need)."""
    x = x.expand(*h.shape[:-1], x.shape[-1])
    if hasattr(step, "jacobians"):
        return step.jacobians(h, x)[0]
    return _chunked(lambda hs, xs: _forward_jacobian(step, hs, xs, wrt=0), h, x, max_elements)


def _chunked(fn, h, x, max_elements):
    """``fn`` over chunks of the candidate axis (-2), network axes kept whole."""
    if h.dim() == 1:
        return fn(h[None], x[None])[0]
    size = h.shape[-1]
    rows_per_candidate = h[..., 0, 0].numel()
    chunk = max(1, max_elements // (size * size * rows_per_candidate))
    if chunk >= h.shape[-2]:
        return fn(h, x)
    parts = [
        fn(h[..., s : s + chunk, :], x[..., s : s + chunk, :]) for s in range(0, h.shape[-2], chunk)
    ]
    return torch.cat(parts, dim=-3)


def _forward_jacobian(step: Step, h: torch.Tensor, x: torch.Tensor, wrt: int) -> torch.Tensor:
    """Columns ``∂F/∂(h or x)_j`` for every row at once: tangent ``e_j`` on every row,
    one ``vmap`` over ``j``. Falls back to reverse mode on a widened batch when the step
    does not support ``torch.func`` transforms."""
    primal = (h.detach(), x.detach())
    width = primal[wrt].shape[-1]
    eye = torch.eye(width, dtype=primal[wrt].dtype, device=primal[wrt].device)
    basis = eye.reshape(width, *([1] * (primal[wrt].dim() - 1)), width).expand(
        width, *primal[wrt].shape
    )

    def column(v):
        def f(arg):
            args = list(primal)
            args[wrt] = arg
            return step(*args)

        return torch.func.jvp(f, (primal[wrt],), (v,))[1]

    try:
        cols = torch.func.vmap(column)(basis)  # [width(j), ..., S(i)]
    except (RuntimeError, NotImplementedError, TypeError):
        return _reverse_jacobian(step, h, x, wrt)
    return cols.movedim(0, -1)


def _reverse_jacobian(step: Step, h: torch.Tensor, x: torch.Tensor, wrt: int) -> torch.Tensor:
    """Reverse mode on a batch widened by ``S`` copies of each row (copy ``i`` pulls
    row ``i`` of the Jacobian)."""
    size = h.shape[-1]
    with torch.enable_grad():
        h_rep = h.detach().unsqueeze(-2).expand(*h.shape[:-1], size, size).contiguous()
        x_rep = x.detach().unsqueeze(-2).expand(*x.shape[:-1], size, x.shape[-1]).contiguous()
        target = (h_rep, x_rep)[wrt].requires_grad_(True)
        out = call_step(step, h_rep, x_rep)
        eye = torch.eye(size, dtype=out.dtype, device=out.device).expand_as(out)
        (grad,) = torch.autograd.grad(out, target, eye, allow_unused=True)
    return torch.zeros_like(target) if grad is None else grad


def default_inputs(step: Step, like: torch.Tensor) -> torch.Tensor:
    """The zero input ``[I]`` a step gets when none is given (``[0]`` for an
    autonomous map)."""
    size = getattr(step, "input_size", None)
    if size is None:
        raise ValueError(
            "inputs=None needs a step with an input_size attribute (or an autonomous map "
            "step(h)); pass inputs explicitly."
        )
    return like.new_zeros(size)


def step_in_dtype(step: Step, dtype: torch.dtype) -> Step:
    """The step evaluated in ``dtype`` when it supports it (``step.to``), else itself."""
    return step.to(dtype) if hasattr(step, "to") else step


# --------------------------------------------------------------------- preparation
class Autonomous:
    """An autonomous map ``F(h)`` (or ``F(h, x)`` that ignores ``x``) as a step with
    no input channels: ``x`` is ``[..., 0]`` and dropped."""

    input_size = 0

    def __init__(self, step, one_argument: bool) -> None:
        self.step, self.one_argument = step, one_argument
        for name in ("state_size", "state_bound", "continuous_time"):
            if hasattr(step, name):
                setattr(self, name, getattr(step, name))

    def __call__(self, h: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        return self.step(h) if self.one_argument else self.step(h, None)

    def to(self, dtype: torch.dtype) -> Autonomous:
        return Autonomous(step_in_dtype(self.step, dtype), self.one_argument)


def autonomous_if_needed(step, input_width: int | None):
    """``step`` as a two-argument step: an autonomous map ``F(h)`` (or any step when
    ``input_width == 0``) is wrapped to ignore ``x``."""
    if isinstance(step, Autonomous | Iterated):
        return step
    if takes_one_argument(step):
        return Autonomous(step, one_argument=True)
    if input_width == 0 and getattr(step, "input_size", None) is None:
        return Autonomous(step, one_argument=False)
    return step


def takes_one_argument(step) -> bool:
    """Whether ``step`` is called ``step(h)`` (one required positional parameter)."""
    try:
        params = inspect.signature(step).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    if any(p.kind == p.VAR_POSITIONAL for p in positional):
        return False
    return len(positional) == 1 or (
        len(positional) >= 2 and all(p.default is not p.empty for p in positional[1:])
    )


def prepare(step, states, inputs):
    """The step, states and inputs of a dynamics call, made consistent.

    Autonomous maps (``step(h)``, or ``inputs=None`` for a step without
    ``input_size``) become steps with zero input channels. States and inputs (tensors,
    arrays or lists) are coerced to the dtype and device the step computes in: the
    parameters' for ``rnnscope`` cells and wrapped modules, else found by calling the
    step once; a step that runs in none of them raises one clear error.

    Returns:
        ``(step, states, inputs)``; ``inputs`` is ``[..., I]`` in the states' dtype.
    """
    h = states if torch.is_tensor(states) else torch.as_tensor(np.asarray(states))
    if not h.is_floating_point():
        raise TypeError(f"initial_states must be floating point, got {h.dtype}.")
    h = h.detach()
    if takes_one_argument(step) and inputs is None:
        step = Autonomous(step, one_argument=True)
    elif inputs is None and getattr(step, "input_size", None) is None:
        step = Autonomous(step, one_argument=False)
    if inputs is None:
        x = default_inputs(step, h)
    else:
        x = inputs if torch.is_tensor(inputs) else torch.as_tensor(np.asarray(inputs))
        x = x.detach()
    dtype, device = _declared(step)
    if dtype is None:
        dtype, device = _probe(step, h, x)
    return step, h.to(dtype=dtype, device=device), x.to(dtype=dtype, device=device)


def _declared(step):
    """dtype and device of a step's parameters, when it says."""
    params = getattr(step, "params", None)
    if isinstance(params, dict) and params:
        first = next(iter(params.values()))
        return first.dtype, first.device
    modules = getattr(step, "modules", None)
    if isinstance(modules, list) and modules:
        first = next(modules[0].parameters(), None)
        if first is not None:
            return first.dtype, first.device
    inner = getattr(step, "step", None)
    if isinstance(step, Autonomous | Iterated) and inner is not None:
        return _declared(inner)
    return None, None


def _probe(step, h: torch.Tensor, x: torch.Tensor):
    """Call the step on one state in the states' dtype and device, then in the other
    float dtypes and devices; the first that runs gives the step's dtype and device."""
    width = x.shape[-1] if x.dim() else 0
    tries = [(h.dtype, h.device)]
    for dtype in (torch.float32, torch.float64):
        if (dtype, h.device) not in tries:
            tries.append((dtype, h.device))
    if torch.cuda.is_available() and h.device.type != "cuda":
        tries += [(torch.float32, torch.device("cuda")), (torch.float64, torch.device("cuda"))]
    errors = []
    one = h[..., :1, :] if h.dim() >= 2 else h
    for dtype, device in tries:
        try:
            probe_h = one.to(dtype=dtype, device=device)
            probe_x = x.reshape(-1, width)[:1].to(dtype=dtype, device=device) if x.numel() else None
            probe_x = (
                probe_h.new_zeros(*probe_h.shape[:-1], width)
                if probe_x is None
                else probe_x.reshape(*([1] * (probe_h.dim() - 1)), width).expand(
                    *probe_h.shape[:-1], width
                )
            )
            with torch.no_grad():
                out = step(probe_h, probe_x)
        except (RuntimeError, TypeError) as err:
            errors.append(f"{str(dtype).replace('torch.', '')} on {device}: {err}")
            continue
        if torch.is_tensor(out):
            return out.dtype if out.is_floating_point() else dtype, out.device
        return dtype, device
    raise ValueError(
        "the step function fails on states of every float dtype and device tried ("
        + "; ".join(errors)
        + "); check that it maps h [..., S] (and x [..., I]) to a new state, or give "
        "candidates in the dtype and device of its parameters."
    )


class Iterated:
    """``F^k``: the step applied ``k`` times under a constant input, with Jacobians by
    the chain rule (closed-form per step when the step has them)."""

    def __init__(self, step, period: int) -> None:
        self.step, self.period = step, int(period)
        for name in ("state_size", "input_size", "state_bound"):
            if hasattr(step, name):
                setattr(self, name, getattr(step, name))

    def __call__(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        for _ in range(self.period):
            h = call_step(self.step, h, x)
        return h

    def orbit(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``[..., k, S]``: ``h, F(h), …, F^{k−1}(h)``."""
        states = [h]
        for _ in range(self.period - 1):
            states.append(call_step(self.step, states[-1], x))
        return torch.stack(states, dim=-2)

    def jacobians(self, h: torch.Tensor, x: torch.Tensor):
        j_rec, j_inp = jacobians(self.step, h, x)
        for _ in range(self.period - 1):
            h = call_step(self.step, h, x).detach()
            a, b = jacobians(self.step, h, x)
            j_rec, j_inp = a @ j_rec, a @ j_inp + b
        return j_rec, j_inp

    def to(self, dtype: torch.dtype) -> Iterated:
        return Iterated(step_in_dtype(self.step, dtype), self.period)
