"""A recurrent network: a cell, a linear readout and an initial state."""

from __future__ import annotations

import math

import torch

from ._recurrence import run_recurrence
from ._validation import as_float_tensor, check_positive_int
from .cells._base import Cell, Params, _batched_matmul, _seed_list


class RNN:
    """Cell + linear readout ``y = h W_out + b_out`` (+ learnable initial state).

    The readout reads the first ``H`` state components (``h``; for the LSTM, not
    ``c``).

    Args:
        cell: any :class:`rnnscope.cells.Cell`.
        output_size: readout channels ``O``.
        learn_initial_state: if true, ``h0 [N, S]`` is a parameter (initialised at
            zero); otherwise every trial starts at zero.

    Parameters added to the cell's: ``W_out [N, H, O]``, ``b_out [N, O]``, and
    ``h0 [N, S]`` when learnable.
    """

    def __init__(self, cell: Cell, output_size: int, *, learn_initial_state: bool = False) -> None:
        if not isinstance(cell, Cell):
            raise TypeError(f"cell must be an rnnscope cell, got {type(cell).__name__}.")
        self.cell = cell
        self.output_size = check_positive_int("output_size", output_size)
        self.learn_initial_state = bool(learn_initial_state)

    def __repr__(self) -> str:
        return f"RNN({self.cell!r}, output_size={self.output_size}, learn_initial_state={self.learn_initial_state})"

    @property
    def hidden_size(self) -> int:
        return self.cell.hidden_size

    @property
    def state_size(self) -> int:
        return self.cell.state_size

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = dict(self.cell.param_shapes())
        shapes["W_out"] = (self.hidden_size, self.output_size)
        shapes["b_out"] = (self.output_size,)
        if self.learn_initial_state:
            shapes["h0"] = (self.state_size,)
        return shapes

    def init(
        self,
        population: int = 1,
        seed: int | list[int] | tuple[int, ...] = 0,
        dtype: torch.dtype = torch.float32,
    ) -> Params:
        """Parameters for ``population`` networks (tensors ``[N, ...]``); network ``n``
        draws from its own seed, see :meth:`Cell.init`. Readout ~ U(±1/sqrt(H))."""
        n = check_positive_int("population", population)
        seeds = _seed_list(seed, n)
        params = self.cell.init(n, seeds, dtype)
        bound = 1.0 / math.sqrt(self.hidden_size)
        outs = []
        for s in seeds:
            # offset so the readout draw differs from the cell's stream of the same seed
            gen = torch.Generator().manual_seed(s + 7_919_000_001)
            w = (
                torch.rand(self.hidden_size, self.output_size, generator=gen, dtype=dtype) * 2 - 1
            ) * bound
            b = (torch.rand(self.output_size, generator=gen, dtype=dtype) * 2 - 1) * bound
            outs.append((w, b))
        params["W_out"] = torch.stack([w for w, _ in outs])
        params["b_out"] = torch.stack([b for _, b in outs])
        if self.learn_initial_state:
            params["h0"] = torch.zeros(n, self.state_size, dtype=dtype)
        return params

    def check_params(self, params: Params) -> int:
        """Validate ``params``; return the population size ``N``."""
        n = self.cell.check_params(params)
        for key, shape in self.param_shapes().items():
            if key not in params:
                raise KeyError(f"params lack {key!r}; build them with RNN.init(population, seed).")
            got = tuple(params[key].shape)
            if got != (n, *shape):
                raise ValueError(f"params[{key!r}] has shape {list(got)}, expected {[n, *shape]}.")
        return n

    def initial_state(self, params: Params, batch_size: int) -> torch.Tensor:
        """Initial states ``[N, B, S]``."""
        n = params["W_hh"].shape[0]
        if self.learn_initial_state:
            return params["h0"].unsqueeze(1).expand(n, batch_size, self.state_size)
        return params["W_hh"].new_zeros(n, batch_size, self.state_size)

    def readout(self, params: Params, states: torch.Tensor) -> torch.Tensor:
        """``states [N, *batch, S] -> outputs [N, *batch, O]``."""
        h = states[..., : self.hidden_size]
        return _batched_matmul(h, params["W_out"]) + params["b_out"].reshape(
            params["b_out"].shape[0], *([1] * (h.dim() - 2)), self.output_size
        )

    def run(
        self,
        params: Params,
        inputs: torch.Tensor,
        h0: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
        *,
        fused: bool | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run every network of the population over a batch of input sequences.

        Runs on the parameters' device: ``inputs``, ``h0`` and ``noise`` (tensors or
        arrays) are moved there, and the results stay there.

        Args:
            params: population parameters ``[N, ...]``.
            inputs: ``[N, B, T, I]`` (per network) or ``[B, T, I]`` (shared).
            h0: initial states ``[N, B, S]`` (default: the network's own).
            noise: optional ``[N, B, T, S]`` added to the state after each step
                (Gaussian state noise during training).
            fused: use the hand-written backward pass (``rnnscope._recurrence``;
                default where the cell has one, on any device) or, with ``False``,
                autograd through :meth:`Cell.step` (the same values and gradients).

        Returns:
            ``states [N, B, T, S]`` (the state after each step) and
            ``outputs [N, B, T, O]``, on the parameters' device.
        """
        x, h0, noise = self._checked(params, inputs, h0, noise)
        if fused and not self.cell.fused:
            raise ValueError(f"{self.cell!r} has no fused backward pass; use fused=None or False.")
        fused = self.cell.fused if fused is None else bool(fused)
        states, outputs = self._run(params, x, h0, noise, fused)  # [N, T, B, S], [N, T, B, O]
        return states.transpose(1, 2), outputs.transpose(1, 2)

    def hidden_and_outputs(
        self,
        params: Params,
        inputs: torch.Tensor,
        noise: torch.Tensor | None = None,
        *,
        fused: bool | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """What a training loss reads: ``h [N, B, T, H]`` (the state without an LSTM's
        ``c``) and ``outputs [N, B, T, O]``; arguments as in :meth:`run`.

        Equal to ``run`` (to float rounding) and as fast or faster: an LSTM on the CPU
        without state noise runs through torch's own fused LSTM kernel (oneDNN, the
        one ``torch.nn.LSTM`` uses) one network at a time, since that kernel's fused
        elementwise work beats the batched population loop on a CPU; everything
        else takes the population's fused pass. ``fused=False``: autograd through
        :meth:`Cell.step` for every cell, as in :meth:`run`.
        """
        x, h0, noise = self._checked(params, inputs, None, noise)
        if fused is not False and _vendor_lstm(self.cell, x, noise):
            h = _lstm_kernel(self.cell, params, x, h0)  # [N, B, T, H]
            return h, self.readout(params, h)
        fused = self.cell.fused and fused is not False
        states, outputs = self._run(params, x, h0, noise, fused)
        return states[..., : self.hidden_size].transpose(1, 2), outputs.transpose(1, 2)

    def _checked(self, params, inputs, h0, noise):
        n = self.check_params(params)
        device = params["W_hh"].device
        x = as_float_tensor("inputs", inputs, params["W_hh"].dtype).to(device)
        if x.dim() not in (3, 4) or x.shape[-1] != self.cell.input_size:
            raise ValueError(
                f"inputs must be [B, T, {self.cell.input_size}] or [N, B, T, {self.cell.input_size}], "
                f"got shape {list(x.shape)}."
            )
        if x.dim() == 4 and x.shape[0] != n:
            raise ValueError(f"inputs have {x.shape[0]} networks on axis 0 but params have {n}.")
        batch, steps = x.shape[-3], x.shape[-2]
        if h0 is None:
            h0 = self.initial_state(params, batch)
        elif tuple(h0.shape) != (n, batch, self.state_size):
            raise ValueError(
                f"h0 must have shape {[n, batch, self.state_size]}, got {list(h0.shape)}."
            )
        else:
            h0 = h0.to(device)
        if noise is not None and tuple(noise.shape) != (n, batch, steps, self.state_size):
            raise ValueError(
                f"noise must have shape {[n, batch, steps, self.state_size]}, got {list(noise.shape)}."
            )
        if noise is not None:
            noise = noise.to(device)
        return x, h0, noise

    def _run(self, params, x, h0, noise, fused):
        cell = self.cell
        # [N, T, B, ...] inside: each step reads one [N, B, ...] slice
        x_t = x.transpose(-3, -2)  # [(N,) T, B, I]
        noise_t = None if noise is None else noise.transpose(1, 2)
        if fused:  # the readout is part of the fused pass (see _recurrence)
            readout = (params["W_out"], params["b_out"])
            return run_recurrence(cell, params, x_t, h0, noise_t, readout=readout)
        states = self._autograd_states(params, x, x_t, h0, noise_t)
        return states, self.readout(params, states)

    def _autograd_states(self, params, x, x_t, h0, noise_t):
        cell = self.cell
        # generic path: autograd through the cell's own step (iterate with unbind,
        # which avoids a full-size zero-filled gradient per indexed step)
        xs = x_t.unbind(0) if x.dim() == 3 else x_t.unbind(1)
        noises = (None,) * len(xs) if noise_t is None else noise_t.unbind(1)
        h, out = h0, []
        for x_step, e_step in zip(xs, noises, strict=True):
            h = cell.step(params, h, x_step)
            if e_step is not None:
                h = h + e_step
            out.append(h)
        return torch.stack(out, dim=1)


def _vendor_lstm(cell: Cell, x: torch.Tensor, noise) -> bool:
    """Whether torch's fused LSTM kernel can and should run this (see
    :meth:`RNN.hidden_and_outputs`): an LSTM, on the CPU, float32, no state noise."""
    return (
        cell.name == "lstm"
        and noise is None
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and torch.backends.mkldnn.is_available()
    )


def _lstm_kernel(cell: Cell, params: Params, x: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """``h [N, B, T, H]`` from ``torch.lstm`` (the kernel behind ``torch.nn.LSTM``),
    one network at a time; autograd reaches the population's tensors through ``unbind``."""
    size = cell.hidden_size
    n, batch = h0.shape[0], h0.shape[1]
    xs = x.unbind(0) if x.dim() == 4 else (x,) * n
    w_ih, w_hh, b = params["W_ih"].unbind(0), params["W_hh"].unbind(0), params["b"].unbind(0)
    h_init, c_init = h0[..., :size].unbind(0), h0[..., size:].unbind(0)
    zero_bias = b[0].new_zeros(b[0].shape)  # torch's b_hh; ours is folded into b
    out = []
    for i in range(n):
        hx = (h_init[i].reshape(1, batch, size), c_init[i].reshape(1, batch, size))
        weights = [w_ih[i].t(), w_hh[i].t(), b[i], zero_bias]
        y, _, _ = torch.lstm(xs[i], hx, weights, True, 1, 0.0, True, False, True)
        out.append(y)
    return torch.stack(out)


class TextRNN:
    """Embedding → cell → linear readout of the final state: a population of text
    classifiers.

    Each network has its own embedding ``E [N, V, D]`` (``D`` is the cell's input
    size). A text of ``L`` tokens is read one token per step; the readout is applied to
    the state after the ``L``-th token, giving one logit per output (``O = 1``: binary
    sentiment, positive when the logit is above 0).

    Args:
        cell: any :class:`rnnscope.cells.Cell`; its ``input_size`` is the embedding size.
        vocab_size: token ids run over ``0 … V−1`` (0 is padding).
        output_size: logits per text (default 1).
        embedding_scale: standard deviation of the initial embeddings (default 0.05,
            about Keras's default; ``torch.nn.Embedding`` draws N(0, 1)). Small initial
            embeddings leave every word without effect until training amplifies the
            ones that matter; with N(0, 1) each word kicks the state its own way and an
            IMDB GRU's hidden states spread over ~35 principal components instead of 3.

    Parameters: the cell's, ``W_out [N, H, O]``, ``b_out [N, O]`` and
    ``embedding [N, V, D]``.
    """

    def __init__(
        self, cell: Cell, vocab_size: int, output_size: int = 1, *, embedding_scale: float = 0.05
    ) -> None:
        self.rnn = RNN(cell, output_size)
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        if not embedding_scale > 0:
            raise ValueError(f"embedding_scale must be positive, got {embedding_scale!r}.")
        self.embedding_scale = float(embedding_scale)

    def __repr__(self) -> str:
        return (
            f"TextRNN({self.cell!r}, vocab_size={self.vocab_size}, output_size={self.output_size})"
        )

    @property
    def cell(self) -> Cell:
        return self.rnn.cell

    @property
    def output_size(self) -> int:
        return self.rnn.output_size

    @property
    def hidden_size(self) -> int:
        return self.rnn.hidden_size

    @property
    def state_size(self) -> int:
        return self.rnn.state_size

    @property
    def embedding_size(self) -> int:
        return self.cell.input_size

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = self.rnn.param_shapes()
        shapes["embedding"] = (self.vocab_size, self.embedding_size)
        return shapes

    def init(
        self,
        population: int = 1,
        seed: int | list[int] | tuple[int, ...] = 0,
        dtype: torch.dtype = torch.float32,
    ) -> Params:
        """Parameters ``[N, ...]``; embeddings ~ N(0, ``embedding_scale``²), each
        network from its own seed."""
        n = check_positive_int("population", population)
        params = self.rnn.init(n, seed, dtype)
        tables = []
        for s in _seed_list(seed, n):
            gen = torch.Generator().manual_seed(s + 5_003_000_017)
            tables.append(
                torch.randn(self.vocab_size, self.embedding_size, generator=gen, dtype=dtype)
                * self.embedding_scale
            )
        params["embedding"] = torch.stack(tables)
        return params

    def check_params(self, params: Params) -> int:
        """Validate ``params``; return the population size ``N``."""
        if "embedding" not in params:
            raise KeyError(
                "params lack 'embedding'; build them with TextRNN.init(population, seed)."
            )
        n = self.rnn.check_params(params)
        got = tuple(params["embedding"].shape)
        if got != (n, self.vocab_size, self.embedding_size):
            raise ValueError(
                f"params['embedding'] has shape {list(got)}, expected "
                f"{[n, self.vocab_size, self.embedding_size]}."
            )
        return n

    def embed(self, params: Params, tokens: torch.Tensor) -> torch.Tensor:
        """Token ids ``[B, T]`` -> inputs ``[N, B, T, D]`` (each network's own embedding)."""
        table = params["embedding"]
        n = table.shape[0]
        tokens = torch.as_tensor(tokens, device=table.device)
        if tokens.dtype not in (torch.int64, torch.int32) or tokens.dim() != 2:
            raise ValueError(
                f"tokens must be integer ids [B, T], got {tokens.dtype} of shape {list(tokens.shape)}."
            )
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.vocab_size):
            raise ValueError(
                f"token ids must lie in [0, {self.vocab_size}); got {int(tokens.min())}…"
                f"{int(tokens.max())}. Encode texts with the vocabulary the network was built for."
            )
        offsets = (torch.arange(n, device=table.device) * self.vocab_size).view(n, 1, 1)
        flat = table.reshape(n * self.vocab_size, self.embedding_size)
        return torch.nn.functional.embedding(tokens.long().unsqueeze(0) + offsets, flat)

    def run(
        self, params: Params, tokens: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Read a batch of texts, on the parameters' device (``tokens`` and ``lengths``
        are moved there).

        Args:
            params: population parameters ``[N, ...]``.
            tokens: ids ``[B, T]``, padded after each text's end.
            lengths: ``[B]`` tokens per text (default ``T`` for all).

        Returns:
            ``states [N, B, T, S]`` (after each token) and ``logits [N, B, O]`` read from
            the state after each text's last token.
        """
        self.check_params(params)
        x = self.embed(params, tokens)
        states, _ = self.rnn.run(params, x)
        final = self.final_states(states, lengths)
        return states, self.rnn.readout(params, final)

    def final_states(self, states: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        """``states [N, B, T, S]`` -> the state after each text's last token ``[N, B, S]``."""
        steps = states.shape[2]
        if lengths is None:
            return states[:, :, -1]
        lengths = torch.as_tensor(lengths, device=states.device)
        if (
            lengths.shape != (states.shape[1],)
            or int(lengths.min()) < 1
            or int(lengths.max()) > steps
        ):
            raise ValueError(
                f"lengths must be [{states.shape[1]}] integers in 1…{steps}, got {lengths.tolist()[:8]}…"
            )
        index = (
            (lengths.long() - 1).view(1, -1, 1, 1).expand(states.shape[0], -1, 1, states.shape[-1])
        )
        return states.gather(2, index).squeeze(2)

    def logits(
        self, params: Params, tokens: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``[N, B, O]``: see :meth:`run` (computed without the full state sequence)."""
        self.check_params(params)
        h, _ = self.rnn.hidden_and_outputs(params, self.embed(params, tokens))
        return self.rnn.readout(params, self.final_states(h, lengths))

    def step_function(self, params: Params):
        """The cell's step ``F(h, x)`` bound to the cell's parameters (``x`` is an
        embedding vector), for :mod:`rnnscope.dynamics`."""
        return self.cell.bind({k: params[k] for k in self.cell.param_shapes()})

    def readout_vectors(self, params: Params) -> torch.Tensor:
        """The readout in state coordinates, ``[N, S, O]`` (zero on an LSTM's ``c``)."""
        w = params["W_out"]
        out = w.new_zeros(w.shape[0], self.state_size, self.output_size)
        out[:, : self.hidden_size] = w
        return out
