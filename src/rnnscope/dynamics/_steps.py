"""Step functions as the dynamics tools see them, and their Jacobians.

A step is any callable ``F(h, x) -> h'`` batched over leading axes: ``h [..., S]`` and
``x [..., I]`` with the same leading shape, every row independent of the others. A
population is a step whose first leading axis indexes networks (``h [N, K, S]``).
Optional attributes make tools faster or safer: ``jacobians(h, x)`` (closed forms),
``state_bound`` (states live in ``|h| ≤ bound``), ``input_size``, ``to(dtype)``.
``rnnscope`` cells provide all of them through ``cell.bind(params)``.
"""

from __future__ import annotations

from collections.abc import Callable

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

    Uses ``step.jacobians`` when the step has closed forms; otherwise reverse-mode
    autodiff on a batch widened by ``S`` copies of each state (copy ``i`` pulls row
    ``i``), in chunks of at most ``max_elements`` state entries.
    """
    x = x.expand(*h.shape[:-1], x.shape[-1])
    if hasattr(step, "jacobians"):
        return step.jacobians(h, x)
    if h.dim() == 1:
        j_rec, j_inp = _autodiff_jacobians(step, h[None], x[None])
        return j_rec[0], j_inp[0]
    size = h.shape[-1]
    # chunk along the candidate axis (-2), keeping any network axes whole
    rows_per_candidate = h[..., 0, 0].numel()
    chunk = max(1, max_elements // (size * size * rows_per_candidate))
    rec, inp = [], []
    for start in range(0, h.shape[-2], chunk):
        hs = h[..., start : start + chunk, :]
        xs = x[..., start : start + chunk, :]
        j_rec, j_inp = _autodiff_jacobians(step, hs, xs)
        rec.append(j_rec)
        inp.append(j_inp)
    return torch.cat(rec, dim=-3), torch.cat(inp, dim=-3)


def _autodiff_jacobians(step: Step, h: torch.Tensor, x: torch.Tensor):
    size = h.shape[-1]
    with torch.enable_grad():
        # copy i of each state (axis -2) receives row i of the Jacobian
        h_rep = h.detach().unsqueeze(-2).expand(*h.shape[:-1], size, size).contiguous()
        x_rep = x.detach().unsqueeze(-2).expand(*x.shape[:-1], size, x.shape[-1]).contiguous()
        h_rep.requires_grad_(True)
        x_rep.requires_grad_(True)
        out = call_step(step, h_rep, x_rep)
        eye = torch.eye(size, dtype=out.dtype, device=out.device).expand_as(out)
        d_h, d_x = torch.autograd.grad(out, (h_rep, x_rep), eye, allow_unused=True)
    if d_x is None:
        d_x = torch.zeros_like(x_rep)
    return d_h, d_x


def default_inputs(step: Step, like: torch.Tensor) -> torch.Tensor:
    """The zero input ``[I]`` a step gets when none is given (needs ``step.input_size``)."""
    size = getattr(step, "input_size", None)
    if size is None:
        raise ValueError(
            "inputs=None needs a step with an input_size attribute; pass inputs explicitly."
        )
    return like.new_zeros(size)


def step_in_dtype(step: Step, dtype: torch.dtype) -> Step:
    """The step evaluated in ``dtype`` when it supports it (``step.to``), else itself."""
    return step.to(dtype) if hasattr(step, "to") else step
