"""Recurrent cells as pure functions over explicit, population-stacked parameters.

Each cell is configuration plus ``init(population, seed) -> params`` and
``step(params, h, x) -> h'`` batched over leading axes.
"""

from __future__ import annotations

from ._base import BoundStep, Cell, Params
from .ctrnn import CTRNN
from .gru import GRU
from .lstm import LSTM
from .ugrnn import UGRNN
from .vanilla import VanillaRNN

#: architecture name -> cell class, as used in grids and configs
ARCHITECTURES: dict[str, type[Cell]] = {
    "vanilla": VanillaRNN,
    "gru": GRU,
    "lstm": LSTM,
    "ugrnn": UGRNN,
    "ctrnn": CTRNN,
}


def make_cell(architecture: str, hidden_size: int, input_size: int, **options) -> Cell:
    """Build a cell by architecture name (``"vanilla"``, ``"gru"``, ``"lstm"``,
    ``"ugrnn"``, ``"ctrnn"``); ``options`` go to its constructor."""
    try:
        cls = ARCHITECTURES[architecture]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown architecture {architecture!r}; choose one of {', '.join(map(repr, ARCHITECTURES))}."
        ) from None
    return cls(hidden_size, input_size, **options)


def from_config(config: dict) -> Cell:
    """Rebuild a cell from :meth:`Cell.config`."""
    config = dict(config)
    return make_cell(
        config.pop("architecture"), config.pop("hidden_size"), config.pop("input_size"), **config
    )


__all__ = [
    "ARCHITECTURES",
    "CTRNN",
    "GRU",
    "LSTM",
    "UGRNN",
    "BoundStep",
    "Cell",
    "Params",
    "VanillaRNN",
    "from_config",
    "make_cell",
]
