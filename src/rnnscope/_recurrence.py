"""A population's time loop with a hand-written backward pass through time.

Autograd through a Python time loop records a dozen small ops per step and replays
them one by one. Here the forward pass runs the cell's matmul and elementwise update
per step and stores only the gate values; the backward pass costs, per step, the
cell's hand-derived elementwise derivative plus one batched matmul for the state
gradient. Weight gradients are accumulated as large matmuls over many time steps
and batch elements at once (``[N, R, C·B] @ [N, C·B, G]``), which run near the
machine's matmul peak.

The input projection ``x W_ih + b`` is one small matmul a step, so its result is used
while it is in cache (hoisting it over a chunk of steps wrote a 16 MB buffer to memory
and read it back); bias gradients are summed per step for the same reason. The
backward pass processes time in chunks of ``C`` steps: the gate-gradient buffers hold
one chunk. This keeps every working buffer small enough (≤ 16 MB) for the C allocator
to recycle it; buffers above glibc's 32 MB mmap threshold are
returned to the OS on free and page-faulted back in on every call, which measured
here as half the training time. On a GPU (whose caching allocator has no such
threshold) a chunk is the whole sequence.

The linear readout ``y = h W_out + b_out`` is part of the same function. A loss on
the outputs alone then never materialises the gradient of the full state sequence
``[N, T, B, S]`` (for an LSTM, ``S = 2H``: twice the size of ``h``): the readout's
gradient enters the state gradient chunk by chunk. Gradients of the returned states
are used too when a loss reads them.

Tested against autograd through ``cell.step`` (values and gradients) in
``tests/test_recurrence.py``.
"""

from __future__ import annotations

import torch

from .cells._base import Cell

#: floats per chunk buffer (16 MB of float32)
_CHUNK_ELEMENTS = 1 << 22


def _chunk_length(device: torch.device, steps: int, per_step: int) -> int:
    if device.type != "cpu":
        return steps
    return max(1, min(steps, _CHUNK_ELEMENTS // max(1, per_step)))


class _Recurrence(torch.autograd.Function):
    # States are population-major, [N, T+1, B, S]: each step reads and writes a
    # strided [N, B, S] slice, and weight gradients read [N, C·B, S] views.

    @staticmethod
    def forward(ctx, cell: Cell, x, shared, w_ih, b, w_hh, b_rec, h0, noise, w_out, b_out):
        # x [T, B, I] (shared) or [N, T, B, I]; w_ih [N, I, G], b [N, G];
        # w_hh [N, R, G], b_rec [N, G] | None; h0 [N, B, S]; noise [N, T, B, S] | None;
        # w_out [N, H, O] | None, b_out [N, O] | None
        ctx.set_materialize_grads(False)
        n, rec, width = w_hh.shape
        steps = x.shape[-3]
        batch = h0.shape[1]
        chunk = _chunk_length(h0.device, steps, n * batch * width)
        states = h0.new_empty((n, steps + 1, *h0.shape[1:]))
        states[:, 0] = h0
        summed = cell.summed_projections and b_rec is None
        bias = None if b_rec is None else b_rec.unsqueeze(1)
        b_in = b.unsqueeze(1)  # [N, 1, G]
        readout = w_out is not None
        hidden = w_out.shape[1] if readout else 0
        outputs = h0.new_empty((n, steps, batch, w_out.shape[2])) if readout else None
        saved = []
        for t in range(steps):
            # the input projection step by step, in cache: a chunk-sized [N, C, B, G]
            # buffer would be written to memory and read back (3 passes of 16 MB a chunk)
            x_t = x[t].expand(n, -1, -1) if shared else x[:, t]
            ax = torch.baddbmm(b_in, x_t, w_ih)
            h = states[:, t]
            h_in = h if rec == h.shape[-1] else h[..., :rec]
            out = states[:, t + 1]
            if summed:  # a_x + h W_hh inside the matmul
                a = torch.baddbmm(ax, h_in, w_hh)
                _, keep = cell.pointwise_forward(a, None, h, out=out)
            else:
                ah = torch.bmm(h_in, w_hh) if bias is None else torch.baddbmm(bias, h_in, w_hh)
                _, keep = cell.pointwise_forward(ax, ah, h, out=out)
            if noise is not None:
                out += noise[:, t]
            saved.append(keep)
        if readout:
            for t0 in range(0, steps, chunk):
                length = min(chunk, steps - t0)
                h_c = states[:, t0 + 1 : t0 + 1 + length, :, :hidden].reshape(n, -1, hidden)
                y = torch.baddbmm(b_out.unsqueeze(1), h_c, w_out)
                outputs[:, t0 : t0 + length] = y.view(n, length, batch, -1)
        ctx.cell, ctx.saved, ctx.shared, ctx.chunk = cell, saved, shared, chunk
        ctx.has_bias, ctx.readout = b_rec is not None, readout
        ctx.save_for_backward(x, w_ih, w_hh, states, w_out)
        return states[:, 1:], outputs

    @staticmethod
    @torch.autograd.function.once_differentiable  # gradients of gradients: use cell.step
    def backward(ctx, d_states, d_outputs):
        cell: Cell = ctx.cell
        x, w_ih, w_hh, states, w_out = ctx.saved_tensors
        # gradient for the inputs (a learned embedding upstream): d_x = d_ax W_ihᵀ per chunk
        d_x = torch.zeros_like(x) if ctx.needs_input_grad[1] else None
        n, rec, width = w_hh.shape
        steps, batch = states.shape[1] - 1, states.shape[2]
        chunk, shared = ctx.chunk, ctx.shared
        w_t = w_hh.transpose(1, 2)
        d_w_ih = w_hh.new_zeros((n, x.shape[-1], width))
        d_b = w_hh.new_zeros((n, width))
        d_w_hh = torch.zeros_like(w_hh)
        d_b_rec = w_hh.new_zeros((n, width)) if ctx.has_bias else None
        use_out = ctx.readout and d_outputs is not None
        hidden = w_out.shape[1] if ctx.readout else 0
        d_w_out = torch.zeros_like(w_out) if use_out else None
        d_b_out = w_out.new_zeros((n, w_out.shape[2])) if use_out else None
        d_ax_c = w_hh.new_empty((n, chunk, batch, width))
        d_ah_c = None if cell.summed_projections else torch.empty_like(d_ax_c)
        dh = states.new_zeros((n, batch, states.shape[-1]))
        for t0 in reversed(range(0, steps, chunk)):
            length = min(chunk, steps - t0)
            if use_out:
                # the readout's share of the state gradient, for the whole chunk at once
                d_y = d_outputs[:, t0 : t0 + length].reshape(n, -1, d_outputs.shape[-1])
                h_c = states[:, t0 + 1 : t0 + 1 + length, :, :hidden].reshape(n, -1, hidden)
                d_w_out.baddbmm_(h_c.transpose(1, 2), d_y)
                d_b_out += d_y.sum(dim=1)
                d_read = torch.bmm(d_y, w_out.transpose(1, 2)).view(n, length, batch, hidden)
            for k in range(length - 1, -1, -1):
                t = t0 + k
                if d_states is not None:
                    dh = dh + d_states[:, t]
                if use_out:
                    if hidden == dh.shape[-1]:
                        dh = dh + d_read[:, k]
                    else:
                        dh[..., :hidden] += d_read[:, k]
                d_ax = d_ax_c[:, k]
                d_ah = d_ax if d_ah_c is None else d_ah_c[:, k]
                d_direct = cell.pointwise_backward(
                    dh, ctx.saved[t], states[:, t], d_ax, None if d_ah_c is None else d_ah
                )
                # bias (and, for inputs shared by all networks, input-weight) gradients
                # while the step's gradients are in cache
                d_b += d_ax.sum(dim=1)
                if shared:
                    d_w_ih.baddbmm_(x[t].t().expand(n, -1, -1), d_ax)
                if d_b_rec is not None:
                    d_b_rec += d_ah.sum(dim=1)
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
            if not shared:
                x_c = x[:, t0 : t0 + length].reshape(n, -1, x.shape[-1])
                d_w_ih.baddbmm_(x_c.transpose(1, 2), d_ax_flat)
            if d_x is not None:
                d_x_c = torch.bmm(d_ax_flat, w_ih.transpose(1, 2))  # [N, C·B, I]
                if shared:
                    d_x[t0 : t0 + length] = d_x_c.sum(0).reshape(length, batch, -1)
                else:
                    d_x[:, t0 : t0 + length] = d_x_c.reshape(n, length, batch, -1)
        return (
            None, d_x, None, d_w_ih, d_b, d_w_hh, d_b_rec, dh, None, d_w_out, d_b_out
        )  # fmt: skip


def run_recurrence(
    cell: Cell,
    params: dict[str, torch.Tensor],
    x: torch.Tensor,
    h0: torch.Tensor,
    noise: torch.Tensor | None = None,
    readout: tuple[torch.Tensor, torch.Tensor] | None = None,
):
    """Iterate ``cell`` over an input sequence with the fused backward pass.

    Args:
        cell: a cell with ``fused = True``.
        params: population parameters ``[N, ...]``.
        x: inputs, time before batch: ``[T, B, I]`` shared by all networks, or
            ``[N, T, B, I]``. Gradients flow back to ``x`` when it requires them
            (a learned embedding feeding the cell).
        h0: initial states ``[N, B, S]``.
        noise: optional ``[N, T, B, S]`` added to each new state (training noise).
        readout: optional ``(W_out [N, H, O], b_out [N, O])``, the linear readout of
            the first ``H`` state components.

    Returns:
        States after each step, ``[N, T, B, S]``; with ``readout``, the pair
        ``(states, outputs [N, T, B, O])``.
    """
    shared = x.dim() == 3
    w_out, b_out = (None, None) if readout is None else readout
    states, outputs = _Recurrence.apply(
        cell,
        x,
        shared,
        params["W_ih"],
        params["b"],
        params["W_hh"],
        cell.recurrent_bias(params),
        h0,
        noise,
        w_out,
        b_out,
    )
    return states if readout is None else (states, outputs)
