"""A population's time loop with a hand-written backward pass through time.

Autograd through a Python time loop records a dozen small ops per step and replays
them one by one. Here the forward pass runs the cell's matmul and elementwise update
per step and stores only the gate values; the backward pass costs, per step, the
cell's hand-derived elementwise derivative plus one batched matmul for the state
gradient. Weight gradients are accumulated afterwards as one large matmul over all
time steps and batch elements (``[N, R, T·B] @ [N, T·B, G]``), which runs near the
machine's matmul peak.

Tested against autograd through ``cell.step`` (values and gradients) in
``tests/test_recurrence.py``.
"""

from __future__ import annotations

import torch

from .cells._base import Cell


class _Recurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, cell: Cell, ax, w_hh, b_rec, h0, noise):
        # ax [T, N, B, G] (time-major, contiguous), w_hh [N, R, G], b_rec [N, G] | None,
        # h0 [N, B, S], noise [T, N, B, S] | None  ->  states [T, N, B, S]
        steps = ax.shape[0]
        rec = w_hh.shape[1]
        states = ax.new_empty((steps + 1, *h0.shape))
        states[0] = h0
        bias = None if b_rec is None else b_rec.unsqueeze(1)
        saved = []
        for t in range(steps):
            h = states[t]
            h_in = h if rec == h.shape[-1] else h[..., :rec]
            ah = torch.bmm(h_in, w_hh) if bias is None else torch.baddbmm(bias, h_in, w_hh)
            h_new, keep = cell.pointwise_forward(ax[t], ah, h)
            if noise is not None:
                h_new = h_new + noise[t]
            states[t + 1] = h_new
            saved.append(keep)
        ctx.cell = cell
        ctx.saved = saved
        ctx.has_bias = b_rec is not None
        ctx.save_for_backward(w_hh, states)
        return states[1:]

    @staticmethod
    def backward(ctx, d_states):
        cell: Cell = ctx.cell
        w_hh, states = ctx.saved_tensors
        steps = d_states.shape[0]
        rec = w_hh.shape[1]
        w_t = w_hh.transpose(1, 2)
        d_ax_all = d_states.new_empty((steps, *d_states.shape[1:-1], w_hh.shape[2]))
        d_ah_all = None
        dh = torch.zeros_like(d_states[0])
        for t in range(steps - 1, -1, -1):
            dh = dh + d_states[t]
            d_ax, d_ah, d_direct = cell.pointwise_backward(dh, ctx.saved[t], states[t])
            d_ax_all[t] = d_ax
            if d_ah is not d_ax:
                if d_ah_all is None:
                    d_ah_all = torch.empty_like(d_ax_all)
                d_ah_all[t] = d_ah
            d_rec = torch.bmm(d_ah, w_t)
            if rec == dh.shape[-1]:
                dh = d_rec if d_direct is None else d_direct + d_rec
            else:  # only the first `rec` state components feed the matmul (LSTM's h)
                dh = d_direct.clone()
                dh[..., :rec] += d_rec
        ctx.saved = None
        if d_ah_all is None:
            d_ah_all = d_ax_all
        n = w_hh.shape[0]
        h_prev = states[:-1, ..., :rec].transpose(0, 1).reshape(n, -1, rec)
        d_w = torch.bmm(
            h_prev.transpose(1, 2), d_ah_all.transpose(0, 1).reshape(n, -1, w_hh.shape[2])
        )
        d_b = d_ah_all.sum(dim=(0, 2)) if ctx.has_bias else None
        return None, d_ax_all, d_w, d_b, dh, None


def run_recurrence(
    cell: Cell,
    params: dict[str, torch.Tensor],
    ax: torch.Tensor,
    h0: torch.Tensor,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Iterate ``cell`` over pre-projected inputs.

    Args:
        cell: a cell with ``fused = True``.
        params: population parameters ``[N, ...]``.
        ax: input projections, time-major ``[T, N, B, G]``.
        h0: initial states ``[N, B, S]``.
        noise: optional ``[T, N, B, S]`` added to each new state (training noise).

    Returns:
        States after each step, time-major ``[T, N, B, S]``.
    """
    return _Recurrence.apply(
        cell, ax.contiguous(), params["W_hh"], cell.recurrent_bias(params), h0, noise
    )
