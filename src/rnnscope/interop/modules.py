"""Any ``nn.Module`` one-step function as an rnnscope step ``F(h, x)``."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap


class ModuleStep:
    """A user's recurrent module (or a population of them) as a step function.

    The module's ``forward(input, state)`` maps an input ``[B, I]`` and a state — a
    tensor ``[B, S]``, or a tuple of tensors whose widths ``state_spec`` lists (e.g.
    ``(H, H)`` for ``(h, c)``) — to the new state of the same structure. rnnscope sees
    the state as one vector ``[..., S]`` (tuple parts concatenated in order), batched
    over any leading axes; with several modules, the first axis indexes them.

    Jacobians come from autodiff (``rnnscope.dynamics.jacobians``).
    """

    def __init__(self, modules: Sequence[nn.Module], input_size: int, state_spec) -> None:
        self.modules = list(modules)
        self.input_size = int(input_size)
        self.parts = (
            (int(state_spec),) if isinstance(state_spec, int) else tuple(int(s) for s in state_spec)
        )
        self.state_size = sum(self.parts)
        self.tuple_state = not isinstance(state_spec, int)
        self.state_bound = _state_bound(modules[0])
        self.population = len(self.modules) if len(self.modules) > 1 else None
        base = self.modules[0]
        if self.population:
            params, buffers = stack_module_state(self.modules)
            self._stacked = (params, buffers)
            self._base = copy.deepcopy(base).to("meta")
        self._check()

    # ------------------------------------------------------------------ call
    def _split(self, h: torch.Tensor):
        if not self.tuple_state:
            return h
        return tuple(torch.split(h, self.parts, dim=-1))

    def _join(self, out) -> torch.Tensor:
        if self.tuple_state:
            if not isinstance(out, tuple | list) or len(out) != len(self.parts):
                raise ValueError(
                    f"the module returned {type(out).__name__}; with state_spec {self.parts} it must return a "
                    f"tuple of {len(self.parts)} tensors."
                )
            return torch.cat(list(out), dim=-1)
        if isinstance(out, tuple | list):
            raise ValueError(
                "the module returned a tuple: it looks like a sequence module (e.g. nn.GRU returns "
                "(output, h_n)) or one with a tuple state. Pass a one-step module (nn.GRUCell or your "
                "own cell) taking (input [B, I], state [B, S]), or use rnnscope.interop.from_torch for "
                "torch.nn sequence modules; for tuple states give state_spec=(sizes, ...)."
            )
        return out

    def _one(self, module_call, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        lead = h.shape[:-1]
        flat_h = h.reshape(-1, h.shape[-1])
        flat_x = x.expand(*lead, x.shape[-1]).reshape(-1, x.shape[-1])
        out = self._join(module_call(flat_x, self._split(flat_h)))
        return out.reshape(*lead, out.shape[-1])

    def __call__(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.population is None:
            return self._one(self.modules[0], h, x)
        params, buffers = self._stacked
        x = x.expand(*h.shape[:-1], x.shape[-1])

        def per_network(p, b, hn, xn):
            return self._one(lambda xi, si: functional_call(self._base, (p, b), (xi, si)), hn, xn)

        return vmap(per_network)(params, buffers, h, x)

    def to(self, dtype: torch.dtype) -> ModuleStep:
        """The same step with the modules' parameters in ``dtype`` (float64 polishing)."""
        spec = self.parts if self.tuple_state else self.parts[0]
        return ModuleStep([copy.deepcopy(m).to(dtype) for m in self.modules], self.input_size, spec)

    def _check(self) -> None:
        batch = (self.population,) if self.population else ()
        first = next(self.modules[0].parameters(), None)
        dtype = first.dtype if first is not None else torch.get_default_dtype()
        h = torch.zeros(*batch, 2, self.state_size, dtype=dtype)
        x = torch.zeros(*batch, 2, self.input_size, dtype=dtype)
        try:
            with torch.no_grad():
                out = self(h, x)
        except (TypeError, RuntimeError) as err:
            raise ValueError(
                f"calling the module as module(input [B, {self.input_size}], state [B, {self.state_size}]) "
                f"failed: {err}. Its forward must take (input, state) and return the new state."
            ) from None
        if tuple(out.shape) != tuple(h.shape):
            raise ValueError(
                f"the module returned a state of shape {list(out.shape)} for a state of shape {list(h.shape)}; "
                "check input_size and state_spec."
            )

    def __repr__(self) -> str:
        name = type(self.modules[0]).__name__
        pop = f", population={self.population}" if self.population else ""
        return f"ModuleStep({name}, state_size={self.state_size}{pop})"


def _state_bound(module: nn.Module) -> float | None:
    """``|h| ≤ 1`` for torch's GRU and tanh RNN cells (their states are convex
    combinations of tanh outputs); unknown (``None``) for any other module."""
    if isinstance(module, nn.GRUCell):
        return 1.0
    if isinstance(module, nn.RNNCell) and module.nonlinearity == "tanh":
        return 1.0
    return None


def step_from_module(
    module: nn.Module | Sequence[nn.Module], input_size: int, state_spec
) -> ModuleStep:
    """Wrap one module, or a list of modules of one architecture (a population), as a
    step function for ``find_fixed_points``, ``linearize`` and the dynamical objects.

    Args:
        module: ``forward(input, state) -> new state``, or a list of such modules.
        input_size: ``I``.
        state_spec: state width ``S``, or a tuple of widths for a tuple state.
    """
    modules = list(module) if isinstance(module, list | tuple) else [module]
    if not modules or not all(isinstance(m, nn.Module) for m in modules):
        raise TypeError("step_from_module takes an nn.Module or a non-empty list of them.")
    if isinstance(modules[0], nn.RNNBase):
        raise ValueError(
            f"{type(modules[0]).__name__} is a sequence module (it runs over time, with batch_first "
            f"{'True' if modules[0].batch_first else 'False'}); use rnnscope.interop.from_torch for it, "
            "or pass its one-step cell (nn.RNNCell / nn.GRUCell / nn.LSTMCell)."
        )
    return ModuleStep(modules, input_size, state_spec)
