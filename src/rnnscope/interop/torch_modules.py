"""``torch.nn`` recurrent modules to rnnscope cells and back.

Supported: ``nn.RNN`` (tanh, relu), ``nn.GRU``, ``nn.LSTM`` with one layer, one
direction and no ``proj_size``, and ``nn.RNNCell``, ``nn.GRUCell``, ``nn.LSTMCell``;
optionally a ``nn.Linear`` readout. The GRU maps to ``GRU(reset="after")`` (PyTorch's
convention); the LSTM's two biases are summed. Weights are transposed into rnnscope's
input-major layout (``W_ih [N, I, G]``).
"""

from __future__ import annotations

import torch
from torch import nn

from ..cells import GRU, LSTM, Cell, VanillaRNN
from ..network import RNN

SUPPORTED = (nn.RNN, nn.GRU, nn.LSTM, nn.RNNCell, nn.GRUCell, nn.LSTMCell)


def _weights(module: nn.Module) -> tuple[torch.Tensor, ...]:
    if isinstance(module, nn.RNNBase):
        problems = []
        if module.num_layers != 1:
            problems.append(f"num_layers={module.num_layers}")
        if module.bidirectional:
            problems.append("bidirectional=True")
        if getattr(module, "proj_size", 0):
            problems.append(f"proj_size={module.proj_size}")
        if problems:
            raise ValueError(
                f"{type(module).__name__} with {', '.join(problems)} is not supported yet: rnnscope "
                "analyses one recurrent layer in one direction (import a single-layer module, or each "
                "layer's cell separately)."
            )
        names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    else:
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    out = []
    for name in names:
        value = getattr(module, name, None)
        if value is None:
            if name.startswith("bias"):
                raise ValueError(
                    f"{type(module).__name__}(bias=False) is not supported: rnnscope cells have biases."
                )
            raise ValueError(f"{type(module).__name__} has no {name}.")
        out.append(value.detach().clone())
    return tuple(out)


def from_torch(
    module: nn.Module, readout: nn.Linear | None = None
) -> tuple[RNN, dict[str, torch.Tensor]]:
    """An rnnscope network and parameters ``[1, ...]`` equal to a ``torch.nn`` module.

    Args:
        module: one of :data:`SUPPORTED` (single layer, unidirectional).
        readout: an ``nn.Linear`` from hidden state to outputs (default: an identity-free
            zero readout of width 1, since rnnscope networks always have one).

    Returns:
        ``(RNN, params)``; ``net.run(params, x)`` reproduces the module's hidden states.
        Note ``batch_first``: rnnscope inputs are ``[B, T, I]`` regardless.
    """
    if not isinstance(module, SUPPORTED):
        raise TypeError(
            f"from_torch takes {', '.join(t.__name__ for t in SUPPORTED)}; got {type(module).__name__}. "
            "For any other module use rnnscope.interop.step_from_module."
        )
    w_ih, w_hh, b_ih, b_hh = _weights(module)
    hidden, inputs = w_hh.shape[1], w_ih.shape[1]
    if isinstance(module, nn.RNN | nn.RNNCell):
        activation = module.nonlinearity
        cell: Cell = VanillaRNN(hidden, inputs, activation=activation)
        params = {"W_ih": w_ih.T, "W_hh": w_hh.T, "b": b_ih + b_hh}
    elif isinstance(module, nn.GRU | nn.GRUCell):
        cell = GRU(hidden, inputs, reset="after")
        params = {"W_ih": w_ih.T, "W_hh": w_hh.T, "b": b_ih, "b_hh": b_hh}
    else:
        cell = LSTM(hidden, inputs, forget_bias=0.0)
        params = {"W_ih": w_ih.T, "W_hh": w_hh.T, "b": b_ih + b_hh}
    if readout is not None:
        if not isinstance(readout, nn.Linear) or readout.in_features != hidden:
            raise ValueError(
                f"readout must be an nn.Linear with in_features={hidden}, got {readout!r}."
            )
        w_out = readout.weight.detach().T
        b_out = (
            readout.bias.detach() if readout.bias is not None else torch.zeros(readout.out_features)
        )
    else:
        w_out, b_out = torch.zeros(hidden, 1), torch.zeros(1)
    net = RNN(cell, w_out.shape[1])
    params.update(W_out=w_out, b_out=b_out)
    params = {k: v.contiguous().unsqueeze(0).to(torch.float32) for k, v in params.items()}
    net.check_params(params)
    return net, params


def to_torch(
    net: RNN, params: dict[str, torch.Tensor], index: int = 0
) -> tuple[nn.Module, nn.Linear]:
    """The ``torch.nn`` module (and readout) equal to network ``index`` of a population.

    ``VanillaRNN`` → ``nn.RNN``; ``GRU(reset="after")`` → ``nn.GRU``; ``LSTM`` →
    ``nn.LSTM`` (bias all in ``bias_ih``). Modules are ``batch_first=True``.
    """
    cell = net.cell
    p = {k: v[index].detach() for k, v in params.items()}
    if type(cell) is VanillaRNN:
        module: nn.Module = nn.RNN(
            cell.input_size, cell.hidden_size, nonlinearity=cell.activation, batch_first=True
        )
        biases = (p["b"], torch.zeros_like(p["b"]))
    elif isinstance(cell, GRU) and cell.reset == "after":
        module = nn.GRU(cell.input_size, cell.hidden_size, batch_first=True)
        biases = (p["b"], p["b_hh"])
    elif isinstance(cell, LSTM):
        module = nn.LSTM(cell.input_size, cell.hidden_size, batch_first=True)
        biases = (p["b"], torch.zeros_like(p["b"]))
    else:
        raise ValueError(
            f"{cell!r} has no torch.nn equivalent (torch has no UGRNN, CTRNN or reset-before GRU)."
        )
    with torch.no_grad():
        module.weight_ih_l0.copy_(p["W_ih"].T)
        module.weight_hh_l0.copy_(p["W_hh"].T)
        module.bias_ih_l0.copy_(biases[0])
        module.bias_hh_l0.copy_(biases[1])
    readout = nn.Linear(cell.hidden_size, net.output_size)
    with torch.no_grad():
        readout.weight.copy_(p["W_out"].T)
        readout.bias.copy_(p["b_out"])
    return module, readout
