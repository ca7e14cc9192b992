"""A population's time loop with a hand-written backward pass through time.

Autograd through a Python time loop records a dozen small ops per step and replays
them one by one. Here the forward pass runs the cell's matmul and elementwise update
per step and stores only the gate values; the backward pass costs, per step, the
cell's hand-derived elementwise derivative plus one batched matmul for the state
gradient. Weight gradients are accumulated as large matmuls over many time steps
and batch elements at once (``[N, R, C·B] @ [N, C·B, G]``), which run near the
machine's matmul peak.

Time is processed in chunks of ``C`` steps: the input projection ``x W_ih + b`` is
computed one chunk at a time (hoisted out of the step loop), and the gate-gradient
buffers hold one chunk. This keeps every working buffer small enough (≤ 16 MB) for
the C allocator to recycle it; buffers above glibc's 32 MB mmap threshold are
returned to the OS on free and page-faulted back in on every call, which measured
here as half the training time.

Tested against autograd through ``cell.step`` (values and gradients) in
``tests/test_recurrence.py``.
"""

from __future__ import annotations

import torch

from .cells._base import Cell

#: floats per chunk buffer (16 MB of float32)
_CHUNK_ELEMENTS = 1 << 22


class _Recurrence(torch.autograd.Function):
    # States are population-major, [N, T+1, B, S]: each step reads and writes a
    # strided [N, B, S] slice, and weight gradients read [N, C·B, S] views.

    @staticmethod
    def forward(ctx, cell: Cell, x, shared, w_ih, b, w_hh, b_rec, h0, noise):
        # x [T, B, I] (shared) or [N, T, B, I]; w_ih [N, I, G], b [N, G];
        # w_hh [N, R, G], b_rec [N, G] | None; h0 [N, B, S]; noise [N, T, B, S] | None
        n, rec, width = w_hh.shape
        steps = x.shape[-3]
        batch = h0.shape[1]
        chunk = max(1, min(steps, _CHUNK_ELEMENTS // max(1, n * batch * width)))
        states = h0.new_empty((n, steps + 1, *h0.shape[1:]))
        states[:, 0] = h0
        proj = {"W_ih": w_ih, "b": b}
        bias = None if b_rec is None else b_rec.unsqueeze(1)
        saved = []
        for t0 in range(0, steps, chunk):
            x_c = x[t0 : t0 + chunk] if shared else x[:, t0 : t0 + chunk]
            ax = cell.input_projection(proj, x_c, shared=shared)  # [N, C, B, G]
            for k in range(ax.shape[1]):
                t = t0 + k
                h = states[:, t]
                h_in = h if rec == h.shape[-1] else h[..., :rec]
                ah = torch.bmm(h_in, w_hh) if bias is None else torch.baddbmm(bias, h_in, w_hh)
                h_new, keep = cell.pointwise_forward(ax[:, k], ah, h)
                if noise is not None:
                    h_new = h_new + noise[:, t]
                states[:, t + 1] = h_new
                saved.append(keep)
        ctx.cell, ctx.saved, ctx.shared, ctx.chunk = cell, saved, shared, chunk
        ctx.has_bias = b_rec is not None
        ctx.save_for_backward(x, w_ih, w_hh, states)
        return states[:, 1:]

    @staticmethod
    @torch.autograd.function.once_differentiable  # gradients of gradients: use cell.step
    def backward(ctx, d_states):
        cell: Cell = ctx.cell
        x, w_ih, w_hh, states = ctx.saved_tensors
        # gradient for the inputs (a learned embedding upstream): d_x = d_ax W_ihᵀ per chunk
        d_x = torch.zeros_like(x) if ctx.needs_input_grad[1] else None
        n, rec, width = w_hh.shape
        steps, batch, chunk, shared = d_states.shape[1], d_states.shape[2], ctx.chunk, ctx.shared
        w_t = w_hh.transpose(1, 2)
        d_w_ih = w_hh.new_zeros((n, x.shape[-1], width))
        d_b = w_hh.new_zeros((n, width))
        d_w_hh = torch.zeros_like(w_hh)
        d_b_rec = w_hh.new_zeros((n, width)) if ctx.has_bias else None
        d_ax_c = w_hh.new_empty((n, chunk, batch, width))
        d_ah_c = None if cell.summed_projections else torch.empty_like(d_ax_c)
        dh = torch.zeros_like(d_states[:, 0])
        for t0 in reversed(range(0, steps, chunk)):
            length = min(chunk, steps - t0)
            for k in range(length - 1, -1, -1):
                t = t0 + k
                dh = dh + d_states[:, t]
                d_ax = d_ax_c[:, k]
                d_ah = d_ax if d_ah_c is None else d_ah_c[:, k]
                d_direct = cell.pointwise_backward(
                    dh, ctx.saved[t], states[:, t], d_ax, None if d_ah_c is None else d_ah
                )
                d_rec = torch.bmm(d_ah, w_t)
                if rec == dh.shape[-1]:
                    dh = d_rec if d_direct is None else d_direct.add_(d_rec)
                else:  # only the first `rec` state components feed the matmul (LSTM's h)
                    dh = d_direct
                    dh[..., :rec] += d_rec
            # weight gradients for this chunk: large matmuls over C·B rows
            d_ax_flat = d_ax_c[:, :length].reshape(n, -1, width)
            d_ah_flat = d_ax_flat if d_ah_c is None else d_ah_c[:, :length].reshape(n, -1, width)
            h_prev = states[:, t0 : t0 + length, :, :rec].reshape(n, -1, rec)
            d_w_hh.baddbmm_(h_prev.transpose(1, 2), d_ah_flat)
            if shared:
                x_c = x[t0 : t0 + length].reshape(-1, x.shape[-1])
                d_w_ih += torch.matmul(x_c.t(), d_ax_flat)
            else:
                x_c = x[:, t0 : t0 + length].reshape(n, -1, x.shape[-1])
                d_w_ih.baddbmm_(x_c.transpose(1, 2), d_ax_flat)
            d_b += d_ax_flat.sum(dim=1)
            if d_x is not None:
                d_x_c = torch.bmm(d_ax_flat, w_ih.transpose(1, 2))  # [N, C·B, I]
                if shared:
                    d_x[t0 : t0 + length] = d_x_c.sum(0).reshape(length, batch, -1)
                else:
                    d_x[:, t0 : t0 + length] = d_x_c.reshape(n, length, batch, -1)
            if d_b_rec is not None:
                d_b_rec += d_ah_flat.sum(dim=1)
        return None, d_x, None, d_w_ih, d_b, d_w_hh, d_b_rec, dh, None


def run_recurrence(
    cell: Cell,
    params: dict[str, torch.Tensor],
    x: torch.Tensor,
    h0: torch.Tensor,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Iterate ``cell`` over an input sequence with the fused backward pass.

    Args:
        cell: a cell with ``fused = True``.
        params: population parameters ``[N, ...]``.
        x: inputs, time before batch: ``[T, B, I]`` shared by all networks, or
            ``[N, T, B, I]``. Gradients flow back to ``x`` when it requires them
            (a learned embedding feeding the cell).
        h0: initial states ``[N, B, S]``.
        noise: optional ``[N, T, B, S]`` added to each new state (training noise).

    Returns:
        States after each step, ``[N, T, B, S]``.
    """
    shared = x.dim() == 3
    return _Recurrence.apply(
        cell,
        x,
        shared,
        params["W_ih"],
        params["b"],
        params["W_hh"],
        cell.recurrent_bias(params),
        h0,
        noise,
    )
